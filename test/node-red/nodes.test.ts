/**
 * The four Node-RED nodes inside Node-RED 5 (node-red-node-test-helper), webhooks over real HTTP
 * (supertest on RED.httpNode), on a SQLite store in a temp folder.
 */
import { join } from 'node:path';
import request from 'supertest';
import { CHANNELS, genericChannel, openStore, signGeneric } from '../../shared';
import type { HandleInput, MessageInput, Omnithread, Store } from '../../shared';
import { countRows } from '../support/stores';
import { FlowNode, collect, helper, loadFlow, tempDir, unloadFlow, waitForStatus } from '../support/node-red-helper';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  await unloadFlow();
  cleanup();
});

const TAB = { id: 'f1', type: 'tab' };
const storeConfig = (extra: Record<string, unknown> = {}): FlowNode => ({
  id: 'store',
  type: 'omnithread-store',
  name: 'test store',
  storeType: 'sqlite',
  sqlitePath: join(dir, 'omnithread.db'),
  workspace: 'nodered',
  autoMergeTrust: 'channel',
  ...extra,
});
const webhook = (extra: Record<string, unknown> = {}): FlowNode => ({
  id: 'in1',
  z: 'f1',
  type: 'omnithread-in',
  store: 'store',
  path: '/hook',
  channel: 'generic',
  respond: 'ack',
  wires: [['out']],
  ...extra,
});
const out = (id = 'out'): FlowNode => ({ id, z: 'f1', type: 'helper' });
const catcher: FlowNode = { id: 'catch1', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] };

const chat = (messageId: string, extra: Record<string, unknown> = {}) => ({
  messageId,
  channel: 'webchat',
  account: 'shop.example',
  from: { name: 'Maya Lindqvist', email: 'maya@fastmail.fm', handles: [{ kind: 'webchat_visitor', scope: 'shop.example', value: 'v-7f3a' }] },
  text: 'Where is my parcel?',
  ...extra,
});

/** The store the flow uses, opened a second time as another process would: to prove what was stored. */
async function storedRows(): Promise<Record<string, number>> {
  const store: Store = await openStore({ type: 'sqlite', path: join(dir, 'omnithread.db') });
  try {
    const counts = await countRows(store);
    return { contacts: counts.contacts ?? 0, events: counts.events ?? 0, deliveries: counts.deliveries ?? 0 };
  } finally {
    await store.close();
  }
}

const omnithreadOf = (id = 'store'): Promise<Omnithread> => (helper.getNode(id) as unknown as { omnithread: Promise<Omnithread> }).omnithread;
const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

describe('omnithread-in over HTTP', () => {
  test('a valid delivery is recorded, answered 200 and emitted with the contact', async () => {
    const app = await loadFlow([TAB, storeConfig(), webhook(), out()]);
    const received = collect('out');
    const res = await request(app).post('/hook').set('content-type', 'application/json').send(chat('wc-1'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: 1, recorded: 1, duplicates: 0 });

    const [msg] = await received.next();
    expect(msg.topic).toBe(msg.payload.contactId);
    expect(msg.payload).toMatchObject({
      channel: 'webchat',
      text: 'Where is my parcel?',
      contact: { id: msg.payload.contactId, name: 'Maya Lindqvist' },
      message: { channel: 'webchat', channelAccount: 'shop.example', providerMessageId: 'wc-1', text: 'Where is my parcel?' },
      event: { kind: 'message', channel: 'webchat', direction: 'inbound', contactId: msg.payload.contactId },
      conversation: { status: 'open', channels: ['webchat'] },
      identity: { created: true },
      channelSwitch: null,
    });
    expect(msg.payload.contact.identities.map((i: { kind: string; value: string }) => `${i.kind}:${i.value}`).sort()).toEqual([
      'email:maya@fastmail.fm',
      'webchat_visitor:v-7f3a',
    ]);
    expect(msg.req).toBeUndefined(); // ack mode: nothing to reply to
    await waitForStatus(helper.getNode('in1'), { fill: 'green', text: 'recorded' });
    expect(await storedRows()).toMatchObject({ contacts: 1, events: 1 });
  });

  test('a redelivery is answered 200 and not emitted or recorded again', async () => {
    const app = await loadFlow([TAB, storeConfig(), webhook(), out()]);
    const received = collect('out');
    await request(app).post('/hook').set('content-type', 'application/json').send(chat('wc-1')).expect(200);
    await received.next();
    const again = await request(app).post('/hook').set('content-type', 'application/json').send(chat('wc-1'));
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ received: 1, recorded: 0, duplicates: 1 });
    await waitForStatus(helper.getNode('in1'), { fill: 'grey', text: 'duplicate' });
    await settle();
    expect(received.messages).toHaveLength(1);
    expect(await storedRows()).toMatchObject({ contacts: 1, events: 1, deliveries: 1 });
  });

  test('a batch emits one msg per new message; the next message on another channel is a channel switch', async () => {
    const app = await loadFlow([TAB, storeConfig(), webhook(), out()]);
    const received = collect('out');
    const res = await request(app)
      .post('/hook')
      .set('content-type', 'application/json')
      .send({ messages: [chat('wc-1'), { messageId: 'mail-1', channel: 'email', from: { email: 'MAYA@fastmail.fm' }, text: 'Any news?' }] });
    expect(res.body).toEqual({ received: 2, recorded: 2, duplicates: 0 });
    const msgs = await received.next(2);
    expect(msgs.map((m) => m.payload.channel)).toEqual(['webchat', 'email']);
    expect(msgs[1].payload.contactId).toBe(msgs[0].payload.contactId);
    expect(msgs[1].payload.channelSwitch).toEqual({ from: 'webchat', to: 'email' });
  });

  test('a signed delivery passes; a bad or missing signature gets 401 and stores nothing', async () => {
    const app = await loadFlow([TAB, storeConfig(), webhook(), out()], { in1: { secret: 's3cret' } });
    const received = collect('out');
    const body = JSON.stringify(chat('wc-signed'));

    const missing = await request(app).post('/hook').set('content-type', 'application/json').send(body);
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatch(/x-omnithread-signature/);
    const wrong = await request(app).post('/hook').set('content-type', 'application/json').set('x-omnithread-signature', signGeneric('not-the-secret', body)).send(body);
    expect(wrong.status).toBe(401);
    // Signed over other bytes than those sent (e.g. re-serialised JSON): refused too.
    const tampered = await request(app)
      .post('/hook')
      .set('content-type', 'application/json')
      .set('x-omnithread-signature', signGeneric('s3cret', body))
      .send(body.replace('parcel', 'refund'));
    expect(tampered.status).toBe(401);
    await waitForStatus(helper.getNode('in1'), { fill: 'red', text: 'bad signature' });
    await settle();
    expect(received.messages).toHaveLength(0);
    expect(await storedRows()).toEqual({ contacts: 0, events: 0, deliveries: 0 });
    expect(helper.getNode('in1').warn.args.some(([m]) => /401/.test(String(m)))).toBe(true);

    const ok = await request(app).post('/hook').set('content-type', 'application/json').set('x-omnithread-signature', signGeneric('s3cret', body)).send(body);
    expect(ok.status).toBe(200);
    expect((await received.next())[0].payload.message.providerMessageId).toBe('wc-signed');
    expect(await storedRows()).toMatchObject({ contacts: 1, events: 1 });
  });

  test('the signature is checked on the raw bytes even when a body parser runs first (standard Node-RED)', async () => {
    const app = await loadFlow([TAB, storeConfig(), webhook(), out()], { in1: { secret: 's3cret' } }, { behindBodyParser: true });
    const received = collect('out');
    // Spacing that JSON.stringify would not reproduce: only the raw bytes verify.
    const body = JSON.stringify(chat('wc-spaced'), null, 3);
    const res = await request(app).post('/hook').set('content-type', 'application/json').set('x-omnithread-signature', signGeneric('s3cret', body)).send(body);
    expect(res.status).toBe(200);
    expect((await received.next())[0].payload.message.providerMessageId).toBe('wc-spaced');
    await request(app).post('/hook').set('content-type', 'application/json').set('x-omnithread-signature', signGeneric('s3cret', body)).send(body.replace('parcel', 'refund')).expect(401);
  });

  test('a malformed body gets 400 naming the field, stores nothing, and reaches a Catch node', async () => {
    const app = await loadFlow([TAB, storeConfig(), webhook(), out(), catcher, out('caught')]);
    const received = collect('out');
    const caught = collect('caught');

    const noId = await request(app).post('/hook').set('content-type', 'application/json').send({ channel: 'webchat', from: { email: 'maya@fastmail.fm' }, text: 'hi' });
    expect(noId.status).toBe(400);
    expect(noId.body.field).toBe('messageId');
    expect(noId.body.error).toMatch(/messageId/);
    await waitForStatus(helper.getNode('in1'), { fill: 'red', text: 'invalid' });

    const notJson = await request(app).post('/hook').set('content-type', 'application/json').send('{"messageId": ');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatch(/not valid JSON/);

    const [error] = await caught.next();
    expect(error.error.message).toMatch(/400.*messageId/);
    expect(error.payload).toMatchObject({ field: 'messageId' });
    expect(error.statusCode).toBe(400);
    await settle();
    expect(received.messages).toHaveLength(0);
    expect(await storedRows()).toEqual({ contacts: 0, events: 0, deliveries: 0 });
  });

  test('respond mode "flow": an http response node replies with what the flow made (here the timeline)', async () => {
    const app = await loadFlow([
      TAB,
      storeConfig(),
      webhook({ respond: 'flow', wires: [['timeline1', 'out']] }),
      { id: 'timeline1', z: 'f1', type: 'omnithread-timeline', store: 'store', operation: 'timeline', order: 'chronological', limit: 100, wires: [['reply']] },
      { id: 'reply', z: 'f1', type: 'http response', statusCode: '', headers: {} },
      out(),
    ]);
    const received = collect('out');
    const res = await request(app).post('/hook').set('content-type', 'application/json').send(chat('wc-1'));
    expect(res.status).toBe(200);
    expect(res.body.contact.name).toBe('Maya Lindqvist');
    expect(res.body.events.map((e: { kind: string; text: string }) => [e.kind, e.text])).toEqual([['message', 'Where is my parcel?']]);
    const [msg] = await received.next();
    expect(msg.req).toBeDefined();

    // Only redeliveries: nothing reaches the flow, so the node answers itself.
    const again = await request(app).post('/hook').set('content-type', 'application/json').send(chat('wc-1'));
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ received: 1, recorded: 0, duplicates: 1 });
    // Refused deliveries are answered by the node too.
    const bad = await request(app).post('/hook').set('content-type', 'application/json').send({ from: { email: 'x@example.com' } });
    expect(bad.status).toBe(400);
  });

  test('any channel module works: its settings, its GET handshake and its parser (a test channel)', async () => {
    // A channel the way the Channels issue adds them: a module in CHANNELS with its own settings and a handshake.
    CHANNELS.handshake = {
      ...(genericChannel as unknown as typeof CHANNELS.generic),
      id: 'handshake',
      challenge: (req, config) => {
        const { 'hub.verify_token': token, 'hub.challenge': challenge } = req.query as Record<string, string>;
        if (req.method !== 'GET') return undefined;
        return token === (config as { secret: string }).secret ? { status: 200, body: challenge, type: 'text' } : { status: 403, body: { error: 'wrong verify token' } };
      },
    };
    try {
      const app = await loadFlow([TAB, storeConfig(), webhook({ channel: 'handshake', channelName: 'meta' }), out()], { in1: { secret: 'tok' } });
      const received = collect('out');
      const ok = await request(app).get('/hook').query({ 'hub.verify_token': 'tok', 'hub.challenge': '1158201444' });
      expect([ok.status, ok.text, ok.type]).toEqual([200, '1158201444', 'text/plain']);
      expect((await request(app).get('/hook').query({ 'hub.verify_token': 'nope', 'hub.challenge': '1' })).status).toBe(403);
      const body = JSON.stringify({ messageId: 'm-1', from: { phone: '+447911123456' }, text: 'hi' });
      await request(app).post('/hook').set('content-type', 'application/json').set('x-omnithread-signature', signGeneric('tok', body)).send(body).expect(200);
      expect((await received.next())[0].payload.channel).toBe('meta');
      await helper.unload();
      // Stopped, not deleted: the path answers 503 with Retry-After (as during a redeploy), never a final 404.
      await request(app).get('/hook').query({ 'hub.verify_token': 'tok', 'hub.challenge': '1' }).expect(503).expect('retry-after', '5');
    } finally {
      delete CHANNELS.handshake;
    }
  });

  test('the route is removed when the flow stops: a stopped flow answers 503 with Retry-After, so providers deliver again', async () => {
    const app = await loadFlow([TAB, storeConfig(), webhook(), out()]);
    await request(app).post('/hook').set('content-type', 'application/json').send(chat('wc-1')).expect(200);
    await helper.unload();
    const stopped = await request(app).post('/hook').set('content-type', 'application/json').send(chat('wc-2'));
    expect([stopped.status, stopped.headers['retry-after'], stopped.body.error]).toEqual([503, '5', expect.stringMatching(/^Not recorded, please retry: this webhook is restarting/)]);
  });

  test('an unreachable PostgreSQL store: red status, 503 on the webhook, done(err) with a clear message', async () => {
    const flow: FlowNode[] = [
      TAB,
      storeConfig({ storeType: 'postgres' }),
      webhook(),
      out(),
      { id: 'who', z: 'f1', type: 'omnithread-identity', store: 'store', operation: 'get', contactId: 'ct_x', wires: [['out']] },
      catcher,
      out('caught'),
    ];
    const app = await loadFlow(flow, { store: { postgresUrl: 'postgres://omni:omni@127.0.0.1:1/omnithread' } });
    await waitForStatus(helper.getNode('in1'), { fill: 'red', text: 'store error' });
    await waitForStatus(helper.getNode('who'), { fill: 'red', text: 'store error' });
    const caught = collect('caught');

    const res = await request(app).post('/hook').set('content-type', 'application/json').send(chat('wc-1'));
    expect(res.status).toBe(503);
    expect(res.body.error).toMatch(/Not recorded, please retry: .*PostgreSQL/);

    helper.getNode('who').receive({ payload: 'lookup' });
    const errors = await caught.next(2); // the webhook's 503 and the identity node's input
    const fromWebhook = errors.find((m) => m.error.source.id === 'in1')!;
    expect(fromWebhook).toMatchObject({ statusCode: 503, payload: { error: expect.stringMatching(/PostgreSQL/) } });
    const fromIdentity = errors.find((m) => m.error.source.id === 'who')!;
    expect(fromIdentity.error.code).toBe('STORE_UNAVAILABLE');
    expect(fromIdentity.error.message).toMatch(/Could not connect to the PostgreSQL store/);
    expect(fromIdentity.payload).toBe('lookup');
  });

  test('invalid channel settings: red status, 500 naming the setting (503 means only an unreachable store), nothing stored', async () => {
    const app = await loadFlow([TAB, storeConfig(), webhook({ channelName: 'Web Chat', defaultTrust: 'very' }), out()]);
    await waitForStatus(helper.getNode('in1'), { fill: 'red', text: 'bad settings' });
    const res = await request(app).post('/hook').set('content-type', 'application/json').send(chat('wc-1'));
    expect(res.status).toBe(500);
    expect(res.body.error).toMatch(/^Not recorded: this webhook's settings are invalid/);
    expect(res.body.error).toMatch(/channelName/);
    expect(res.body.error).toMatch(/defaultTrust/);
    expect(await storedRows()).toEqual({ contacts: 0, events: 0, deliveries: 0 });
  });

  test('two webhook nodes on one path: the second says so instead of shadowing the first', async () => {
    const app = await loadFlow([TAB, storeConfig(), webhook(), webhook({ id: 'in2' }), out()]);
    await waitForStatus(helper.getNode('in2'), { fill: 'red', text: 'path in use' });
    await request(app).post('/hook').set('content-type', 'application/json').send(chat('wc-1')).expect(200);
  });

  test('a user node without a store config says so', async () => {
    await loadFlow([TAB, { id: 'who', z: 'f1', type: 'omnithread-identity', operation: 'get', contactId: 'ct_x', wires: [['out']] }, out(), catcher, out('caught')]);
    await waitForStatus(helper.getNode('who'), { fill: 'red', text: 'no store' });
    const caught = collect('caught');
    helper.getNode('who').receive({ payload: {} });
    const [error] = await caught.next();
    expect(error.error).toMatchObject({ code: 'STORE_CONFIG', cause: { field: 'store' } });
    expect(error.error.message).toMatch(/No Omnithread store is configured/);
  });
});

describe('omnithread-identity', () => {
  const identity = (operation: string, extra: Record<string, unknown> = {}): FlowNode => ({
    id: 'id1',
    z: 'f1',
    type: 'omnithread-identity',
    store: 'store',
    operation,
    wires: [['out']],
    ...extra,
  });
  const run = async (msg: Record<string, unknown>) => {
    const received = collect('out');
    helper.getNode('id1').receive(msg);
    return (await received.next())[0];
  };
  const message = (providerMessageId: string, handles: HandleInput[], channel = 'webchat'): MessageInput => ({ channel, providerMessageId, from: { handles }, text: `hello ${providerMessageId}` });
  const email = (value: string, trust: HandleInput['trust'] = 'channel'): HandleInput => ({ kind: 'email', value, trust });

  test('Resolve and record: a message in msg.payload (or msg.payload.message) is recorded once and explained', async () => {
    await loadFlow([TAB, storeConfig(), identity('resolve'), out()]);
    const first = await run({ payload: message('m-1', [email('maya@fastmail.fm')]) });
    expect(first.payload).toMatchObject({ duplicate: false, contact: { identities: [{ kind: 'email', value: 'maya@fastmail.fm' }] }, identity: { created: true } });
    expect(first.payload.identity.explanation).toEqual(expect.any(String));
    await waitForStatus(helper.getNode('id1'), { fill: 'green', text: 'new contact' });

    const again = await run({ payload: { message: message('m-1', [email('maya@fastmail.fm')]) } });
    expect(again.payload).toMatchObject({ duplicate: true, contact: { id: first.payload.contact.id } });
    const next = await run({ payload: message('m-2', [email('MAYA@fastmail.fm')], 'email') });
    expect(next.payload).toMatchObject({ duplicate: false, contact: { id: first.payload.contact.id }, identity: { created: false }, channelSwitch: { from: 'webchat', to: 'email' } });
  });

  test('Resolve handles (dry run writes nothing), Get contact by id and by handle', async () => {
    await loadFlow([TAB, storeConfig(), identity('resolveHandles', { handles: '[{"kind":"email","value":"sam@hey.com","trust":"verified"}]', contactName: 'Sam', dryRun: true }), out()]);
    const dry = await run({ payload: {} });
    expect(dry.payload).toMatchObject({ dryRun: true, identity: { created: true }, contact: { name: 'Sam' } });
    await waitForStatus(helper.getNode('id1'), { text: 'dry run' });
    expect(await storedRows()).toMatchObject({ contacts: 0 });
    const real = await run({ payload: {}, dryRun: false });
    expect(real.payload).toMatchObject({ dryRun: false, identity: { created: true } });
    const contactId = real.payload.contact.id;
    await helper.unload();

    await loadFlow([TAB, storeConfig(), identity('get', { handleKind: 'email', handleValue: 'SAM@hey.com' }), out()]);
    expect((await run({ payload: { contactId: 'ct_ignored_when_a_handle_is_set' } })).payload).toMatchObject({ found: true, contact: { id: contactId, name: 'Sam' } });
    expect((await run({ payload: {}, handle: { kind: 'email', value: 'someone.else@fastmail.fm' } })).payload).toEqual({ found: false, contact: null });
    await waitForStatus(helper.getNode('id1'), { fill: 'grey', text: 'not found' });
    expect((await run({ contactId })).payload.contact.id).toBe(contactId);
  });

  test('Merge and Unmerge, with msg overrides', async () => {
    await loadFlow([TAB, storeConfig(), identity('merge', { reason: 'same person, confirmed on the phone', actor: 'agent:sam' }), out()]);
    const ot = await omnithreadOf();
    const a = await ot.ingest(message('m-a', [email('ana@proton.me')]));
    const b = await ot.ingest(message('m-b', [{ kind: 'phone', value: '+447911123456', trust: 'channel' }], 'voice'));
    const merged = await run({ contactId: a.contact.id, payload: { otherContactId: b.contact.id } });
    expect(merged.payload.merge).toMatchObject({ survivorId: a.contact.id, mergedId: b.contact.id, actor: 'agent:sam', rule: 'manual' });
    expect(merged.payload.contact.mergedContactIds).toEqual([b.contact.id]);
    await waitForStatus(helper.getNode('id1'), { text: 'merged' });
    await helper.unload();

    await loadFlow([TAB, storeConfig(), identity('unmerge'), out()]);
    const undone = await run({ payload: { mergeId: merged.payload.merge.id } });
    expect(undone.payload.merge.undoneAt).toEqual(expect.any(String));
    expect(undone.payload.contact.id).toBe(b.contact.id);
    expect(undone.payload.survivor.mergedContactIds).toEqual([]);
  });

  test('Merge suggestions: list, accept, dismiss', async () => {
    await loadFlow([TAB, storeConfig(), identity('suggestions'), out()]);
    const ot = await omnithreadOf();
    const chatContact = await ot.ingest(message('m-1', [email('maya@fastmail.fm', 'verified')]));
    // Typed by the customer on another channel: below the auto-merge trust, so a suggestion.
    const sms = await ot.ingest(message('m-2', [{ kind: 'phone', value: '+447911123456', trust: 'channel' }, email('maya@fastmail.fm', 'asserted')], 'sms'));
    expect(sms.contact.id).not.toBe(chatContact.contact.id);
    const list = await run({ contactId: chatContact.contact.id });
    expect(list.payload).toHaveLength(1);
    expect(list.payload[0]).toMatchObject({ status: 'open', contactIds: expect.arrayContaining([chatContact.contact.id, sms.contact.id]) });
    await waitForStatus(helper.getNode('id1'), { text: '1 suggestions' });
    const suggestionId = list.payload[0].id;
    await helper.unload();

    await loadFlow([TAB, storeConfig(), identity('dismissSuggestion'), out()]);
    expect((await run({ payload: { suggestionId } })).payload).toMatchObject({ id: suggestionId, status: 'dismissed' });
    await helper.unload();

    await loadFlow([TAB, storeConfig(), identity('acceptSuggestion', { suggestionId }), out(), catcher, out('caught')]);
    const caught = collect('caught');
    helper.getNode('id1').receive({ payload: {} });
    expect((await caught.next())[0].error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already dismissed/) });
  });

  test('Export and Erase', async () => {
    await loadFlow([TAB, storeConfig(), identity('export'), out()]);
    const ot = await omnithreadOf();
    const m = await ot.ingest(message('m-1', [email('maya@fastmail.fm')]));
    const exported = await run({ payload: { contact: m.contact } });
    expect(exported.payload).toMatchObject({ workspace: 'nodered', contact: { id: m.contact.id }, events: [{ text: 'hello m-1' }] });
    await helper.unload();

    await loadFlow([TAB, storeConfig(), identity('erase', { contactId: m.contact.id }), out()]);
    const erased = await run({ payload: {} });
    expect(erased.payload).toMatchObject({ contactId: m.contact.id, erasedContactIds: [m.contact.id], deleted: { contacts: 1, events: 1 } });
    expect(await storedRows()).toMatchObject({ contacts: 0, events: 0 });
  });

  test('errors reach a Catch node with msg.error code and field; status turns red', async () => {
    await loadFlow([TAB, storeConfig(), identity('get'), out(), catcher, out('caught')]);
    const caught = collect('caught');
    helper.getNode('id1').receive({ payload: 'no id here', _keep: 1 });
    const [missing] = await caught.next();
    expect(missing.error).toMatchObject({ code: 'INVALID_INPUT', source: { id: 'id1', type: 'omnithread-identity' }, cause: { field: 'contactId' } });
    expect(missing.error.message).toMatch(/contactId: needs a contact id or a handle/);
    expect(missing._keep).toBe(1);
    await waitForStatus(helper.getNode('id1'), { fill: 'red', text: 'invalid input' });

    helper.getNode('id1').receive({ contactId: 'ct_nobody' });
    const [, notFound] = await caught.next(2);
    expect(notFound.error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/ct_nobody/) });
    await waitForStatus(helper.getNode('id1'), { fill: 'red', text: 'not found' });
    expect(collect('out').messages).toHaveLength(0);
  });
});

describe('omnithread-timeline', () => {
  const timeline = (operation: string, extra: Record<string, unknown> = {}): FlowNode => ({
    id: 'tl1',
    z: 'f1',
    type: 'omnithread-timeline',
    store: 'store',
    operation,
    wires: [['out']],
    ...extra,
  });
  const run = async (msg: Record<string, unknown>) => {
    const received = collect('out');
    helper.getNode('tl1').receive(msg);
    return (await received.next())[0];
  };
  const email: HandleInput = { kind: 'email', value: 'maya@fastmail.fm', trust: 'channel' };
  async function story(ot: Omnithread): Promise<string> {
    const base = Date.parse('2026-11-20T09:00:00Z');
    const first = await ot.ingest({ channel: 'webchat', providerMessageId: 'wc-1', sentAt: base, from: { handles: [email] }, text: 'chat' });
    await ot.ingest({ channel: 'email', providerMessageId: 'mail-1', sentAt: base + 3_600_000, from: { handles: [email] }, text: 'mail' });
    await ot.ingest({ channel: 'voice', providerMessageId: 'call-1', sentAt: base + 7_200_000, from: { handles: [email] }, text: 'call' });
    return first.contact.id;
  }

  test('Get timeline: contact, conversations, events in order, from msg.payload.contact.id', async () => {
    await loadFlow([TAB, storeConfig(), timeline('timeline', { kinds: 'message' }), out()]);
    const contactId = await story(await omnithreadOf());
    const { payload } = await run({ payload: { contact: { id: contactId } } });
    expect(payload.contact.id).toBe(contactId);
    expect(payload.conversations).toHaveLength(1);
    expect(payload.events.map((e: { channel: string; text: string }) => `${e.channel}:${e.text}`)).toEqual(['webchat:chat', 'email:mail', 'voice:call']);
    expect(payload.nextCursor).toBeNull();
    await waitForStatus(helper.getNode('tl1'), { fill: 'green', text: '3 events' });
  });

  test('Get events: filters from the node, msg.filter and msg.cursor for paging', async () => {
    await loadFlow([TAB, storeConfig(), timeline('items', { kinds: 'message', channels: 'webchat, voice', order: 'newest-first', limit: '1' }), out()]);
    const contactId = await story(await omnithreadOf());
    const page1 = await run({ payload: { contactId } });
    expect(page1.payload.map((e: { channel: string }) => e.channel)).toEqual(['voice']);
    const all = await run({ payload: { contactId }, filter: { limit: 10 } });
    expect(all.payload.map((e: { channel: string }) => e.channel)).toEqual(['voice', 'webchat']);
    const since = await run({ contactId, filter: { channels: 'email', since: '2026-11-20T09:30:00Z', order: 'chronological', limit: 10 } });
    expect(since.payload.map((e: { text: string }) => e.text)).toEqual(['mail']);
    await helper.unload();

    await loadFlow([TAB, storeConfig(), timeline('timeline', { kinds: 'message', limit: 2 }), out()]);
    const first = await run({ contactId });
    expect(first.payload.events).toHaveLength(2);
    const second = await run({ contactId, cursor: first.payload.nextCursor });
    expect(second.payload.events.map((e: { text: string }) => e.text)).toEqual(['call']);
    expect(second.payload.nextCursor).toBeNull();
  });

  test('Get transcript within a token budget', async () => {
    await loadFlow([TAB, storeConfig(), timeline('transcript', { maxTokens: 500 }), out()]);
    const contactId = await story(await omnithreadOf());
    const { payload } = await run({ payload: { contactId } });
    expect(payload).toMatchObject({ contactId, maxTokens: 500 });
    expect(payload.text).toMatch(/chat[\s\S]*mail[\s\S]*call/);
    expect(payload.estimatedTokens).toBeLessThanOrEqual(500);
  });

  test('Append event: kind, text and data from the node, once per idempotency key', async () => {
    await loadFlow([TAB, storeConfig(), timeline('append', { eventKind: 'order_placed', text: 'Order #5521', data: '{"orderId": "5521"}', eventChannel: 'webshop' }), out()]);
    const contactId = await story(await omnithreadOf());
    const first = await run({ payload: { contactId }, idempotencyKey: 'order-5521' });
    expect(first.payload).toMatchObject({ kind: 'order_placed', text: 'Order #5521', channel: 'webshop', contactId, data: { orderId: '5521' } });
    await waitForStatus(helper.getNode('tl1'), { text: 'appended' });
    const again = await run({ payload: { contactId }, idempotencyKey: 'order-5521', text: 'overridden, but already recorded' });
    expect(again.payload.id).toBe(first.payload.id);
    const note = await run({ payload: { contactId }, eventKind: 'note', text: 'Called the courier', data: { by: 'sam' } });
    expect(note.payload).toMatchObject({ kind: 'note', text: 'Called the courier', data: { by: 'sam' } });
    const events = (await (await omnithreadOf()).timeline(contactId, { kinds: ['order_placed', 'note'] })).events;
    expect(events.map((e) => e.kind)).toEqual(['order_placed', 'note']);
  });

  test('Metrics: the continuity report from the node, msg.metrics on top; no contact needed', async () => {
    await loadFlow([TAB, storeConfig(), timeline('metrics', { from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00Z', bucket: 'day' }), out(), catcher, out('caught')]);
    const ot = await omnithreadOf();
    const contactId = await story(ot);
    // An agent answers the call five minutes in: two hours and five minutes after her first message.
    await ot.recordOutbound(contactId, { channel: 'voice', text: 'On it', author: { id: 'sam', type: 'human' }, sentAt: Date.parse('2026-11-20T11:05:00Z') });
    // A trigger's msg.payload has a `from` and a `channel` of its own: they are not the query.
    const { payload } = await run({ payload: { from: { name: 'Maya' }, channel: 'email' } });
    expect(payload.query).toEqual({ from: '2026-11-20T00:00:00.000Z', to: '2026-11-21T00:00:00.000Z', bucket: 'day' });
    expect(payload.totals).toMatchObject({
      conversations: 1,
      firstResponseSeconds: { count: 1, median: 7500 },
      channelSwitches: { total: 2, continued: 2 },
      handledBy: { human: 1, aiShare: 0 },
    });
    expect(payload.series).toHaveLength(1);
    expect(Object.keys(payload.byChannel)).toEqual(['webchat']);
    await waitForStatus(helper.getNode('tl1'), { fill: 'green', text: '1 conversation' });

    const hourly = await run({ metrics: { bucket: 'hour', from: '2026-11-20T09:00:00Z', to: '2026-11-20T12:00:00Z', agentId: 'sam' } });
    expect(hourly.payload.series.map((s: { figures: { firstResponseSeconds: { count: number } } }) => s.figures.firstResponseSeconds.count)).toEqual([0, 0, 1]);
    expect(Object.keys(hourly.payload.byAgent)).toEqual(['sam']);
    const onEmail = await run({ metrics: { channel: 'email' } });
    expect(onEmail.payload.totals.conversations).toBe(0);

    const caught = collect('caught');
    helper.getNode('tl1').receive({ metrics: { bucket: 'month' } });
    expect((await caught.next())[0].error).toMatchObject({ code: 'INVALID_INPUT', cause: { field: 'bucket' } });
  });

  test('errors reach a Catch node: unknown contact, bad JSON data, system kinds', async () => {
    await loadFlow([TAB, storeConfig(), timeline('append', { data: '{not json' }), out(), catcher, out('caught')]);
    const caught = collect('caught');
    helper.getNode('tl1').receive({ contactId: 'ct_x' });
    const [badJson] = await caught.next();
    expect(badJson.error).toMatchObject({ code: 'INVALID_INPUT', cause: { field: 'data' } });
    await waitForStatus(helper.getNode('tl1'), { fill: 'red', text: 'invalid input' });
    await helper.unload();

    await loadFlow([TAB, storeConfig(), timeline('timeline'), out(), catcher, out('caught')]);
    const caught2 = collect('caught');
    helper.getNode('tl1').receive({ payload: {} });
    helper.getNode('tl1').receive({ contactId: 'ct_nobody' });
    const [noId, unknown] = await caught2.next(2);
    expect(noId.error).toMatchObject({ code: 'INVALID_INPUT', cause: { field: 'contactId' } });
    expect(unknown.error).toMatchObject({ code: 'NOT_FOUND' });
    await helper.unload();

    await loadFlow([TAB, storeConfig(), timeline('append', { eventKind: 'merge' }), out(), catcher, out('caught')]);
    const contactId = await story(await omnithreadOf());
    const caught3 = collect('caught');
    helper.getNode('tl1').receive({ contactId });
    expect((await caught3.next())[0].error).toMatchObject({ code: 'INVALID_INPUT', cause: { field: 'kind' } });
  });
});
