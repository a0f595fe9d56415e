/**
 * Messenger and Instagram channel modules (one file for both: they share ./shared/channels/meta-messaging.ts).
 *
 * Formats checked against Meta's documentation:
 * - Webhook handshake and X-Hub-Signature-256: https://developers.facebook.com/docs/graph-api/webhooks/getting-started
 * - messages: https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/messages
 * - message_echoes: https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/message-echoes
 * - message_deliveries: https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/message-deliveries
 * - message_reads: https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/message-reads
 * - Instagram webhook payloads: https://developers.facebook.com/documentation/instagram-platform/webhooks/examples
 *   and https://developers.facebook.com/docs/instagram-messaging/webhooks
 * - Send API: https://developers.facebook.com/docs/messenger-platform/reference/send-api
 * - Instagram send: https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message
 * - Error codes: https://developers.facebook.com/docs/messenger-platform/reference/send-api/error-codes
 */
import { readFileSync } from 'node:fs';
import { ProviderAnswer, ProviderRequest, ProviderServer, startProvider } from '../support/provider-server';
import { join } from 'node:path';
import axios from 'axios';
import fc from 'fast-check';
import {
  SyncChannelModule,
  InboundItem,
  MessageInputSchema,
  OmnithreadError,
  StatusUpdateInputSchema,
  Store,
  WebhookRequest,
  channelConfig,
  createOmnithread,
  handleWebhook,
  openStore,
  renderReply,
} from '../../shared';
import { instagramChannel } from '../../shared/channels/instagram';
import { metaSignature } from '../../shared/channels/meta';
import { MetaMessagingConfig } from '../../shared/channels/meta-messaging';
import { messengerChannel } from '../../shared/channels/messenger';
import { countRows, createTestStoreConfig, describeStores, uniqueWorkspace } from '../support/stores';

const APP_SECRET = 'meta-app-secret';
const VERIFY_TOKEN = 'verify-me';
const fixture = (name: string): string => readFileSync(join(__dirname, 'fixtures', name), 'utf8');

const channels: [string, SyncChannelModule<MetaMessagingConfig>, string][] = [
  ['messenger', messengerChannel, 'page'],
  ['instagram', instagramChannel, 'instagram'],
];

function post(body: unknown, options: { sign?: boolean | string; secret?: string } = {}): WebhookRequest {
  const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const signature = typeof options.sign === 'string' ? options.sign : options.sign === false ? undefined : metaSignature(options.secret ?? APP_SECRET, raw);
  return { method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature-256': signature } : {}) }, query: {}, rawBody: raw };
}

const handshake = (query: Record<string, unknown>): WebhookRequest => ({ method: 'GET', headers: {}, query, rawBody: Buffer.alloc(0) });

function refusal(fn: () => unknown): OmnithreadError {
  try {
    fn();
  } catch (error) {
    return error as OmnithreadError;
  }
  throw new Error('expected a refusal');
}

/** One text message from `sender` to `account`, as Meta delivers it. */
function delivery(object: string, account: string, sender: string, mid: string, text = 'hello'): unknown {
  return {
    object,
    entry: [{ id: account, time: 1764000000000, messaging: [{ sender: { id: sender }, recipient: { id: account }, timestamp: 1764000000000, message: { mid, text } }] }],
  };
}

describe.each(channels)('%s channel: handshake, signature, refusals', (id, channel, object) => {
  const config = channelConfig(channel, { appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN });

  test('settings, secrets and send settings', () => {
    expect(channel.id).toBe(id);
    expect(channel.settings).toEqual(['appSecret', 'verifyToken']);
    expect(channel.secrets).toEqual(['appSecret', 'verifyToken']);
    expect(channel.settingFields?.map((f) => [f.name, f.secret ?? false])).toEqual([
      ['appSecret', true],
      ['verifyToken', true],
    ]);
    expect(channel.sendFields?.map((f) => f.name)).toEqual(Object.keys((channel.sendConfigSchema as unknown as { shape: object }).shape));
    expect(channel.sendConfigSchema?.parse({ pageAccessToken: 't' })).toEqual({ pageAccessToken: 't', apiVersion: 'v21.0', apiBaseUrl: 'https://graph.facebook.com' });
    expect(() => channelConfig(channel, { appSecret: 'x', other: 1 })).toThrow(/other/);
  });

  test('GET handshake: the challenge echoed as text/plain with 200; a wrong token gets 403', () => {
    const ok = channel.challenge?.(handshake({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1158201444' }), config);
    expect(ok).toEqual({ status: 200, body: '1158201444', type: 'text' });
    expect(renderReply(ok!)).toEqual({ status: 200, contentType: 'text/plain; charset=utf-8', body: '1158201444', headers: {} });
    expect(channel.challenge?.(handshake({ 'hub.mode': 'subscribe', 'hub.verify_token': 'nope', 'hub.challenge': '1' }), config)?.status).toBe(403);
    expect(channel.challenge?.(handshake({ 'hub.mode': 'subscribe', 'hub.challenge': '1' }), config)?.status).toBe(403);
    // Deliveries are POSTs: not a handshake.
    expect(channel.challenge?.(post(delivery(object, '1', '2', 'm')), config)).toBeUndefined();
  });

  test('X-Hub-Signature-256 over the raw body', () => {
    const body = delivery(object, '1', '2', 'm');
    expect(channel.verify(post(body), config)).toEqual({ ok: true });
    expect(channel.verify(post(body, { sign: false }), config)).toMatchObject({ ok: false, status: 401, reason: 'missing X-Hub-Signature-256 header' });
    expect(channel.verify(post(body, { secret: 'other' }), config)).toMatchObject({ ok: false, status: 401 });
    const signed = post(body);
    expect(channel.verify({ ...signed, rawBody: Buffer.from(signed.rawBody.toString().replace('hello', 'hellO')) }, config).ok).toBe(false);
    // No app secret configured: nothing is accepted.
    expect(channel.verify(post(body), channelConfig(channel, {}))).toMatchObject({ ok: false, status: 401 });
  });

  test.each([
    ['', '(body)', 'empty'],
    ['{nope', '(body)', 'not valid JSON'],
    [JSON.stringify({ object: 'whatsapp_business_account', entry: [] }), 'object', `must be "${object}"`],
    [JSON.stringify({ entry: [] }), 'object', 'Required'],
    [JSON.stringify({ object }), 'entry', 'Required'],
    [JSON.stringify({ object, entry: [{ id: '1', messaging: [{ sender: { id: '2' }, recipient: { id: '1' }, message: { text: 'x' } }] }] }), 'entry.0.messaging.0.message.mid', 'is required'],
    [JSON.stringify({ object, entry: [{ id: '1', messaging: [{ sender: { id: '' }, recipient: { id: '1' }, message: { mid: 'm' } }] }] }), 'entry.0.messaging.0.sender.id', 'must not be empty'],
    [JSON.stringify({ object, entry: [{ id: '1', messaging: [{ sender: { id: '2' }, recipient: { id: '1' }, timestamp: 'yesterday', message: { mid: 'm' } }] }] }), 'entry.0.messaging.0.timestamp', 'Expected number'],
  ])('malformed body %s is refused naming %s', (raw, field, words) => {
    const error = refusal(() => channel.parse(post(raw), config));
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.field).toBe(field);
    expect(error.message).toContain(words);
  });
});

describe('Messenger fixtures', () => {
  const config = channelConfig(messengerChannel, { appSecret: APP_SECRET });

  test('a text message with a quick reply', () => {
    const raw = JSON.parse(fixture('messenger/text-quick-reply.json'));
    expect(messengerChannel.parse(post(raw), config)).toEqual([
      {
        type: 'message',
        message: {
          channel: 'messenger',
          channelAccount: '1100200300',
          providerMessageId: 'm_text_1',
          threadKey: '1100200300:7001',
          from: { handles: [{ kind: 'messenger_psid', scope: '1100200300', value: '7001', trust: 'channel' }] },
          text: 'Track my order',
          attachments: [],
          sentAt: 1764000000000,
          replyTo: { recipientId: '7001', pageId: '1100200300' },
          metadata: { quickReply: { payload: 'TRACK_ORDER' } },
          raw: raw.entry[0].messaging[0],
        },
      },
    ]);
  });

  test('several events in one delivery: attachments and reply_to, an echo of another sender as ours, postbacks, deliveries, a watermark read; reactions skipped', () => {
    const raw = JSON.parse(fixture('messenger/batch.json'));
    const events = raw.entry[0].messaging;
    const items = messengerChannel.parse(post(raw), config);
    const handle = (page: string) => ({ handles: [{ kind: 'messenger_psid', scope: page, value: '7001', trust: 'channel' }] });
    expect(items).toEqual([
      {
        type: 'message',
        message: {
          channel: 'messenger',
          channelAccount: '1100200300',
          providerMessageId: 'm_attach_1',
          // reply_to names the message it answers: the reply continues that message's conversation.
          inReplyTo: ['m_out_9'],
          threadKey: '1100200300:7001',
          from: handle('1100200300'),
          text: 'Here is the damage',
          attachments: [
            { url: 'https://scontent.example/photo.jpg', contentType: 'image/*' },
            { url: 'https://cdn.example/receipt.pdf', contentType: 'application/octet-stream' },
            { url: 'https://shop.example/p/1', name: 'Our shop' },
          ],
          sentAt: 1764000100000,
          replyTo: { recipientId: '7001', pageId: '1100200300' },
          metadata: { attachmentTypes: ['image', 'file', 'fallback'], replyTo: { mid: 'm_out_9', is_self_reply: false } },
          raw: events[0],
        },
      },
      {
        // An echo without our metadata: somebody answered from the page (the Business Suite inbox, another
        // tool). It is ours, to the customer: recorded as outbound on their timeline.
        type: 'message',
        message: {
          channel: 'messenger',
          channelAccount: '1100200300',
          providerMessageId: 'm_echo_1',
          direction: 'outbound',
          threadKey: '1100200300:7001',
          from: { handles: [{ kind: 'external_id', scope: 'messenger', value: '1100200300', trust: 'channel' }] },
          to: handle('1100200300'),
          text: 'We are on it',
          attachments: [],
          sentAt: 1764000100100,
          replyTo: { recipientId: '7001', pageId: '1100200300' },
          metadata: { echo: { appId: 1517776481860111 } },
          raw: events[1],
        },
      },
      {
        type: 'message',
        message: {
          channel: 'messenger',
          channelAccount: '1100200300',
          providerMessageId: 'm_postback_1',
          threadKey: '1100200300:7001',
          from: handle('1100200300'),
          text: 'Talk to a human',
          attachments: [],
          sentAt: 1764000100200,
          replyTo: { recipientId: '7001', pageId: '1100200300' },
          metadata: { postback: { title: 'Talk to a human', payload: 'HUMAN' } },
          raw: events[2],
        },
      },
      { type: 'status', status: { channel: 'messenger', channelAccount: '1100200300', providerMessageId: 'm_out_9', status: 'delivered', at: 1764000100300, details: {} } },
      { type: 'status', status: { channel: 'messenger', channelAccount: '1100200300', providerMessageId: 'm_out_10', status: 'delivered', at: 1764000100300, details: {} } },
      // A Messenger read names no message: every message we sent her up to the watermark is read.
      {
        type: 'status',
        status: {
          channel: 'messenger',
          channelAccount: '1100200300',
          upTo: 1764000100300,
          recipient: { kind: 'messenger_psid', scope: '1100200300', value: '7001', trust: 'channel' },
          status: 'read',
          at: 1764000100400,
          details: {},
        },
      },
      {
        type: 'message',
        message: {
          channel: 'messenger',
          channelAccount: '2200300400',
          // A postback without mid (older API versions): a stable id from sender and timestamp.
          providerMessageId: 'postback:7001:1764000100500',
          threadKey: '2200300400:7001',
          from: handle('2200300400'),
          text: 'Get Started',
          attachments: [],
          sentAt: 1764000100500,
          replyTo: { recipientId: '7001', pageId: '2200300400' },
          metadata: { postback: { title: 'Get Started', payload: 'GET_STARTED' } },
          raw: raw.entry[1].messaging[0],
        },
      },
    ]);
    // Everything the parser gives passes the core's validation.
    for (const item of items) (item.type === 'message' ? MessageInputSchema : StatusUpdateInputSchema).parse(item.type === 'message' ? item.message : item.status);
  });
});

describe('Instagram fixtures', () => {
  test('text, attachments, echo ignored, deleted message as a canceled status, postback, reaction skipped, seen as read', () => {
    const raw = JSON.parse(fixture('instagram/batch.json'));
    const events = raw.entry[0].messaging;
    const account = '17841400000000001';
    const common = {
      channel: 'instagram',
      channelAccount: account,
      threadKey: `${account}:9001`,
      from: { handles: [{ kind: 'instagram_igsid', scope: account, value: '9001', trust: 'channel' }] },
      replyTo: { recipientId: '9001', accountId: account },
    };
    expect(instagramChannel.parse(post(raw), channelConfig(instagramChannel, { appSecret: APP_SECRET }))).toEqual([
      { type: 'message', message: { ...common, providerMessageId: 'ig_mid_1', text: 'Is this in stock?', attachments: [], sentAt: 1764000200000, raw: events[0] } },
      {
        type: 'message',
        message: {
          ...common,
          providerMessageId: 'ig_mid_2',
          text: '',
          attachments: [
            { url: 'https://lookaside.example/clip.mp4', contentType: 'video/*' },
            { url: 'https://lookaside.example/reel', name: 'Spring drop' },
          ],
          sentAt: 1764000200100,
          metadata: { attachmentTypes: ['video', 'ig_reel'] },
          raw: events[1],
        },
      },
      { type: 'status', status: { channel: 'instagram', channelAccount: account, providerMessageId: 'ig_mid_1', status: 'canceled', at: 1764000200300, details: { event: 'message_deleted' } } },
      {
        type: 'message',
        message: { ...common, providerMessageId: 'ig_postback_1', text: 'Order status', attachments: [], sentAt: 1764000200400, metadata: { postback: { title: 'Order status', payload: 'ORDER_STATUS' } }, raw: events[4] },
      },
      { type: 'status', status: { channel: 'instagram', channelAccount: account, providerMessageId: 'ig_out_1', status: 'read', at: 1764000200600, details: {} } },
    ]);
  });
});

describeStores('Messenger and Instagram webhooks', (ctx) => {
  const messengerConfig = channelConfig(messengerChannel, { appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN });
  const instagramConfig = channelConfig(instagramChannel, { appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN });

  test('a signed delivery is recorded with the PSID scoped to the page; the same PSID under another page is another contact; redelivery recognised', async () => {
    const ot = ctx().omnithread();
    const first = await handleWebhook(ot, messengerChannel, messengerConfig, post(delivery('page', 'page-A', '7001', 'mid-1', 'Where is my parcel?')));
    expect(first.reply).toEqual({ status: 200, body: { received: 1, recorded: 1, duplicates: 0 } });
    const contact = first.recorded[0].contact;
    expect(contact.identities).toEqual([expect.objectContaining({ kind: 'messenger_psid', scope: 'page-A', value: '7001', trust: 'channel' })]);
    expect(first.recorded[0].message).toMatchObject({ channel: 'messenger', channelAccount: 'page-A', replyTo: { recipientId: '7001', pageId: 'page-A' } });

    const same = await handleWebhook(ot, messengerChannel, messengerConfig, post(delivery('page', 'page-A', '7001', 'mid-2')));
    expect(same.recorded[0].contact.id).toBe(contact.id);
    const otherPage = await handleWebhook(ot, messengerChannel, messengerConfig, post(delivery('page', 'page-B', '7001', 'mid-3')));
    expect(otherPage.recorded[0].contact.id).not.toBe(contact.id);

    const again = await handleWebhook(ot, messengerChannel, messengerConfig, post(delivery('page', 'page-A', '7001', 'mid-1', 'Where is my parcel?')));
    expect(again.reply.body).toEqual({ received: 1, recorded: 0, duplicates: 1 });
    expect(again.duplicates[0].event?.id).toBe(first.recorded[0].event?.id);
  });

  test('the handshake through the handler, and delivery statuses of our own replies', async () => {
    const ot = ctx().omnithread();
    const hello = await handleWebhook(ot, messengerChannel, messengerConfig, handshake({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': 'abc' }));
    expect(hello.reply).toEqual({ status: 200, body: 'abc', type: 'text' });
    const first = await handleWebhook(ot, messengerChannel, messengerConfig, post(delivery('page', 'page-A', '7001', 'mid-in')));
    await ot.recordOutbound(first.recorded[0].contact.id, { channel: 'messenger', channelAccount: 'page-A', providerMessageId: 'mid-out', text: 'On its way' });
    const receipt = { object: 'page', entry: [{ id: 'page-A', messaging: [{ sender: { id: '7001' }, recipient: { id: 'page-A' }, delivery: { mids: ['mid-out', 'mid-unknown'], watermark: 1764000000500 } }] }] };
    const outcome = await handleWebhook(ot, messengerChannel, messengerConfig, post(receipt));
    expect(outcome.reply).toEqual({ status: 200, body: { received: 0, recorded: 0, duplicates: 0, statuses: { recorded: 1, duplicates: 0, unknown: 1 } } });
    const again = await handleWebhook(ot, messengerChannel, messengerConfig, post(receipt));
    expect(again.statuses).toEqual({ recorded: 0, duplicates: 1, unknown: 1 });
  });

  test('Instagram: IGSID scoped to the account, a separate contact from a Messenger PSID with the same digits', async () => {
    const ot = ctx().omnithread();
    const ig = await handleWebhook(ot, instagramChannel, instagramConfig, post(delivery('instagram', 'ig-1', '7001', 'ig-mid-1')));
    expect(ig.reply.status).toBe(200);
    expect(ig.recorded[0].contact.identities).toEqual([expect.objectContaining({ kind: 'instagram_igsid', scope: 'ig-1', value: '7001' })]);
    const fb = await handleWebhook(ot, messengerChannel, messengerConfig, post(delivery('page', 'ig-1', '7001', 'fb-mid-1')));
    expect(fb.recorded[0].contact.id).not.toBe(ig.recorded[0].contact.id);
    // A Messenger body sent to the Instagram webhook is refused.
    expect((await handleWebhook(ot, instagramChannel, instagramConfig, post(delivery('page', 'ig-1', '7001', 'x')))).reply).toMatchObject({ status: 400, body: { field: 'object' } });
  });

  test('bad or missing signature: 401; malformed body: 400 naming the field; nothing stored', async () => {
    const ot = ctx().omnithread();
    const before = await countRows(ctx().store);
    const unsigned = await handleWebhook(ot, messengerChannel, messengerConfig, post(delivery('page', 'p', '1', 'a'), { sign: false }));
    expect(unsigned.reply).toEqual({ status: 401, body: { error: 'Signature check failed: missing X-Hub-Signature-256 header' } });
    expect((await handleWebhook(ot, messengerChannel, messengerConfig, post(delivery('page', 'p', '1', 'a'), { sign: 'sha256=00' }))).reply.status).toBe(401);
    expect((await handleWebhook(ot, instagramChannel, instagramConfig, post(delivery('instagram', 'p', '1', 'a'), { secret: 'wrong' }))).reply.status).toBe(401);
    // One good event and one bad one in the same delivery: nothing at all is stored.
    const mixed = delivery('page', 'p', '1', 'good') as { entry: { messaging: unknown[] }[] };
    mixed.entry[0].messaging.push({ sender: { id: '1' }, recipient: { id: 'p' }, message: { text: 'no mid' } });
    const malformed = await handleWebhook(ot, messengerChannel, messengerConfig, post(mixed));
    expect(malformed.reply).toMatchObject({ status: 400, body: { field: 'entry.0.messaging.1.message.mid' } });
    const wrongObject = await handleWebhook(ot, messengerChannel, messengerConfig, post({ object: 'user', entry: [] }));
    expect(wrongObject.reply).toMatchObject({ status: 400, body: { field: 'object' } });
    expect(await countRows(ctx().store)).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------
// Random and mutated payloads
// ---------------------------------------------------------------------------------------------

const idArb = fc.oneof(
  { arbitrary: fc.constantFrom('7001', '1100200300', 'm_1', 'm_2'), weight: 12 },
  { arbitrary: fc.constantFrom('', ' ', 'x'.repeat(300)), weight: 1 },
  { arbitrary: fc.oneof(fc.string(), fc.integer(), fc.anything()), weight: 1 },
);
/** Mostly well-formed, sometimes anything at all. */
const mostly = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: fc.anything(), weight: 1 });
const str = mostly(fc.string());
const eventArb = (object: string) =>
  fc
    .record(
      {
        sender: mostly(fc.record({ id: idArb })),
        recipient: mostly(fc.record({ id: idArb })),
        timestamp: fc.oneof({ arbitrary: fc.constant(1764000000000), weight: 6 }, { arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constant(1e20), fc.anything()), weight: 1 }),
        message: mostly(
          fc.record(
            {
              mid: idArb,
              text: str,
              is_echo: mostly(fc.boolean()),
              is_deleted: mostly(fc.boolean()),
              quick_reply: mostly(fc.record({ payload: str })),
              reply_to: mostly(fc.record({ mid: idArb })),
              attachments: mostly(
                fc.array(
                  fc.record(
                    { type: mostly(fc.constantFrom('image', 'video', 'audio', 'file', 'fallback', 'ig_reel')), payload: mostly(fc.record({ url: mostly(fc.webUrl()) })), title: str },
                    { requiredKeys: ['type'] },
                  ),
                  { maxLength: 3 },
                ),
              ),
            },
            { requiredKeys: ['mid'] },
          ),
        ),
        postback: mostly(fc.record({ mid: idArb, title: str, payload: str }, { requiredKeys: [] })),
        delivery: mostly(fc.record({ mids: mostly(fc.array(idArb, { maxLength: 3 })), watermark: mostly(fc.nat()) }, { requiredKeys: [] })),
        read: mostly(fc.record({ mid: idArb, watermark: mostly(fc.nat()) }, { requiredKeys: [] })),
      },
      { requiredKeys: ['sender', 'recipient'] },
    )
    .map((event) => ({ object, event }));

const bodyArb = (object: string) =>
  fc.oneof(
    fc.anything(),
    fc.jsonValue(),
    fc.record({ object: fc.oneof(fc.constant(object), fc.constant('page'), fc.constant('instagram'), fc.anything()), entry: fc.anything() }),
    fc.tuple(fc.array(eventArb(object), { maxLength: 4 }), idArb).map(([events, id]) => ({ object, entry: [{ id, time: 1, messaging: events.map((e) => e.event) }] })),
  );

function checkItem(item: InboundItem): void {
  if (item.type === 'message') MessageInputSchema.parse(item.message);
  else StatusUpdateInputSchema.parse(item.status);
}

describe.each(channels)('%s: random and mutated payloads through verify and parse', (_id, channel, object) => {
  const config = channelConfig(channel, { appSecret: APP_SECRET });
  test('only valid items or INVALID_INPUT errors naming a field', () => {
    let parsed = 0;
    let refused = 0;
    fc.assert(
      fc.property(bodyArb(object), fc.boolean(), fc.boolean(), (body, asText, tamper) => {
        let raw: string;
        try {
          raw = asText && typeof body === 'string' ? body : (JSON.stringify(body) ?? '');
        } catch {
          raw = String(body);
        }
        const request = post(raw);
        if (tamper) {
          request.rawBody = Buffer.concat([request.rawBody, Buffer.from(' ')]);
          expect(channel.verify(request, config)).toMatchObject({ ok: false, status: 401 });
          return;
        }
        expect(channel.verify(request, config)).toEqual({ ok: true });
        try {
          channel.parse(request, config).forEach(checkItem);
          parsed++;
        } catch (error) {
          expect(error).toBeInstanceOf(OmnithreadError);
          expect((error as OmnithreadError).code).toBe('INVALID_INPUT');
          expect((error as OmnithreadError).field).toEqual(expect.any(String));
          refused++;
        }
      }),
      { numRuns: 3000, seed: 20261124 },
    );
    expect(parsed).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });
});

describe('random payloads through the webhook handler [sqlite]', () => {
  let store: Store;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const created = await createTestStoreConfig('sqlite');
    cleanup = created.cleanup;
    store = await openStore(created.config);
  });
  afterAll(async () => {
    await store.close();
    await cleanup();
  });

  test('refusals write nothing, acceptances answer 200', async () => {
    const ot = createOmnithread({ store, workspace: uniqueWorkspace() });
    const config = channelConfig(messengerChannel, { appSecret: APP_SECRET });
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(bodyArb('page'), fc.boolean(), async (body, unsigned) => {
        const before = await countRows(store);
        const outcome = await handleWebhook(ot, messengerChannel, config, post(JSON.stringify(body) ?? '', { sign: !unsigned }));
        if (outcome.reply.status === 200) {
          accepted++;
          return;
        }
        expect([400, 401]).toContain(outcome.reply.status);
        expect(await countRows(store)).toEqual(before);
        refused++;
      }),
      { numRuns: 300, seed: 20261124 },
    );
    expect(accepted).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(50);
  });
});

// ---------------------------------------------------------------------------------------------
// Sending through a local Graph API stand-in
// ---------------------------------------------------------------------------------------------

describe.each(channels)('%s send', (id, channel) => {
  // Messenger echoes message.metadata back: ours carry "omnithread", so an echo tells our messages from an agent's.
  const ours = id === 'messenger' ? { metadata: 'omnithread' } : {};
  let base: string;
  let seen: ProviderRequest[] = [];
  let answer: (seen: ProviderRequest) => ProviderAnswer = () => ({ status: 200, body: { recipient_id: '7001', message_id: 'm_sent_1' } });

  let provider: ProviderServer;
  beforeAll(async () => {
    provider = await startProvider((request) => answer(request));
    ({ base, seen } = provider);
  });
  afterAll(() => provider.close());
  beforeEach(() => {
    seen.length = 0;
    answer = () => ({ status: 200, body: { recipient_id: '7001', message_id: 'm_sent_1' } });
  });

  const sendConfig = () => ({ pageAccessToken: 'PAGE-TOKEN', apiBaseUrl: base });
  const to = { recipientId: '7001', pageId: '1100200300' };

  test('text: POST /v21.0/me/messages?access_token=..., JSON body exactly as the Send API expects', async () => {
    const result = await channel.send!({ to, text: 'Your parcel left the depot' }, sendConfig(), axios.create());
    expect(result).toEqual({ providerMessageId: 'm_sent_1', response: { recipient_id: '7001', message_id: 'm_sent_1' } });
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe('/v21.0/me/messages?access_token=PAGE-TOKEN');
    expect(seen[0].headers['content-type']).toMatch(/^application\/json/);
    expect(seen[0].body).toEqual({ recipient: { id: '7001' }, messaging_type: 'RESPONSE', message: { text: 'Your parcel left the depot', ...ours } });
  });

  test('media by URL (with text first, as attachments carry no caption); api version from the settings', async () => {
    let n = 0;
    answer = () => ({ status: 200, body: { recipient_id: '7001', message_id: `m_${++n}` } });
    const result = await channel.send!({ to, text: 'The label', media: { url: 'https://cdn.example/label.pdf', type: 'document' } }, { ...sendConfig(), apiVersion: 'v22.0' }, axios.create());
    expect(result.providerMessageId).toBe('m_2');
    expect(seen.map((s) => s.url)).toEqual(['/v22.0/me/messages?access_token=PAGE-TOKEN', '/v22.0/me/messages?access_token=PAGE-TOKEN']);
    expect(seen.map((s) => s.body)).toEqual([
      { recipient: { id: '7001' }, messaging_type: 'RESPONSE', message: { text: 'The label', ...ours } },
      { recipient: { id: '7001' }, messaging_type: 'RESPONSE', message: { attachment: { type: 'file', payload: { url: 'https://cdn.example/label.pdf', is_reusable: true } }, ...ours } },
    ]);
    seen.length = 0;
    await channel.send!({ to, text: '', media: { url: 'https://cdn.example/a.jpg', type: 'image' } }, sendConfig(), axios.create());
    expect(seen.map((s) => s.body)).toEqual([{ recipient: { id: '7001' }, messaging_type: 'RESPONSE', message: { attachment: { type: 'image', payload: { url: 'https://cdn.example/a.jpg', is_reusable: true } }, ...ours } }]);
  });

  test.each([
    [{ status: 429, body: { error: { message: 'Too many', code: 4 } }, headers: { 'retry-after': '30' } }, 'RATE_LIMITED', { retryAfterSeconds: 30 }],
    [{ status: 400, body: { error: { message: 'Calls to this API have exceeded the rate limit.', type: 'OAuthException', code: 613 } } }, 'RATE_LIMITED', {}],
    [{ status: 400, body: { error: { message: 'Application request limit reached', code: 4 } } }, 'RATE_LIMITED', {}],
    [{ status: 401, body: { error: { message: 'Invalid OAuth access token.', type: 'OAuthException', code: 190, fbtrace_id: 'BLBz' } } }, 'AUTH_FAILED', {}],
    [{ status: 400, body: { error: { message: 'Error validating access token', type: 'OAuthException', code: 190, error_subcode: 463 } } }, 'AUTH_FAILED', {}],
    [{ status: 400, body: { error: { message: 'This message is sent outside of allowed window.', type: 'OAuthException', code: 10, error_subcode: 2018278 } } }, 'WINDOW_CLOSED', {}],
    [{ status: 400, body: { error: { message: 'No matching user found', code: 100, error_subcode: 2018001 } } }, 'PROVIDER_ERROR', { status: 400 }],
    [{ status: 500, body: { error: { message: 'An unexpected error has occurred.', code: 2 } } }, 'PROVIDER_ERROR', { status: 500 }],
    [{ status: 200, body: { recipient_id: '7001' } }, 'PROVIDER_ERROR', {}],
  ])('error %j -> %s', async (reply, code, details) => {
    answer = () => reply;
    const error = await channel.send!({ to, text: 'hi' }, sendConfig(), axios.create()).then(
      () => undefined,
      (e: unknown) => e as OmnithreadError,
    );
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error?.code).toBe(code);
    expect(error?.details).toMatchObject(details);
    // The token never appears in what a flow gets to see.
    expect(JSON.stringify({ message: error?.message, details: error?.details })).not.toContain('PAGE-TOKEN');
  });

  test('refuses to send without a recipient, a token or anything to say', async () => {
    await expect(channel.send!({ to: {}, text: 'hi' }, sendConfig(), axios.create())).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'to.recipientId' });
    await expect(channel.send!({ to, text: 'hi' }, { apiBaseUrl: base }, axios.create())).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'pageAccessToken' });
    await expect(channel.send!({ to, text: '' }, sendConfig(), axios.create())).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'text' });
    expect(seen).toHaveLength(0);
  });

  test('an unreachable API is a PROVIDER_ERROR', async () => {
    const error = await channel.send!({ to, text: 'hi' }, { pageAccessToken: 'PAGE-TOKEN', apiBaseUrl: 'http://127.0.0.1:1' }, axios.create()).catch((e: OmnithreadError) => e);
    expect(error).toMatchObject({ code: 'PROVIDER_ERROR' });
    expect(JSON.stringify({ message: (error as OmnithreadError).message, details: (error as OmnithreadError).details })).not.toContain('PAGE-TOKEN');
  });
});
