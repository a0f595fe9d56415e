/**
 * omnithread-in with the provider channels, inside Node-RED 5 (node-red-node-test-helper), over real HTTP
 * (supertest on RED.httpNode): each provider's handshake, signature or token, and the answer it expects.
 * The payloads are the channel fixtures of test/channels/fixtures (real provider formats).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { acquireStore, metaSignature, openStore } from '../../shared';
import type { Store } from '../../shared';
import { countRows } from '../support/stores';
import { FlowNode, collect, helper, loadFlow, tempDir, unloadFlow, waitForStatus } from '../support/node-red-helper';
import { CHANNEL_DELIVERIES, forged } from '../support/channel-deliveries';
import { twilioSignature, xSignature } from '../support/signatures';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  await unloadFlow();
  cleanup();
});

const TAB = { id: 'f1', type: 'tab' };
const storeConfig = (): FlowNode => ({ id: 'store', type: 'omnithread-store', storeType: 'sqlite', sqlitePath: join(dir, 'omnithread.db'), workspace: 'nodered', autoMergeTrust: 'channel' });
const out: FlowNode = { id: 'out', z: 'f1', type: 'helper' };
/** An omnithread-in node as the editor saves it: every channel's defaults, then this channel's settings. */
const webhook = (channel: string, extra: Record<string, unknown> = {}): FlowNode => ({
  id: 'in1',
  z: 'f1',
  type: 'omnithread-in',
  store: 'store',
  path: `/omnithread/${channel}`,
  channel,
  respond: 'ack',
  signatureHeader: 'x-omnithread-signature',
  channelName: 'generic',
  defaultTrust: 'channel',
  phoneNumberId: '',
  botId: '',
  publicUrl: '',
  greeting: 'Thank you for calling. Please leave a message after the tone.',
  record: true,
  transcribe: true,
  maxRecordingSeconds: '120',
  dialNumber: '',
  transcribeCallbackUrl: '',
  accountId: '',
  wires: [['out']],
  ...extra,
});
const load = (channel: string, settings: Record<string, unknown>, credentials: Record<string, string>) =>
  loadFlow([TAB, storeConfig(), webhook(channel, settings), out], { in1: credentials });

const fixture = (channel: string, name: string): string => readFileSync(join(__dirname, '..', 'channels', 'fixtures', channel, `${name}.json`), 'utf8');

async function storedRows(): Promise<Record<string, number>> {
  const store: Store = await openStore({ type: 'sqlite', path: join(dir, 'omnithread.db') });
  try {
    const counts = await countRows(store);
    return { contacts: counts.contacts ?? 0, events: counts.events ?? 0 };
  } finally {
    await store.close();
  }
}
const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));
const identitiesOf = (msg: Record<string, any>): string[] => // eslint-disable-line @typescript-eslint/no-explicit-any
  msg.payload.contact.identities.map((i: { kind: string; value: string }) => `${i.kind}:${i.value}`).sort();

describe('omnithread-in: WhatsApp Cloud API', () => {
  const APP_SECRET = 'meta-app-secret';
  const credentials = { appSecret: APP_SECRET, verifyToken: 'my-verify-token' };

  test("Meta's GET handshake is answered with the challenge as text/plain; a wrong token gets 403", async () => {
    const app = await load('whatsapp', {}, credentials);
    const ok = await request(app).get('/omnithread/whatsapp').query({ 'hub.mode': 'subscribe', 'hub.verify_token': 'my-verify-token', 'hub.challenge': '1158201444' });
    expect([ok.status, ok.text, ok.type]).toEqual([200, '1158201444', 'text/plain']);
    const wrong = await request(app).get('/omnithread/whatsapp').query({ 'hub.mode': 'subscribe', 'hub.verify_token': 'guess', 'hub.challenge': '1158201444' });
    expect(wrong.status).toBe(403);
    expect(wrong.text).not.toContain('1158201444');
  });

  test('a signed delivery emits a msg with the contact (phone and whatsapp_id); a bad signature gets 401 and stores nothing', async () => {
    // channelName is a generic setting: invalid for generic, and ignored since only WhatsApp's settings are read.
    const app = await load('whatsapp', { channelName: 'Not A Name', phoneNumberId: '106540352242922' }, credentials);
    const received = collect('out');
    const body = fixture('whatsapp', 'text');

    const forged = await request(app).post('/omnithread/whatsapp').set('content-type', 'application/json').set('x-hub-signature-256', metaSignature('another-secret', body)).send(body);
    expect(forged.status).toBe(401);
    await waitForStatus(helper.getNode('in1'), { fill: 'red', text: 'bad signature' });
    expect(await storedRows()).toEqual({ contacts: 0, events: 0 });

    const res = await request(app).post('/omnithread/whatsapp').set('content-type', 'application/json').set('x-hub-signature-256', metaSignature(APP_SECRET, body)).send(body);
    expect(res.status).toBe(200);
    const [msg] = await received.next();
    expect(msg.payload).toMatchObject({ channel: 'whatsapp', contact: { name: 'Maya Lindqvist' }, message: { channel: 'whatsapp', channelAccount: '106540352242922' } });
    expect(msg.payload.text).toMatch(/parcel/);
    expect(identitiesOf(msg)).toEqual(expect.arrayContaining(['phone:+447911123456', 'whatsapp_id:447911123456']));
    await settle();
    expect(received.messages).toHaveLength(1);
    expect(await storedRows()).toEqual({ contacts: 1, events: 1 });
  });
});

describe('omnithread-in: Telegram', () => {
  test('an update with the secret-token header emits a msg; without it (or wrong) 403 and nothing stored', async () => {
    const app = await load('telegram', { botId: '7000000001' }, { secretToken: 'tg_secret-1' });
    const received = collect('out');
    const body = fixture('telegram', 'text');
    expect((await request(app).post('/omnithread/telegram').set('content-type', 'application/json').send(body)).status).toBe(403);
    expect((await request(app).post('/omnithread/telegram').set('content-type', 'application/json').set('x-telegram-bot-api-secret-token', 'nope').send(body)).status).toBe(403);
    expect(await storedRows()).toEqual({ contacts: 0, events: 0 });

    await request(app).post('/omnithread/telegram').set('content-type', 'application/json').set('x-telegram-bot-api-secret-token', 'tg_secret-1').send(body).expect(200);
    const [msg] = await received.next();
    expect(msg.payload).toMatchObject({ channel: 'telegram', text: 'Hi, my parcel never arrived', message: { channelAccount: '7000000001' } });
    expect(identitiesOf(msg)).toContain('telegram_user:5123456789');
  });
});

describe('omnithread-in: Twilio', () => {
  const AUTH_TOKEN = 'twilio-auth-token';

  test('a signed SMS emits a msg and is answered with TwiML (text/xml); a wrong signature gets 403', async () => {
    const publicUrl = 'https://nodered.example.com/omnithread/sms';
    const app = await load('sms', { publicUrl }, { authToken: AUTH_TOKEN });
    const received = collect('out');
    const params = JSON.parse(fixture('twilio', 'inbound-sms')) as Record<string, string>;
    const form = new URLSearchParams(params).toString();

    const wrong = await request(app).post('/omnithread/sms').type('form').set('x-twilio-signature', twilioSignature(AUTH_TOKEN, 'https://elsewhere.example.com/sms', params)).send(form);
    expect(wrong.status).toBe(403);
    expect(await storedRows()).toEqual({ contacts: 0, events: 0 });

    const res = await request(app).post('/omnithread/sms').type('form').set('x-twilio-signature', twilioSignature(AUTH_TOKEN, publicUrl, params)).send(form);
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/xml');
    expect(res.text).toMatch(/<Response\s*\/>|<Response><\/Response>/);
    const [msg] = await received.next();
    expect(msg.payload).toMatchObject({ channel: 'sms', text: "Hi, my parcel never arrived & I'm <annoyed>" });
    expect(identitiesOf(msg)).toContain('phone:+447911123456');
  });

  test('an incoming call is answered with the greeting TwiML built from the node settings', async () => {
    const publicUrl = 'https://nodered.example.com/omnithread/voice';
    const app = await load('voice', { publicUrl, greeting: 'Hello from Omnithread', transcribe: false, maxRecordingSeconds: '60' }, { authToken: AUTH_TOKEN });
    const params = JSON.parse(fixture('twilio', 'incoming-call')) as Record<string, string>;
    const res = await request(app).post('/omnithread/voice').type('form').set('x-twilio-signature', twilioSignature(AUTH_TOKEN, publicUrl, params)).send(new URLSearchParams(params).toString());
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/xml');
    expect(res.text).toContain('<Say>Hello from Omnithread</Say>');
    expect(res.text).toContain('<Record maxLength="60" playBeep="true"/>');
  });
});

describe('omnithread-in: X direct messages', () => {
  test("X's CRC GET is answered with the response_token", async () => {
    const app = await load('x', {}, { consumerSecret: 'x-consumer-secret' });
    const res = await request(app).get('/omnithread/x').query({ crc_token: 'crc-123' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ response_token: xSignature('x-consumer-secret', 'crc-123') });
  });
});

test('a node without a path listens on /omnithread/<channel>', async () => {
  const app = await load('whatsapp', { path: '' }, { appSecret: 's', verifyToken: 't' });
  const res = await request(app).get('/omnithread/whatsapp').query({ 'hub.mode': 'subscribe', 'hub.verify_token': 't', 'hub.challenge': '42' });
  expect([res.status, res.text]).toEqual([200, '42']);
});

/**
 * Every channel through omnithread-in over real HTTP: a signed delivery in the provider's documented
 * format emits a msg with the recognised sender; a forged one is refused and stores nothing; a
 * redelivery is not emitted again.
 */
describe.each(CHANNEL_DELIVERIES)('$channel through omnithread-in', (delivery) => {
  test('forged: refused, nothing stored; signed: one msg with the sender; again: nothing more', async () => {
    const app = await load(delivery.channel, delivery.settings, delivery.secrets);
    const url = `/omnithread/${delivery.channel}`;
    const signed = delivery.body(`http://127.0.0.1${url}`);
    // The node's own connection (one per store file and process, as in production): a second connection
    // in this process would wait on the node's open transactions for SQLite's busy timeout.
    const { store, release } = await acquireStore({ type: 'sqlite', path: join(dir, 'omnithread.db') });
    try {
      const post = (d: typeof signed) => {
        let req = request(app).post(url).set('content-type', d.contentType);
        for (const [name, value] of Object.entries(d.headers)) req = req.set(name, value);
        return req.send(d.body);
      };
      const before = await countRows(store);
      expect((await post(forged(signed))).status).toBe(delivery.refusedWith);
      expect(await countRows(store)).toEqual(before);

      const messages = collect('out');
      expect((await post(signed)).status).toBe(200);
      const [msg] = await messages.next(1);
      const payload = msg.payload as { channel: string; contact: { identities: { kind: string; scope: string | null; value: string }[] } };
      expect(payload.channel).toBe(delivery.channel);
      expect(payload.contact.identities.map((i) => `${i.kind}:${i.scope ? `${i.scope}:` : ''}${i.value}`)).toContain(delivery.expectHandle);

      const emitted = messages.messages.length;
      expect((await post(signed)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(messages.messages).toHaveLength(emitted);
    } finally {
      await release();
    }
  });
});
