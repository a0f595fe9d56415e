/**
 * The shipped AI routing example (workflows/node-red/ai-routing.json, read from the file) inside Node-RED 5,
 * driven over HTTP: the roster loads on deploy, an FAQ question goes to the AI agent and is answered, the
 * same question again gets the earlier answer, a billing problem goes to a human and its handoff packet is
 * posted to a local help-desk stand-in (test/support/provider-server.ts), a request for a person that
 * nobody available can take is queued.
 *
 * Core `http request` imports the ESM-only `got` with a dynamic import, which jest's CommonJS runtime
 * cannot run (it needs --experimental-vm-modules), so the flow's http request node runs as a stand-in
 * here: the core node's properties (method, url, ret) and behaviour for a POST of an object payload (JSON
 * body, msg.payload the parsed answer, msg.statusCode). The core inject node is loaded as is.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import type { Omnithread } from '../../shared';
import { FlowNode, NODES, collect, helper, loadFlow, tempDir, unloadFlow, waitForStatus } from '../support/node-red-helper';
import { ProviderServer, startProvider } from '../support/provider-server';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const inject = require('@node-red/nodes/core/common/20-inject.js') as (RED: unknown) => void;

interface RedForStandIn {
  nodes: { createNode(node: unknown, def: unknown): void; registerType(type: string, ctor: (this: StandIn, def: Record<string, string>) => void): void };
}
interface StandIn {
  on(event: 'input', handler: (msg: Record<string, unknown>, send: (msg: unknown) => void, done: (error?: Error) => void) => void): void;
  status(status: unknown): void;
}

/** `http request` for a POST of msg.payload as JSON, as the core node sends it (ret obj: the answer parsed). */
function httpRequestStandIn(RED: RedForStandIn): void {
  RED.nodes.registerType('http request', function (this: StandIn, def: Record<string, string>) {
    RED.nodes.createNode(this, def);
    this.on('input', (msg, send, done) => {
      const url = String(msg.url ?? def.url);
      const body = typeof msg.payload === 'string' || Buffer.isBuffer(msg.payload) ? msg.payload : JSON.stringify(msg.payload);
      fetch(url, { method: def.method === 'use' ? String(msg.method) : def.method, headers: { 'content-type': 'application/json' }, body: body as string })
        .then(async (res) => {
          const text = await res.text();
          msg.statusCode = res.status;
          msg.payload = def.ret === 'obj' ? JSON.parse(text) : text;
          send(msg);
          done();
        })
        .catch((error: Error) => done(error));
    });
  });
}
NODES.push(inject, httpRequestStandIn as never);

const EXAMPLE_FILE = join(__dirname, '..', '..', 'workflows', 'node-red', 'ai-routing.json');
const example = JSON.parse(readFileSync(EXAMPLE_FILE, 'utf8')) as FlowNode[];
const byType = (type: string) => example.filter((n) => n.type === type);
const byName = (name: string) => example.find((n) => n.name === name)!;

let dir: string;
let cleanup: () => void;
let helpdesk: ProviderServer;
let afterErrors = (): void => undefined;
beforeAll(async () => (helpdesk = await startProvider((req) => (req.url === '/omnithread/handoffs' && req.method === 'POST' ? { status: 201, body: { ticket: `T-${helpdesk.seen.length}` } } : { status: 404, body: {} }))));
afterAll(() => helpdesk.close());
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  helper.settings({ userDir: dir });
  helpdesk.seen.length = 0;
});
afterEach(async () => {
  await unloadFlow();
  helper.settings({});
  cleanup();
});

test('is an editor export: starts with a comment, uses only our nodes and core nodes, every omnithread node on one store', () => {
  expect(example[0].type).toBe('comment');
  expect(new Set(example.map((n) => n.id)).size).toBe(example.length);
  const core = ['comment', 'inject', 'change', 'http request'];
  for (const node of example) expect({ type: node.type, ok: node.type.startsWith('omnithread-') || core.includes(node.type) }).toEqual({ type: node.type, ok: true });
  expect(byType('omnithread-in')[0]).toMatchObject({ path: '/omnithread/routing', respond: 'ack', channel: 'generic' });
  const [store] = byType('omnithread-store');
  for (const node of example.filter((n) => n.type.startsWith('omnithread-') && n.z)) expect(node.store).toBe(store.id);
  // The store node as the editor saves it: every property (the real-editor test requires them).
  const basics = JSON.parse(readFileSync(join(__dirname, '..', '..', 'workflows', 'node-red', 'continuity-basics.json'), 'utf8')) as FlowNode[];
  const basicsStore = basics.find((n) => n.type === 'omnithread-store')!;
  expect(Object.keys(store).sort()).toEqual(Object.keys(basicsStore).sort());
  const route = byType('omnithread-route')[0];
  // An LLM config ships for the user to pick; the flow classifies with the rules until they do.
  expect(byType('omnithread-llm')).toHaveLength(1);
  expect(route.llm).toBe('');
  expect((route.wires as string[][]).map((w) => w.map((id) => example.find((n) => n.id === id)!.type))).toEqual([['change'], ['omnithread-handoff'], ['omnithread-handoff'], ['change']]);
  expect(byType('http request')[0]).toMatchObject({ method: 'POST', url: expect.stringMatching(/^https:\/\/helpdesk\.example\.com\//) });
});

test('AI answer, earlier answer, handoff packet posted to the help desk, queue', async () => {
  const flow = example.map((n) => (n.type === 'http request' ? { ...n, url: `${helpdesk.base}/omnithread/handoffs` } : n));
  const tab = { id: String(example.find((n) => n.z)!.z), type: 'tab' };
  // A Catch node of the test's own: no error anywhere in the flow.
  const catcher: FlowNode[] = [
    { id: 'test-catch', z: tab.id, type: 'catch', scope: null, uncaught: false, wires: [['test-caught']] },
    { id: 'test-caught', z: tab.id, type: 'helper' },
  ];
  const app = await loadFlow([tab, ...flow, ...catcher]);
  const caught = collect('test-caught');
  afterErrors = () => expect(caught.messages.map((m) => m.error)).toEqual([]);
  const storeNode = helper.getNode(byType('omnithread-store')[0].id) as unknown as { omnithread: Promise<Omnithread> };
  const ot = await storeNode.omnithread;
  await waitForStatus(helper.getNode(byName('import the roster').id), { text: 'imported 3 agents' });

  const route = collect(byName('AI route').id);
  const replies = collect(byName('answer where they wrote').id);
  const posted = collect(byName('post the packet to the help desk').id);
  const queued = collect(byName('queue it').id);
  const post = async (body: Record<string, unknown>) => {
    const res = await request(app).post('/omnithread/routing').set('content-type', 'application/json').send(body);
    expect(res.status).toBe(200);
  };
  const visitor = { name: 'Maya', email: 'maya@fastmail.fm', handles: [{ kind: 'webchat_visitor', scope: 'shop.example', value: 'v-7f3a' }] };

  // 1. An FAQ question on web chat: the AI agent's output, answered on web chat.
  await post({ messageId: 'wc-1', channel: 'webchat', from: visitor, replyTo: { visitorId: 'v-7f3a', siteId: 'default' }, text: 'How do I reset my password?' });
  await replies.next(1);
  expect(route.messages).toHaveLength(1);
  expect(replies.messages[0].reply).toMatch(/FAQ assistant/);
  await waitForStatus(helper.getNode(byName('AI route').id), { text: 'ai: faq-bot' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  afterErrors();
  await waitForStatus(helper.getNode(byName('answer where they wrote').id), { text: 'sent on webchat' });
  const contactId = String(route.messages[0].contactId);
  let events = await ot.timeline(contactId);
  const firstAnswer = events.events.find((e) => e.direction === 'outbound')!;
  expect(firstAnswer).toMatchObject({ channel: 'webchat', text: expect.stringMatching(/FAQ assistant/) });

  // 2. The same question again, in other words: the earlier answer is sent again.
  await post({ messageId: 'wc-2', channel: 'webchat', from: visitor, replyTo: { visitorId: 'v-7f3a', siteId: 'default' }, text: 'Hello, how can I reset my password please?' });
  await replies.next(2);
  await waitForStatus(helper.getNode(byName('AI route').id), { text: 'answer' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  events = await ot.timeline(contactId);
  const outbound = events.events.filter((e) => e.direction === 'outbound');
  expect(outbound.map((e) => e.text)).toEqual([firstAnswer.text, firstAnswer.text]);

  // 3. A billing problem by email: a human agent; the packet is posted to the help desk.
  await post({ messageId: 'mail-1', channel: 'email', from: { email: 'maya@fastmail.fm' }, text: 'I was charged twice on my last invoice' });
  const [handedOff] = await posted.next(1);
  for (let i = 0; i < 50 && handedOff.statusCode === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  // The http request node's msg now holds the help desk's answer.
  expect(handedOff).toMatchObject({ statusCode: 201, payload: { ticket: 'T-1' } });
  expect(helpdesk.seen).toHaveLength(1);
  expect(helpdesk.seen[0].body.handoffId).toEqual(expect.any(String));
  const packet = helpdesk.seen[0].body;
  expect(helpdesk.seen[0].headers['content-type']).toMatch(/application\/json/);
  expect(packet).toMatchObject({ contact: { id: contactId }, intent: 'billing', status: 'offered', to: expect.stringMatching(/^agent-[ab]$/), from: 'faq-bot' });
  expect(packet.transcript).toMatch(/charged twice/);
  expect(packet.channelWindows.map((w: { channel: string }) => w.channel).sort()).toEqual(['email', 'webchat']);

  // 4. Someone asking a person to reset their login: the only agent with that skill is the AI: queued.
  await post({ messageId: 'wc-3', channel: 'webchat', from: { handles: [{ kind: 'webchat_visitor', scope: 'shop.example', value: 'v-9999' }] }, text: 'I want to talk to a human, my login is broken' });
  const [queue] = await queued.next(1);
  for (let i = 0; i < 50 && queue.payload?.handoffId === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  // Upset and asking for a person: a high priority, so the route's queue is support-priority.
  expect(queue.route.target).toEqual({ kind: 'queue', queue: 'support-priority' });
  expect(queue.route.classification).toMatchObject({ wantsHuman: true, intent: 'account' });
  expect(queue.payload).toMatchObject({ status: 'queued', queue: 'support-priority', to: null, priority: 'high' });
  expect(helpdesk.seen).toHaveLength(1);
  afterErrors();
});
