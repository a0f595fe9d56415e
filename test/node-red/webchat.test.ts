/**
 * omnithread-in on the Web Chat channel inside Node-RED 5, over real HTTP (supertest on RED.httpNode):
 * the URL serves the demo page, the widget script, CORS preflights and the visitor's reply feed; visitor
 * messages are recorded with their identity verified by the site's user hash; omnithread-reply answers a
 * visitor with no account config, and the feed returns the answer.
 */
import { join } from 'node:path';
import request from 'supertest';
import { openStore, webchatUserHash } from '../../shared';
import type { Store } from '../../shared';
import { countRows } from '../support/stores';
import { FlowNode, collect, helper, loadFlow, tempDir, unloadFlow, waitForStatus } from '../support/node-red-helper';

const SECRET = 'site-identity-secret';
const ORIGIN = 'https://shop.example';
const PATH = '/omnithread/webchat';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  await unloadFlow();
  cleanup();
});

const TAB = { id: 'f1', type: 'tab' };
const storeConfig = (): FlowNode => ({ id: 'store', type: 'omnithread-store', storeType: 'sqlite', sqlitePath: join(dir, 'omnithread.db'), workspace: 'nodered', autoMergeTrust: 'channel' });
/** omnithread-in as the editor saves it on the Web Chat channel. */
const webchatIn = (extra: Record<string, unknown> = {}): FlowNode => ({
  id: 'in1',
  z: 'f1',
  type: 'omnithread-in',
  store: 'store',
  path: PATH,
  channel: 'webchat',
  respond: 'ack',
  siteId: 'shop',
  allowedOrigins: `${ORIGIN}, https://www.shop.example`,
  widgetTitle: 'Talk to Acme',
  widgetGreeting: 'Hello from Acme!',
  wires: [['out', 'r1']],
  ...extra,
});
/** A reply node with no account at all: web chat needs none. */
const reply: FlowNode = {
  id: 'r1',
  z: 'f1',
  type: 'omnithread-reply',
  store: 'store',
  channel: 'same',
  text: 'Hi Maya, your parcel ships tomorrow.',
  fallback: true,
  replyKey: 'reply',
  authorName: 'Acme bot',
  authorType: 'ai',
  wires: [['sent']],
};
const load = (extra: Record<string, unknown> = {}) =>
  loadFlow([TAB, storeConfig(), webchatIn(extra), reply, { id: 'out', z: 'f1', type: 'helper' }, { id: 'sent', z: 'f1', type: 'helper' }], { in1: { identitySecret: SECRET } });

const visitorMessage = (extra: Record<string, unknown> = {}) => ({ siteId: 'shop', visitorId: 'v-7f3a', messageId: 'm-1', text: 'Where is my parcel?', ...extra });

async function storedRows(): Promise<Record<string, number>> {
  const store: Store = await openStore({ type: 'sqlite', path: join(dir, 'omnithread.db') });
  try {
    const counts = await countRows(store);
    return { contacts: counts.contacts ?? 0, events: counts.events ?? 0 };
  } finally {
    await store.close();
  }
}

describe('omnithread-in: Web Chat', () => {
  test('GET the path: a demo page embedding the widget from this endpoint; ?asset=widget.js is the script', async () => {
    const app = await load();
    const page = await request(app).get(PATH).set('host', 'nodered.example.com');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<script src="http://nodered.example.com/omnithread/webchat?asset=widget.js"');

    const script = await request(app).get(`${PATH}?asset=widget.js`).set('host', 'nodered.example.com');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript|^application\/javascript/);
    expect(script.text).toContain('http://nodered.example.com/omnithread/webchat');
    expect(script.text).toContain('Talk to Acme');
    expect(script.text).toContain('Hello from Acme!');
  });

  test('a CORS preflight from an allowed origin is 204 with Access-Control-Allow-Origin', async () => {
    const app = await load();
    const res = await request(app).options(PATH).set('origin', ORIGIN).set('access-control-request-method', 'POST').set('access-control-request-headers', 'content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(res.headers['access-control-allow-methods']).toMatch(/POST/);
    expect(res.headers['access-control-allow-headers']).toMatch(/content-type/);
  });

  test('a verified visitor message: 200 identity verified, a msg into the flow, the answer of a reply node without account in the feed', async () => {
    const app = await load();
    const out = collect('out');
    const sent = collect('sent');
    const res = await request(app)
      .post(PATH)
      .set('origin', ORIGIN)
      .set('content-type', 'application/json')
      .send(visitorMessage({ user: { email: 'maya@fastmail.fm', name: 'Maya', userHash: webchatUserHash(SECRET, 'maya@fastmail.fm') } }));
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(res.body).toMatchObject({ received: 1, recorded: 1, duplicates: 0, identity: 'verified', messageId: 'm-1' });

    const [msg] = await out.next();
    expect(msg.topic).toBe(msg.payload.contactId);
    expect(msg.payload).toMatchObject({ channel: 'webchat', text: 'Where is my parcel?', contact: { name: 'Maya' } });
    expect(msg.payload.contact.identities).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'email', value: 'maya@fastmail.fm', trust: 'verified' }), expect.objectContaining({ kind: 'webchat_visitor', value: 'v-7f3a' })]),
    );

    const [answer] = await sent.next();
    expect(answer.payload).toMatchObject({ duplicate: false, channel: 'webchat', via: 'message' });
    await waitForStatus(helper.getNode('r1'), { fill: 'green', text: 'sent on webchat' });

    const feed = await request(app).get(PATH).query({ visitorId: 'v-7f3a', siteId: 'shop' }).set('origin', ORIGIN);
    expect(feed.status).toBe(200);
    expect(feed.headers['access-control-allow-origin']).toBe(ORIGIN);
    const texts = (feed.body.messages as { direction: string; text: string }[]).map((m) => [m.direction, m.text]);
    expect(texts).toContainEqual(['outbound', 'Hi Maya, your parcel ships tomorrow.']);
    expect(feed.body.cursor).toEqual(expect.any(String));

    // Polling on from the cursor: nothing new.
    const next = await request(app).get(PATH).query({ visitorId: 'v-7f3a', siteId: 'shop', after: feed.body.cursor });
    expect(next.body).toMatchObject({ messages: [], more: false });
  });

  test('a forged user hash: recorded, but the identity is unverified and the email only asserted', async () => {
    const app = await load();
    const out = collect('out');
    const res = await request(app)
      .post(PATH)
      .set('origin', ORIGIN)
      .set('content-type', 'application/json')
      .send(visitorMessage({ user: { email: 'maya@fastmail.fm', userHash: webchatUserHash('a guess', 'maya@fastmail.fm') } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ recorded: 1, identity: 'unverified', identityReason: 'userHash does not match the email' });
    const [msg] = await out.next();
    expect(msg.payload.text).toBe('Where is my parcel?');
    const email = msg.payload.contact.identities.find((i: { kind: string }) => i.kind === 'email');
    expect(email?.trust).not.toBe('verified');
  });

  test('a POST from an origin that is not allowed: 403, nothing stored, nothing sent', async () => {
    const app = await load();
    const out = collect('out');
    const res = await request(app).post(PATH).set('origin', 'https://evil.example').set('content-type', 'application/json').send(visitorMessage());
    expect(res.status).toBe(403);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    await waitForStatus(helper.getNode('in1'), { fill: 'red', text: 'bad signature' });
    await new Promise((r) => setTimeout(r, 150));
    expect(out.messages).toHaveLength(0);
    expect(await storedRows()).toEqual({ contacts: 0, events: 0 });
  });
});
