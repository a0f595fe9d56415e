/**
 * The shipped Node-RED example (workflows/node-red/continuity-basics.json, read from the file) and the
 * `npm start` demo flow, run inside Node-RED 5 and driven over HTTP with the story: the same person on
 * web chat, then email, then the phone line.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { FlowNode, collect, helper, loadFlow, tempDir, unloadFlow } from '../support/node-red-helper';
import { startProvider } from '../support/provider-server';
import { offCanvas, overlaps } from '../support/flow-layout';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const demo = require('../../scripts/demo.js') as { demoFlow(): FlowNode[]; storyCurls(base: string, path: string): string[] };

const EXAMPLE_FILE = join(__dirname, '..', '..', 'workflows', 'node-red', 'continuity-basics.json');

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  // The example's store has no file set: it lives in the user dir, here a temp folder.
  helper.settings({ userDir: dir });
});
afterEach(async () => {
  await unloadFlow();
  helper.settings({});
  cleanup();
});

/** The three deliveries of the story, exactly as `npm start` prints them in its curl commands. */
const story = (): { channel: string; text: string }[] =>
  demo.storyCurls('http://127.0.0.1:1880', '/omnithread/continuity').map((curl) => JSON.parse(/-d '(.*)'$/s.exec(curl)![1]));

interface TimelineEvent {
  kind: string;
  channel: string;
  text: string;
  contactId: string;
  occurredAt: string;
}

describe('workflows/node-red/continuity-basics.json', () => {
  const example = JSON.parse(readFileSync(EXAMPLE_FILE, 'utf8')) as FlowNode[];

  test('is an editor export: an array that starts with a comment and uses only our nodes and core nodes', () => {
    expect(Array.isArray(example)).toBe(true);
    expect(example[0].type).toBe('comment');
    const core = ['comment', 'http response', 'catch', 'change'];
    for (const node of example) expect(node.type.startsWith('omnithread-') || core.includes(node.type)).toBe(true);
    expect(example.find((n) => n.type === 'omnithread-in')).toMatchObject({ path: '/omnithread/continuity', respond: 'flow', channel: 'generic' });
    expect(example.find((n) => n.type === 'omnithread-store')).toMatchObject({ storeType: 'sqlite', sqlitePath: '' });
  });

  test('a POST per channel answers with the one cross-channel timeline; the last has all three messages', async () => {
    const tab = { id: String(example.find((n) => n.z)!.z), type: 'tab' };
    const app = await loadFlow([tab, ...example]);
    const replies = [];
    for (const body of story()) {
      const res = await request(app).post('/omnithread/continuity').set('content-type', 'application/json').send(body);
      expect(res.status).toBe(200);
      replies.push(res.body);
    }
    // Each reply is the timeline so far.
    expect(replies.map((r) => r.events.filter((e: TimelineEvent) => e.kind === 'message').length)).toEqual([1, 2, 3]);

    const last = replies[2];
    const contactId = last.contact.id;
    expect(replies.every((r) => r.contact.id === contactId)).toBe(true);
    expect(last.contact.name).toBe('Maya Lindqvist');
    expect(last.contact.identities.map((i: { kind: string }) => i.kind).sort()).toEqual(['email', 'phone', 'webchat_visitor']);
    expect(last.conversations).toHaveLength(1);
    expect(last.conversations[0].channels).toEqual(['webchat', 'email', 'voice']);
    const messages = (last.events as TimelineEvent[]).filter((e) => e.kind === 'message');
    expect(messages.map((e) => [e.channel, e.text])).toEqual(story().map((m) => [m.channel, m.text]));
    expect(last.events.every((e: TimelineEvent) => e.contactId === contactId)).toBe(true);
    const times = (last.events as TimelineEvent[]).map((e) => e.occurredAt);
    expect([...times].sort()).toEqual(times);
    expect(last.nextCursor).toBeNull();
    expect(existsSync(join(dir, 'omnithread', 'omnithread.db'))).toBe(true);

    // Sending one again is a redelivery: answered by the webhook node, nothing recorded twice.
    const again = await request(app).post('/omnithread/continuity').set('content-type', 'application/json').send(story()[0]);
    expect(again.body).toEqual({ received: 1, recorded: 0, duplicates: 1 });
  });

  test('an error in the flow is answered 500 by the example\'s Catch branch', async () => {
    const tab = { id: String(example.find((n) => n.z)!.z), type: 'tab' };
    // Break the timeline step (an invalid filter) to see the error branch answer the request.
    const broken = example.map((n) => (n.type === 'omnithread-timeline' ? { ...n, since: 'last tuesday' } : n));
    const app = await loadFlow([tab, ...broken]);
    const res = await request(app).post('/omnithread/continuity').set('content-type', 'application/json').send(story()[0]);
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ code: 'INVALID_INPUT', error: expect.stringMatching(/since/) });
  });
});

describe('the npm start demo flow', () => {
  test('plays the printed story: the last reply is one contact and one chronological timeline of three messages', async () => {
    const app = await loadFlow(demo.demoFlow());
    let text = '';
    for (const body of story()) {
      const res = await request(app).post('/omnithread/continuity').set('content-type', 'application/json').send(body);
      expect(res.status).toBe(200);
      text = res.text;
    }
    const summary = JSON.parse(text);
    expect(summary.contact.name).toBe('Maya Lindqvist');
    expect(summary.contact.identities).toEqual(expect.arrayContaining([expect.stringMatching(/^phone \+447911123456/), expect.stringMatching(/^email maya\.lindqvist@fastmail\.fm/)]));
    expect(summary.conversations).toBe(1);
    expect(summary.recognised).toMatch(/Matched .* by email/);
    const messages = (summary.timeline as string[]).filter((line) => !line.includes('(channel_switch'));
    expect(messages.map((line) => line.split(/\s+/)[2])).toEqual(['webchat', 'email', 'voice']);
    expect(summary.timeline).toHaveLength(5); // three messages and two channel switches
  });

  test('every request is answered, also for a person whose timeline holds a merge (an event without a channel)', async () => {
    const app = await loadFlow(demo.demoFlow());
    const post = (body: Record<string, unknown>) => request(app).post('/omnithread/continuity').set('content-type', 'application/json').send(body);
    expect((await post({ messageId: 'm-a', channel: 'webchat', from: { email: 'ola@fastmail.fm' }, text: 'by mail' })).status).toBe(200);
    expect((await post({ messageId: 'm-b', channel: 'sms', from: { phone: '+447700900555' }, text: 'by phone' })).status).toBe(200);
    // Both values at once, each verified by its channel: the two contacts merge.
    const merged = await post({ messageId: 'm-c', channel: 'webchat', from: { email: 'ola@fastmail.fm', phone: '+447700900555' }, text: 'both' });
    expect(merged.status).toBe(200);
    const summary = JSON.parse(merged.text);
    expect(summary.timeline.some((line: string) => /\(merge/.test(line))).toBe(true);
  });
});

describe('layout in the editor', () => {
  const EXAMPLES = join(__dirname, '..', '..', 'workflows', 'node-red');
  const flows: [string, FlowNode[]][] = [
    ['the npm start demo flow', demo.demoFlow()],
    ...readdirSync(EXAMPLES)
      .filter((f) => f.endsWith('.json'))
      .map((f) => [f, JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8')) as FlowNode[]] as [string, FlowNode[]]),
  ];

  // Boxes as the editor draws them: height 30 (15 per output beyond two), width from the label (see
  // test/support/flow-layout.ts); at least 10 px between any two nodes of a tab, none off the canvas.
  test.each(flows)('%s: no two nodes on a tab overlap, and none is off the canvas', (_name, flow) => {
    expect(overlaps(flow, 10)).toEqual([]);
    expect(offCanvas(flow)).toEqual([]);
  });

  test.each(flows)('%s: no comment hard-codes the Node-RED port', (_name, flow) => {
    for (const node of flow.filter((n) => n.type === 'comment')) expect(`${String(node.name)}\n${String(node.info ?? '')}`).not.toMatch(/:1880\b/);
  });

  test('the overlap check sees overlapping nodes', () => {
    const z = 't';
    expect(overlaps([{ id: 'a', type: 'change', z, name: 'a long label here', x: 200, y: 100, wires: [[]] }, { id: 'b', type: 'change', z, name: 'b', x: 300, y: 110, wires: [[]] }])).toHaveLength(1);
    expect(overlaps([{ id: 'a', type: 'change', z, name: 'a', x: 100, y: 100, wires: [[]] }, { id: 'b', type: 'change', z: 'other', name: 'b', x: 100, y: 100, wires: [[]] }])).toEqual([]);
  });
});

describe('workflows/node-red/messaging-continuity.json', () => {
  const MESSAGING_FILE = join(__dirname, '..', '..', 'workflows', 'node-red', 'messaging-continuity.json');
  const flow = JSON.parse(readFileSync(MESSAGING_FILE, 'utf8')) as FlowNode[];
  const APP_SECRET = 'node-red-template-secret';

  test('four channel inputs into identity -> transcript -> reply, and no secret ships with it', () => {
    expect(flow[0].type).toBe('comment');
    expect(flow.filter((n) => n.type === 'omnithread-in').map((n) => n.channel)).toEqual(['whatsapp', 'telegram', 'messenger', 'sms']);
    expect(flow.find((n) => n.type === 'omnithread-reply')).toMatchObject({ channel: 'same', fallback: true });
    expect(JSON.stringify(flow)).not.toMatch(/"(appSecret|accessToken|botToken|authToken|pageAccessToken)"/);
  });

  test('a signed WhatsApp message is recognised and answered on WhatsApp once, through the Cloud API', async () => {
    const provider = await startProvider(() => ({ status: 200, body: { messaging_product: 'whatsapp', messages: [{ id: 'wamid.node-red-reply' }] } }));
    const { base, seen: received } = provider;
    try {
      // What the admin fills in after import: the WhatsApp account's API address (a local stand-in here).
      const configured = flow.map((n) => {
        if (n.type === 'omnithread-channel' && n.channel === 'whatsapp') return { ...n, apiBaseUrl: base };
        if (n.type === 'omnithread-reply') return { ...n, wires: [['reply-out']] }; // to watch what it sends on
        return n;
      });
      const tab = { id: String(flow.find((n) => n.z)!.z), type: 'tab' };
      const input = flow.find((n) => n.type === 'omnithread-in' && n.channel === 'whatsapp')!;
      const account = flow.find((n) => n.type === 'omnithread-channel' && n.channel === 'whatsapp')!;
      const app = await loadFlow([tab, ...configured, { id: 'reply-out', type: 'helper', z: tab.id }], {
        [input.id]: { appSecret: APP_SECRET, verifyToken: 'verify-me' },
        [account.id]: { accessToken: 'wa-token' },
      });
      const results = collect('reply-out');
      const fixture = JSON.parse(readFileSync(join(__dirname, '..', 'channels', 'fixtures', 'whatsapp', 'text.json'), 'utf8'));
      fixture.entry[0].changes[0].value.messages[0].timestamp = String(Math.floor(Date.now() / 1000) - 60);
      const body = JSON.stringify(fixture);
      const { metaSignature } = await import('../../shared');
      const post = () => request(app).post('/omnithread/whatsapp').set('content-type', 'application/json').set('x-hub-signature-256', metaSignature(APP_SECRET, body)).send(body);
      expect((await post()).status).toBe(200);
      const [out] = await results.next(1);
      expect(out.payload).toMatchObject({ duplicate: false, channel: 'whatsapp', providerMessageId: 'wamid.node-red-reply' });
      expect(received).toEqual([
        expect.objectContaining({
          url: '/v21.0/106540352242922/messages',
          headers: expect.objectContaining({ authorization: 'Bearer wa-token' }),
          body: expect.objectContaining({ to: '447911123456', type: 'text' }),
        }),
      ]);
      // A redelivery is recognised by omnithread in: the flow does not run and nothing is sent twice.
      expect((await post()).body).toMatchObject({ recorded: 0, duplicates: 1 });
      expect(received).toHaveLength(1);

      // Two new messages of the same person in flight at once: each run answers the message that started it.
      const second = (id: string, text: string) => {
        const copy = JSON.parse(JSON.stringify(fixture));
        Object.assign(copy.entry[0].changes[0].value.messages[0], { id, text: { body: text }, timestamp: String(Math.floor(Date.now() / 1000) - 30) });
        const raw = JSON.stringify(copy);
        return request(app).post('/omnithread/whatsapp').set('content-type', 'application/json').set('x-hub-signature-256', metaSignature(APP_SECRET, raw)).send(raw);
      };
      const [a, b] = await Promise.all([second('wamid.in-flight-1', 'Also: the size is wrong'), second('wamid.in-flight-2', 'And the colour')]);
      expect([a.body.recorded, b.body.recorded]).toEqual([1, 1]);
      const answers = await results.next(3);
      const answered = answers.slice(1).map((m) => m.payload.event.data.metadata.inReplyTo as string);
      expect(answers.slice(1).map((m) => m.payload.duplicate)).toEqual([false, false]);
      expect(new Set(answered).size).toBe(2);
      expect(received).toHaveLength(3);
    } finally {
      await provider.close();
    }
  });
});
