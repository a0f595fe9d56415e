/**
 * omnithread-reply and omnithread-channel inside Node-RED 5 (node-red-node-test-helper): the reply goes
 * to a local provider server (node:http on 127.0.0.1, the channel configs' API Base URL pointing at it)
 * that checks each request as the provider documents it. Plus the editor files' checks (literal
 * registerType, credentials in both places, a row and help for every send setting).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { CHANNELS } from '../../shared';
import type { Omnithread } from '../../shared';
import { message, phone, scoped } from '../support/messages';
import { FlowNode, collect, helper, loadFlow, tempDir, unloadFlow, waitForStatus } from '../support/node-red-helper';
import { ProviderAnswer, ProviderRequest, ProviderServer, startProvider } from '../support/provider-server';
import channelModule = require('../../nodes/node-red/omnithread-channel');

const { SENDING_CHANNELS, sendConfigOf } = channelModule;

const HOUR = 3600_000;
const PNID = '106540352242922';
const WA_TOKEN = 'EAAG-test-token';
const TG_TOKEN = '7000000001:AAtesttoken';

// ---------------------------------------------------------------------------------------------
// A local provider server: records every request; answers as the test says.
// ---------------------------------------------------------------------------------------------

type Seen = ProviderRequest;
type Answer = ProviderAnswer;

let provider: ProviderServer;
let baseUrl: string;
let seen: Seen[] = [];
let answer: (request: Seen) => Answer;

const defaultAnswer = (request: Seen): Answer => {
  const wa = /^\/v21\.0\/([^/]+)\/messages$/.exec(request.url);
  if (wa) {
    const ok = request.method === 'POST' && request.headers.authorization === `Bearer ${WA_TOKEN}` && request.headers['content-type']?.startsWith('application/json') && request.body?.messaging_product === 'whatsapp';
    return ok ? { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: request.body.to, wa_id: request.body.to }], messages: [{ id: `wamid.${seen.length}` }] } } : { status: 401, body: { error: { message: 'Invalid OAuth access token', type: 'OAuthException', code: 190 } } };
  }
  if (request.url === `/bot${TG_TOKEN}/sendMessage`) {
    return { status: 200, body: { ok: true, result: { message_id: 900 + seen.length, chat: { id: request.body.chat_id, type: 'private' }, date: 1764000000, text: request.body.text } } };
  }
  return { status: 404, body: { ok: false, error_code: 404, description: 'Not Found' } };
};

beforeAll(async () => {
  provider = await startProvider((request) => answer(request));
  ({ base: baseUrl, seen } = provider);
});
afterAll(() => provider.close());

// ---------------------------------------------------------------------------------------------
// Flows
// ---------------------------------------------------------------------------------------------

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  seen.length = 0;
  answer = defaultAnswer;
});
afterEach(async () => {
  await unloadFlow();
  cleanup();
});

const TAB = { id: 'f1', type: 'tab' };
const storeConfig = (): FlowNode => ({ id: 'store', type: 'omnithread-store', storeType: 'sqlite', sqlitePath: join(dir, 'omnithread.db'), workspace: 'nodered', autoMergeTrust: 'channel' });
/** Channel configs as the editor saves them: every default, then this channel's settings. */
const channelConfig = (id: string, channel: string, extra: Record<string, unknown> = {}): FlowNode => ({
  id,
  type: 'omnithread-channel',
  name: `${channel} account`,
  channel,
  phoneNumberId: '',
  apiVersion: 'v21.0',
  accountSid: '',
  from: '',
  messagingServiceSid: '',
  statusCallback: '',
  apiBaseUrl: baseUrl,
  ...extra,
});
const replyNode = (extra: Record<string, unknown> = {}): FlowNode => ({
  id: 'r1',
  z: 'f1',
  type: 'omnithread-reply',
  store: 'store',
  whatsappAccount: 'wa',
  messengerAccount: '',
  instagramAccount: '',
  telegramAccount: '',
  smsAccount: '',
  xAccount: '',
  channel: 'same',
  text: 'We are on it',
  mediaUrl: '',
  mediaType: 'image',
  templateName: '',
  templateLanguage: 'en',
  templateParameters: '',
  fallback: true,
  replyKey: 'reply',
  authorName: 'Support bot',
  authorType: 'ai',
  wires: [['out']],
  ...extra,
});
const out: FlowNode = { id: 'out', z: 'f1', type: 'helper' };
const catcher: FlowNode[] = [
  { id: 'catcher', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', z: 'f1', type: 'helper' },
];

async function load(reply: Record<string, unknown> = {}, withTelegram = false) {
  const flow = [TAB, storeConfig(), channelConfig('wa', 'whatsapp'), ...(withTelegram ? [channelConfig('tg', 'telegram')] : []), replyNode(reply), out, ...catcher];
  await loadFlow(flow, { wa: { accessToken: WA_TOKEN }, ...(withTelegram ? { tg: { botToken: TG_TOKEN } } : {}) });
  const ot = await (helper.getNode('store') as unknown as { omnithread: Promise<Omnithread> }).omnithread;
  return ot;
}

/** A WhatsApp message from Maya, `ageMs` ago, recorded as the trigger records it (replyTo included). */
const whatsappInbound = (ot: Omnithread, ageMs = 60_000) =>
  ot.ingest(
    message([phone('+447911123456'), scoped('whatsapp_id', PNID, '447911123456')], {
      channel: 'whatsapp',
      channelAccount: PNID,
      replyTo: { to: '447911123456', phoneNumberId: PNID },
      text: 'My parcel never arrived',
      sentAt: new Date(Date.now() - ageMs).toISOString(),
    }),
  );
const telegramInbound = (ot: Omnithread, ageMs = 60_000) =>
  ot.ingest(
    message([scoped('telegram_user', '7000000001', '5123456789'), phone('+447911123456')], {
      channel: 'telegram',
      channelAccount: '7000000001',
      replyTo: { chatId: 5123456789 },
      text: 'Also on telegram',
      sentAt: new Date(Date.now() - ageMs).toISOString(),
    }),
  );
/** What omnithread in sends on: the contact and the event. */
const triggerMsg = (ingested: Awaited<ReturnType<typeof whatsappInbound>>) => ({ payload: { contactId: ingested.contact.id, event: ingested.event, channel: ingested.event!.channel } });

describe('omnithread-reply', () => {
  test('answers a WhatsApp message through the Cloud API and outputs the ReplyResult; the same msg again sends nothing', async () => {
    const ot = await load();
    const wa = await whatsappInbound(ot);
    const received = collect('out');

    helper.getNode('r1').receive(triggerMsg(wa));
    const [first] = await received.next();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: `/v21.0/${PNID}/messages`, headers: { authorization: `Bearer ${WA_TOKEN}` } });
    expect(seen[0].body).toMatchObject({ messaging_product: 'whatsapp', recipient_type: 'individual', to: '447911123456', type: 'text', text: { body: 'We are on it' } });
    expect(first.payload).toMatchObject({ duplicate: false, channel: 'whatsapp', via: 'message', providerMessageId: 'wamid.1', explanation: 'Sent on whatsapp' });
    expect(first.payload.event).toMatchObject({ direction: 'outbound', channel: 'whatsapp', channelAccount: PNID, data: { sendState: 'sent', metadata: { inReplyTo: wa.event!.id } } });
    await waitForStatus(helper.getNode('r1'), { fill: 'green', text: 'sent on whatsapp' });

    helper.getNode('r1').receive(triggerMsg(wa));
    const [, second] = await received.next(2);
    expect(second.payload).toMatchObject({ duplicate: true, channel: 'whatsapp', providerMessageId: 'wamid.1' });
    expect(seen).toHaveLength(1);
    await waitForStatus(helper.getNode('r1'), { fill: 'grey', text: 'already sent' });
    const outbound = (await ot.timeline(wa.contact.id, { kinds: ['message'] })).events.filter((e) => e.direction === 'outbound');
    expect(outbound).toHaveLength(1);
  });

  test('msg.reply overrides the text; msg.payload.contact.id is enough to find the person', async () => {
    const ot = await load();
    const wa = await whatsappInbound(ot);
    const received = collect('out');
    helper.getNode('r1').receive({ reply: 'Tracking: XY123', payload: { contact: { id: wa.contact.id } } });
    const [msg] = await received.next();
    expect(msg.payload).toMatchObject({ duplicate: false, channel: 'whatsapp' });
    expect(seen[0].body.text.body).toBe('Tracking: XY123');
  });

  test('outside the 24-hour window the WhatsApp template is sent', async () => {
    const ot = await load({ templateName: 'order_update', templateLanguage: 'en_US', templateParameters: 'Maya\nXY123, tracked' });
    const wa = await whatsappInbound(ot, 30 * HOUR);
    const received = collect('out');
    helper.getNode('r1').receive(triggerMsg(wa));
    const [msg] = await received.next();
    expect(msg.payload).toMatchObject({ duplicate: false, channel: 'whatsapp', via: 'template' });
    expect(seen).toHaveLength(1);
    expect(seen[0].url).toBe(`/v21.0/${PNID}/messages`);
    expect(seen[0].body).toMatchObject({
      type: 'template',
      to: '447911123456',
      template: { name: 'order_update', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Maya' }, { type: 'text', text: 'XY123, tracked' }] }] },
    });
    await waitForStatus(helper.getNode('r1'), { fill: 'green', text: 'template on whatsapp' });
  });

  test('outside the window without a template, the answer falls back to Telegram through its channel config', async () => {
    const ot = await load({ telegramAccount: 'tg' }, true);
    await telegramInbound(ot, 40 * HOUR);
    const wa = await whatsappInbound(ot, 30 * HOUR);
    expect(wa.contact.id).toBeDefined();
    const received = collect('out');
    helper.getNode('r1').receive(triggerMsg(wa));
    const [msg] = await received.next();
    expect(msg.payload).toMatchObject({ duplicate: false, channel: 'telegram', via: 'fallback' });
    expect(msg.payload.explanation).toMatch(/instead of whatsapp/);
    expect(seen.map((s) => s.url)).toEqual([`/bot${TG_TOKEN}/sendMessage`]);
    expect(seen[0].body).toMatchObject({ chat_id: 5123456789, text: 'We are on it' });
    await waitForStatus(helper.getNode('r1'), { fill: 'yellow', text: 'fallback: telegram' });
  });

  test('without a Telegram account in the node there is no fallback: WINDOW_CLOSED reaches the Catch node', async () => {
    const ot = await load();
    await telegramInbound(ot, 40 * HOUR);
    const wa = await whatsappInbound(ot, 30 * HOUR);
    const caught = collect('caught');
    helper.getNode('r1').receive(triggerMsg(wa));
    const [msg] = await caught.next();
    expect(msg.error).toMatchObject({ code: 'WINDOW_CLOSED', source: { id: 'r1', type: 'omnithread-reply' } });
    expect(seen).toHaveLength(0);
    await waitForStatus(helper.getNode('r1'), { fill: 'red', text: 'window closed' });
  });

  test('429 with a Retry-After beyond the retry budget: the Catch node gets RATE_LIMITED with retryAfterSeconds at once; the outbound event is recorded as failed', async () => {
    const ot = await load({ retryBudgetSeconds: '5' });
    answer = () => ({ status: 429, headers: { 'retry-after': '7' }, body: { error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429, fbtrace_id: 'A1' } } });
    const wa = await whatsappInbound(ot);
    const caught = collect('caught');
    const received = collect('out');
    helper.getNode('r1').receive(triggerMsg(wa));
    const [msg] = await caught.next();
    expect(msg.error).toMatchObject({ code: 'RATE_LIMITED', cause: { code: 'RATE_LIMITED', details: { retryAfterSeconds: 7, attempts: 1, delivery: 'not_sent' } } });
    expect(msg.error.message).toContain('beyond the retry budget of 5 s');
    expect(seen).toHaveLength(1);
    await waitForStatus(helper.getNode('r1'), { fill: 'red', text: 'rate limited' });
    expect(received.messages).toHaveLength(0);
    const outbound = (await ot.timeline(wa.contact.id, { kinds: ['message'] })).events.filter((e) => e.direction === 'outbound');
    expect(outbound).toHaveLength(1);
    expect(outbound[0].data).toMatchObject({ sendState: 'failed' });

    // Once the provider takes it again, the same msg is retried and sent.
    answer = defaultAnswer;
    helper.getNode('r1').receive(triggerMsg(wa));
    const [sent] = await received.next();
    expect(sent.payload).toMatchObject({ duplicate: false, channel: 'whatsapp', via: 'message' });
  });

  test("429 with a short Retry-After: waits as long as the provider asks, tries again and sends once", async () => {
    const ot = await load();
    let calls = 0;
    answer = (request) => (++calls === 1 ? { status: 429, headers: { 'retry-after': '1' }, body: { error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429, fbtrace_id: 'A2' } } } : defaultAnswer(request));
    const wa = await whatsappInbound(ot);
    const received = collect('out');
    const started = Date.now();
    helper.getNode('r1').receive(triggerMsg(wa));
    const [sent] = await received.next(1, 10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(sent.payload).toMatchObject({ duplicate: false, channel: 'whatsapp', event: { data: { sendState: 'sent', send: { attempts: 2 } } } });
    expect(seen).toHaveLength(2);
  });

  test('an account selector pointing at a config of another channel is an INVALID_INPUT naming the field', async () => {
    await loadFlow([TAB, storeConfig(), channelConfig('tg', 'telegram'), replyNode({ whatsappAccount: 'tg' }), out, ...catcher], { tg: { botToken: TG_TOKEN } });
    const ot = await (helper.getNode('store') as unknown as { omnithread: Promise<Omnithread> }).omnithread;
    const wa = await whatsappInbound(ot);
    const caught = collect('caught');
    helper.getNode('r1').receive(triggerMsg(wa));
    const [msg] = await caught.next();
    expect(msg.error).toMatchObject({ code: 'INVALID_INPUT', cause: { field: 'whatsappAccount' } });
    expect(seen).toHaveLength(0);
  });
});

describe('omnithread-channel', () => {
  test("exposes the chosen channel's send settings: secrets from credentials, empty ones and other channels' defaults left out", () => {
    expect(sendConfigOf('telegram', { apiBaseUrl: 'https://graph.facebook.com', phoneNumberId: '123' }, { botToken: TG_TOKEN, accessToken: 'x' })).toEqual({ botToken: TG_TOKEN });
    expect(sendConfigOf('whatsapp', { apiBaseUrl: 'https://graph.facebook.com', phoneNumberId: ' 123 ', apiVersion: '' }, { accessToken: 'x' })).toEqual({ accessToken: 'x', phoneNumberId: '123', apiBaseUrl: 'https://graph.facebook.com' });
    for (const channel of SENDING_CHANNELS) {
      const parsed = CHANNELS[channel].sendConfigSchema!.safeParse(sendConfigOf(channel, {}, {}));
      expect({ channel, ok: parsed.success }).toEqual({ channel, ok: false }); // the secret (email: the host and from address) is required
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Editor files (the package-wide checks in packaging.test.ts apply once the lead lists the nodes).
// ---------------------------------------------------------------------------------------------

const ROOT = join(__dirname, '..', '..');
interface EditorDef {
  category: string;
  icon?: string;
  defaults: Record<string, { value: unknown; type?: string; filter?: (config: { channel: string }) => boolean }>;
  credentials?: Record<string, { type: string }>;
}
function editorOf(type: string) {
  const html = readFileSync(join(ROOT, 'nodes', 'node-red', `${type}.html`), 'utf8');
  const defs: Record<string, EditorDef> = {};
  const validator = () => () => true;
  for (const [, script] of html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)) {
    runInNewContext(script, { RED: { nodes: { registerType: (t: string, d: EditorDef) => (defs[t] = d) }, validators: { number: validator, regex: validator } } });
  }
  const template = new RegExp(`<script type="text/html" data-template-name="${type}">([\\s\\S]*?)</script>`).exec(html)?.[1] ?? '';
  const help = new RegExp(`<script type="text/markdown" data-help-name="${type}">([\\s\\S]*?)</script>`).exec(html)?.[1] ?? '';
  return { html, def: defs[type], types: Object.keys(defs), template, help };
}
function runtimeOf(type: string): Record<string, { credentials?: Record<string, unknown> }> {
  const registered: Record<string, { credentials?: Record<string, unknown> }> = {};
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const init = require(join(ROOT, 'nodes', 'node-red', `${type}.ts`)) as (red: unknown) => void;
  init({ nodes: { registerType: (t: string, _c: unknown, options: { credentials?: Record<string, unknown> } = {}) => (registered[t] = options) }, httpAdmin: { get: () => undefined }, auth: { needsPermission: () => () => undefined }, settings: {} });
  return registered;
}

describe.each(['omnithread-channel', 'omnithread-reply'])('%s editor file', (type) => {
  const { html, def, types, template, help } = editorOf(type);

  test('a literal registerType, with the same credentials as the runtime', () => {
    expect(types).toEqual([type]);
    expect(html).toContain(`RED.nodes.registerType('${type}', {`);
    const runtime = runtimeOf(type);
    expect(Object.keys(runtime)).toEqual([type]);
    expect(Object.keys(runtime[type].credentials ?? {}).sort()).toEqual(Object.keys(def.credentials ?? {}).sort());
  });

  test('an input and help for every property', () => {
    const prefix = def.category === 'config' ? 'node-config-input-' : 'node-input-';
    for (const key of [...Object.keys(def.defaults), ...Object.keys(def.credentials ?? {})]) {
      expect({ key, hasInput: template.includes(`id="${prefix}${key}"`) }).toEqual({ key, hasInput: true });
      const label = new RegExp(`<label for="${prefix}${key}">(?:<i [^>]*></i>)?\\s*([^<]*)</label>`).exec(template)?.[1].trim();
      expect({ key, documented: Boolean(label && new RegExp(`: (?:[^:\\n]*, )?${label.replace(/[()]/g, '\\$&')}(?:, [^:\\n]*)? \\(`).test(help)) }).toEqual({ key, documented: true });
    }
    expect(help).toMatch(/### Properties/);
    if (def.category !== 'config') {
      expect(def.category).toBe('omnithread');
      expect(help).toMatch(/### Outputs/);
      expect(def.icon).toBe('omnithread-reply.svg');
      expect(def.defaults.store).toMatchObject({ type: 'omnithread-store' });
    }
  });
});

test('omnithread-channel offers every channel that can send, and a row per send setting (secrets as credentials, module defaults)', () => {
  const { def, template, help, html } = editorOf('omnithread-channel');
  const options = [...template.matchAll(/<option value="([^"]+)"/g)].map((m) => m[1]);
  expect(options).toEqual(SENDING_CHANNELS);
  expect(SENDING_CHANNELS).toEqual(['whatsapp', 'messenger', 'instagram', 'telegram', 'sms', 'x', 'email']);
  // Web chat sends without settings: no account config for it, and reply nodes always offer it.
  expect(CHANNELS.webchat.sendFields).toEqual([]);
  expect(def.defaults.channel.value).toBe('whatsapp');
  for (const id of SENDING_CHANNELS) {
    for (const field of CHANNELS[id].sendFields ?? []) {
      const row = new RegExp(`<div class="form-row omnithread-channel-send-row" data-channels="([^"]*)">\\s*<label for="node-config-input-${field.name}">(?:<i [^>]*></i>)?\\s*([^<]*)</label>\\s*<input ([^>]*)>`).exec(template);
      const kind = /type="([a-z]+)"/.exec(row?.[3] ?? '')?.[1];
      // A field two channels share (From Number / From Address) is one input whose label follows the channel.
      const label = new RegExp(`data-label-${id}="([^"]*)"`).exec(row?.[3] ?? '')?.[1] ?? row?.[2].trim();
      expect({ id, field: field.name, row: row?.[1].split(/\s+/).includes(id), label, kind }).toEqual({ id, field: field.name, row: true, label: field.displayName, kind: field.secret ? 'password' : field.type === 'boolean' ? 'checkbox' : 'text' });
      if (field.secret) expect(def.credentials?.[field.name]).toEqual({ type: 'password' });
      else if (field.name === 'apiBaseUrl') expect(html).toContain(`${id}: '${field.default}'`); // follows the channel in the editor
      else expect({ field: field.name, value: def.defaults[field.name]?.value }).toEqual({ field: field.name, value: field.default ?? '' });
      expect(help).toContain(`: ${field.displayName} (`);
    }
  }
  expect(def.defaults.apiBaseUrl.value).toBe(CHANNELS.whatsapp.sendFields!.find((f) => f.name === 'apiBaseUrl')!.default);
});

test('omnithread-reply has one account selector per sending channel, offering only that channel\'s configs', () => {
  const { def } = editorOf('omnithread-reply');
  for (const id of SENDING_CHANNELS) {
    const selector = def.defaults[`${id}Account`];
    expect(selector).toMatchObject({ value: '', type: 'omnithread-channel' });
    expect(selector.filter?.({ channel: id })).toBe(true);
    expect(selector.filter?.({ channel: id === 'x' ? 'sms' : 'x' })).toBe(false);
  }
  expect(def.defaults.fallback.value).toBe(true);
});
