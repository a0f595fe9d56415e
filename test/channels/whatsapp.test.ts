/**
 * WhatsApp Cloud API channel: handshake, signature, parsing of every documented message kind and status,
 * the webhook handler on both stores, robustness (fast-check), and sending against a local HTTP server.
 *
 * Formats used (see fixtures/whatsapp/README.md for each fixture's source):
 * - Messages webhook payloads: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
 * - Business-scoped user ids (contacts[].user_id, messages[].from_user_id, profile.username, statuses[].recipient_user_id,
 *   the `recipient` send parameter): https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/
 *   and the field-presence tables at https://dualhook.com/docs/contacts-bsuid-webhooks ,
 *   https://docs.ycloud.com/en/api-reference/guides/whatsapp-platform/use-business-scoped-user-ids.md
 * - Send API (POST /{version}/{phone-number-id}/messages, answer { messages: [{ id }] }):
 *   https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-reply-buttons-messages
 *   (request syntax) and https://docs.kapso.ai/api/meta/whatsapp/messages/send-a-message (answer)
 * - Error codes (131047 re-engagement, 190 token, 130429/131056 rate limits):
 *   https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes ,
 *   https://dev.to/wapgrowai_org/whatsapp-cloud-api-rate-limits-in-practice-throughput-pair-rate-messaging-limits-and-error-codes-1i7k
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { ProviderAnswer, ProviderRequest, ProviderServer, startProvider } from '../support/provider-server';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import axios from 'axios';
import fc from 'fast-check';
import {
  InboundItem,
  MessageInput,
  MessageInputSchema,
  OmnithreadError,
  StatusUpdateInputSchema,
  WebhookRequest,
  channelConfig,
  createOmnithread,
  handleWebhook,
  openStore,
  runTimelineOperation,
} from '../../shared';
import { metaSignature } from '../../shared/channels/meta';
import { whatsappChannel, whatsappMessageBody, WhatsAppSendConfigSchema } from '../../shared/channels/whatsapp';
import { countRows, describeStores, uniqueWorkspace } from '../support/stores';

const APP_SECRET = 'app-secret-for-tests';
const VERIFY_TOKEN = 'verify-me-please';
const config = channelConfig(whatsappChannel, { appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN });

const WABA = '102290129340398';
const PNID = '106540352242922';
const DISPLAY = '15550783881';
const MAYA_WA = '447911123456';
const MAYA_BSUID = 'GB.13491208655302741918';
const ZOE_BSUID = 'US.13491208655302741918';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const FIXTURES = [
  'text',
  'image',
  'document',
  'location',
  'contacts',
  'interactive-button-reply',
  'interactive-list-reply',
  'button',
  'reaction',
  'bsuid-only',
  'batch',
  'statuses',
  'status-failed',
] as const;
const fixture = (name: (typeof FIXTURES)[number]): Json => JSON.parse(readFileSync(join(__dirname, 'fixtures', 'whatsapp', `${name}.json`), 'utf8'));

function request(body: unknown, options: { sign?: boolean | string; method?: string; query?: Record<string, unknown> } = {}): WebhookRequest {
  const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const sign = options.sign ?? true;
  const signature = sign === true ? metaSignature(APP_SECRET, raw) : sign === false ? undefined : sign;
  return {
    method: options.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature-256': signature } : {}) },
    query: options.query ?? {},
    rawBody: raw,
  };
}

const messagesOf = (items: InboundItem[]): MessageInput[] => items.map((i) => (i.type === 'message' ? i.message : (undefined as never)));
const parseFixture = (name: (typeof FIXTURES)[number]) => whatsappChannel.parse(request(fixture(name)), config);
function parseError(body: unknown): OmnithreadError {
  try {
    whatsappChannel.parse(request(body), config);
  } catch (error) {
    return error as OmnithreadError;
  }
  throw new Error('expected the delivery to be refused');
}

const MAYA_HANDLES = [
  { kind: 'phone', value: MAYA_WA, trust: 'channel' },
  { kind: 'whatsapp_id', scope: WABA, value: MAYA_WA, trust: 'channel' },
  { kind: 'whatsapp_bsuid', scope: WABA, value: MAYA_BSUID, trust: 'channel' },
];
/** The MessageInput every one of Maya's fixtures gives, before its own text, attachments and metadata. */
function mayaMessage(name: (typeof FIXTURES)[number], own: { text: string; attachments?: unknown[]; metadata: Json }): MessageInput {
  const raw = fixture(name).entry[0].changes[0].value.messages[0];
  return {
    channel: 'whatsapp',
    channelAccount: PNID,
    providerMessageId: raw.id,
    // A reply to one of our messages (context.id) names it, so it continues that conversation.
    ...(raw.context?.id ? { inReplyTo: [raw.context.id] } : {}),
    threadKey: MAYA_WA,
    from: { handles: MAYA_HANDLES, name: 'Maya Lindqvist' } as MessageInput['from'],
    text: own.text,
    attachments: (own.attachments ?? []) as MessageInput['attachments'],
    sentAt: Number(raw.timestamp) * 1000,
    replyTo: { to: MAYA_WA, phoneNumberId: PNID },
    metadata: { type: raw.type, wabaId: WABA, displayPhoneNumber: DISPLAY, waId: MAYA_WA, bsuid: MAYA_BSUID, profileName: 'Maya Lindqvist', ...own.metadata },
    raw,
  };
}

describe('WhatsApp channel: handshake and signature', () => {
  const challengeQuery = (token: string) => ({ 'hub.mode': 'subscribe', 'hub.verify_token': token, 'hub.challenge': '1158201444' });

  test('answers the GET hub.challenge exactly, refuses a wrong token, and ignores POSTs', () => {
    expect(whatsappChannel.challenge?.(request('', { method: 'GET', query: challengeQuery(VERIFY_TOKEN) }), config)).toEqual({ status: 200, body: '1158201444', type: 'text' });
    expect(whatsappChannel.challenge?.(request('', { method: 'GET', query: challengeQuery('nope') }), config)).toMatchObject({ status: 403 });
    expect(whatsappChannel.challenge?.(request('', { method: 'GET', query: challengeQuery(VERIFY_TOKEN) }), channelConfig(whatsappChannel, { appSecret: APP_SECRET }))).toMatchObject({ status: 403 });
    expect(whatsappChannel.challenge?.(request(fixture('text'), { query: challengeQuery(VERIFY_TOKEN) }), config)).toBeUndefined();
  });

  test('checks X-Hub-Signature-256 with the app secret', () => {
    const body = JSON.stringify(fixture('text'));
    expect(whatsappChannel.verify(request(body), config)).toEqual({ ok: true });
    expect(whatsappChannel.verify(request(body, { sign: false }), config)).toMatchObject({ ok: false, status: 401, reason: 'missing X-Hub-Signature-256 header' });
    expect(whatsappChannel.verify(request(body, { sign: metaSignature('wrong', body) }), config)).toMatchObject({ ok: false, status: 401 });
    expect(whatsappChannel.verify({ ...request(body), rawBody: Buffer.from(body.replace('parcel', 'parcels')) }, config).ok).toBe(false);
    expect(whatsappChannel.verify(request(body), channelConfig(whatsappChannel, {}))).toMatchObject({ ok: false, status: 401 });
  });

  test('settings, secrets and send settings', () => {
    expect(whatsappChannel).toMatchObject({ id: 'whatsapp', displayName: 'WhatsApp Cloud API' });
    expect(whatsappChannel.settings).toEqual(['appSecret', 'verifyToken', 'phoneNumberId']);
    expect(whatsappChannel.secrets).toEqual(['appSecret', 'verifyToken']);
    expect(WhatsAppSendConfigSchema.parse({ accessToken: 't' })).toEqual({ accessToken: 't', phoneNumberId: '', apiVersion: 'v21.0', apiBaseUrl: 'https://graph.facebook.com' });
    expect(() => channelConfig(whatsappChannel, { appSecret: 'x', token: 'y' })).toThrow(/token/);
  });
});

describe('WhatsApp channel: parsing the documented payloads', () => {
  test.each<[(typeof FIXTURES)[number], { text: string; attachments?: unknown[]; metadata: Json }]>([
    ['text', { text: 'Hi, my parcel never arrived', metadata: {} }],
    [
      'image',
      {
        text: 'This is what arrived',
        attachments: [{ contentType: 'image/jpeg', caption: 'This is what arrived' }],
        metadata: { media: [{ type: 'image', id: '1003383421387256', mimeType: 'image/jpeg', sha256: 'd1f6c1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e' }] },
      },
    ],
    [
      'document',
      {
        text: '',
        attachments: [{ name: 'invoice-4411.pdf', contentType: 'application/pdf' }],
        metadata: {
          media: [
            { type: 'document', id: '1587390178750126', mimeType: 'application/pdf', sha256: 'a8f0bd9b0b8e3e7f5c0a3c1e8c4e2a7d0f1b2c3d4e5f60718293a4b5c6d7e8f9', filename: 'invoice-4411.pdf' },
          ],
        },
      },
    ],
    [
      'location',
      {
        text: 'Location: Parcel locker, 1 Strand, London WC2N 5HR (51.5072, -0.1276)',
        metadata: { location: { latitude: 51.5072, longitude: -0.1276, name: 'Parcel locker', address: '1 Strand, London WC2N 5HR' } },
      },
    ],
    ['contacts', { text: 'Shared contact: Jonas Berg (+46 70 123 45 67)', metadata: { sharedContacts: fixture('contacts').entry[0].changes[0].value.messages[0].contacts } }],
    [
      'interactive-button-reply',
      { text: 'Refund me', metadata: { context: { from: DISPLAY, id: 'wamid.out-menu-1' }, reply: { type: 'button_reply', id: 'refund', title: 'Refund me' } } },
    ],
    [
      'interactive-list-reply',
      {
        text: 'Track my order',
        metadata: { context: { from: DISPLAY, id: 'wamid.out-list-1' }, reply: { type: 'list_reply', id: 'track', title: 'Track my order', description: 'Where is my parcel now' } },
      },
    ],
    [
      'button',
      { text: 'Yes, deliver it', metadata: { context: { from: DISPLAY, id: 'wamid.out-template-1' }, reply: { type: 'button', payload: 'CONFIRM_DELIVERY', title: 'Yes, deliver it' } } },
    ],
    ['reaction', { text: 'Reacted 👍 to wamid.out-answer-1', metadata: { reaction: { message_id: 'wamid.out-answer-1', emoji: '👍' } } }],
  ])('%s -> one exact MessageInput', (name, own) => {
    const items = parseFixture(name);
    expect(items).toEqual([{ type: 'message', message: mayaMessage(name, own) }]);
    expect(MessageInputSchema.safeParse(messagesOf(items)[0]).success).toBe(true);
  });

  test('a BSUID-only sender (username, phone withheld) gets a whatsapp_bsuid handle and a BSUID reply address', () => {
    const raw = fixture('bsuid-only').entry[0].changes[0].value.messages[0];
    expect(raw.from).toBeUndefined();
    expect(parseFixture('bsuid-only')).toEqual([
      {
        type: 'message',
        message: {
          channel: 'whatsapp',
          channelAccount: PNID,
          providerMessageId: 'wamid.bsuid-1',
          threadKey: ZOE_BSUID,
          // The username is a handle too, at asserted trust: it can suggest a merge, never make one.
          from: {
            handles: [
              { kind: 'whatsapp_bsuid', scope: WABA, value: ZOE_BSUID, trust: 'channel' },
              { kind: 'username', scope: 'whatsapp', value: 'zoe.travels', trust: 'asserted' },
            ],
            name: 'Zoe',
          },
          text: 'Hello, I use a username',
          attachments: [],
          sentAt: 1795514940000,
          replyTo: { to: ZOE_BSUID, phoneNumberId: PNID },
          metadata: { type: 'text', wabaId: WABA, displayPhoneNumber: DISPLAY, bsuid: ZOE_BSUID, username: 'zoe.travels', profileName: 'Zoe' },
          raw,
        },
      },
    ]);
  });

  test('several entries, changes and messages in one delivery; other fields are ignored', () => {
    const messages = messagesOf(parseFixture('batch'));
    expect(messages.map((m) => [m.providerMessageId, m.text, m.threadKey, m.from.name])).toEqual([
      ['wamid.batch-1', 'First', MAYA_WA, 'Maya Lindqvist'],
      ['wamid.batch-2', 'Second, from Leo', '14155550177', 'Leo'],
      ['wamid.batch-3', 'Third', MAYA_WA, 'Maya Lindqvist'],
    ]);
    expect(messages[1].from.handles).toEqual([
      { kind: 'phone', value: '14155550177', trust: 'channel' },
      { kind: 'whatsapp_id', scope: WABA, value: '14155550177', trust: 'channel' },
      { kind: 'whatsapp_bsuid', scope: WABA, value: 'US.88001234567890123', trust: 'channel' },
    ]);
    const onlyOther = { object: 'whatsapp_business_account', entry: [{ id: WABA, changes: [fixture('batch').entry[0].changes[1]] }] };
    expect(whatsappChannel.parse(request(onlyOther), config)).toEqual([]);
  });

  test('statuses sent, delivered, read and failed -> exact status items', () => {
    const pricing = { billable: false, pricing_model: 'PMP', category: 'service', type: 'free_customer_service' };
    const common = { channel: 'whatsapp', channelAccount: PNID, providerMessageId: 'wamid.out-answer-1' };
    const recipient = { recipient_id: MAYA_WA, recipient_user_id: MAYA_BSUID };
    expect(parseFixture('statuses')).toEqual([
      {
        type: 'status',
        status: {
          ...common,
          status: 'sent',
          at: 1795515100000,
          details: { ...recipient, conversation: { id: 'b9e4f0c3d0a8e1f2a3b4c5d6e7f80912', origin: { type: 'service' }, expiration_timestamp: '1795601500' }, pricing },
        },
      },
      { type: 'status', status: { ...common, status: 'delivered', at: 1795515101000, details: { ...recipient, pricing } } },
      { type: 'status', status: { ...common, status: 'read', at: 1795515160000, details: recipient } },
    ]);
    const failed = parseFixture('status-failed');
    expect(failed).toEqual([
      {
        type: 'status',
        status: {
          channel: 'whatsapp',
          channelAccount: PNID,
          providerMessageId: 'wamid.out-late-1',
          status: 'failed',
          at: 1795515200000,
          details: { recipient_id: MAYA_WA, errors: fixture('status-failed').entry[0].changes[0].value.statuses[0].errors },
        },
      },
    ]);
    for (const item of [...parseFixture('statuses'), ...failed]) expect(StatusUpdateInputSchema.safeParse(item.type === 'status' && item.status).success).toBe(true);
  });

  test('the phone number id filter ignores other numbers of the same app', () => {
    expect(whatsappChannel.parse(request(fixture('text')), channelConfig(whatsappChannel, { appSecret: APP_SECRET, phoneNumberId: PNID }))).toHaveLength(1);
    expect(whatsappChannel.parse(request(fixture('text')), channelConfig(whatsappChannel, { appSecret: APP_SECRET, phoneNumberId: '999' }))).toEqual([]);
  });

  test.each<[string, unknown, string, string]>([
    ['an empty body', '', '(body)', 'empty'],
    ['not JSON', '{"object":', '(body)', 'not valid JSON'],
    ['{}', {}, 'object', 'Required'],
    ['another object', { object: 'page', entry: [] }, 'object', 'whatsapp_business_account'],
    ['no entry', { object: 'whatsapp_business_account' }, 'entry', 'Required'],
    [
      'no phone_number_id',
      { object: 'whatsapp_business_account', entry: [{ id: WABA, changes: [{ field: 'messages', value: { metadata: {}, messages: [] } }] }] },
      'entry.0.changes.0.value.metadata.phone_number_id',
      'Required',
    ],
    [
      'a message without any sender id',
      (() => {
        const body = fixture('text');
        delete body.entry[0].changes[0].value.messages[0].from;
        delete body.entry[0].changes[0].value.messages[0].from_user_id;
        body.entry[0].changes[0].value.contacts = [];
        return body;
      })(),
      'entry.0.changes.0.value.messages.0.from',
      'from (wa_id) or from_user_id (BSUID)',
    ],
    [
      'a bad timestamp in the second change',
      (() => {
        const body = fixture('batch');
        body.entry[1].changes[0].value.messages[0].timestamp = 'yesterday';
        return body;
      })(),
      'entry.1.changes.0.value.messages.0.timestamp',
      'Unix time',
    ],
  ])('%s is refused naming the field', (_, body, field, words) => {
    const error = parseError(body);
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.field).toBe(field);
    expect(error.message).toContain(words);
  });
});

describeStores('WhatsApp webhook', (ctx) => {
  test('a signed delivery is recorded; the contact has phone, whatsapp_id and BSUID with channel trust; a redelivery is a duplicate', async () => {
    const ot = ctx().omnithread();
    const first = await handleWebhook(ot, whatsappChannel, config, request(fixture('text')));
    expect(first.reply).toEqual({ status: 200, body: { received: 1, recorded: 1, duplicates: 0 } });
    const identities = first.recorded[0].contact.identities.map((i) => [i.kind, i.value, i.scope || null, i.trust]).sort();
    expect(identities).toEqual([
      ['phone', '+447911123456', null, 'channel'],
      ['whatsapp_bsuid', MAYA_BSUID, WABA, 'channel'],
      ['whatsapp_id', MAYA_WA, WABA, 'channel'],
    ]);
    expect(first.recorded[0].message).toMatchObject({ channel: 'whatsapp', channelAccount: PNID, providerMessageId: fixture('text').entry[0].changes[0].value.messages[0].id });
    const rows = await countRows(ctx().store);
    const again = await handleWebhook(ot, whatsappChannel, config, request(fixture('text')));
    expect(again.reply.body).toEqual({ received: 1, recorded: 0, duplicates: 1 });
    expect(again.duplicates[0].event?.id).toBe(first.recorded[0].event?.id);
    expect(await countRows(ctx().store)).toEqual(rows);
    // Another message from the same person on the same number is the same contact, with media and a reaction.
    const image = await handleWebhook(ot, whatsappChannel, config, request(fixture('image')));
    expect(image.recorded[0].contact.id).toBe(first.recorded[0].contact.id);
  });

  test('several messages in one delivery: two people, three messages', async () => {
    const ot = ctx().omnithread();
    const outcome = await handleWebhook(ot, whatsappChannel, config, request(fixture('batch')));
    expect(outcome.reply).toEqual({ status: 200, body: { received: 3, recorded: 3, duplicates: 0 } });
    expect(new Set(outcome.recorded.map((r) => r.contact.id)).size).toBe(2);
  });

  test('a bad or missing signature gets 401, a malformed body 400 naming the field; nothing is stored', async () => {
    const ot = ctx().omnithread();
    const before = await countRows(ctx().store);
    const unsigned = await handleWebhook(ot, whatsappChannel, config, request(fixture('text'), { sign: false }));
    expect(unsigned.reply).toEqual({ status: 401, body: { error: 'Signature check failed: missing X-Hub-Signature-256 header' } });
    const forged = await handleWebhook(ot, whatsappChannel, config, request(fixture('text'), { sign: 'sha256=00' }));
    expect(forged.reply.status).toBe(401);
    const empty = await handleWebhook(ot, whatsappChannel, config, request({}));
    expect(empty.reply).toMatchObject({ status: 400, body: { field: 'object' } });
    const wrong = await handleWebhook(ot, whatsappChannel, config, request({ object: 'instagram', entry: [] }));
    expect(wrong.reply).toMatchObject({ status: 400, body: { field: 'object' } });
    expect((wrong.reply.body as { error: string }).error).toContain('whatsapp_business_account');
    // One bad message in a batch: none of the three is stored.
    const batch = fixture('batch');
    batch.entry[1].changes[0].value.messages[0].id = '';
    const bad = await handleWebhook(ot, whatsappChannel, config, request(batch));
    expect(bad.reply).toMatchObject({ status: 400, body: { field: 'entry.1.changes.0.value.messages.0.id' } });
    expect(await countRows(ctx().store)).toEqual(before);
  });

  test('statuses of a message we sent land on it as status events, once', async () => {
    const ot = ctx().omnithread();
    const inbound = await handleWebhook(ot, whatsappChannel, config, request(fixture('text')));
    const contactId = inbound.recorded[0].contact.id;
    const outbound = await ot.recordOutbound(contactId, { channel: 'whatsapp', channelAccount: PNID, providerMessageId: 'wamid.out-answer-1', text: 'We are looking into it' });
    const outcome = await handleWebhook(ot, whatsappChannel, config, request(fixture('statuses')));
    expect(outcome.reply).toEqual({ status: 200, body: { received: 0, recorded: 0, duplicates: 0, statuses: { recorded: 3, duplicates: 0, unknown: 0 } } });
    const events = (await runTimelineOperation(ot, { operation: 'items', contactId, filter: { kinds: ['status'] } })) as { data: Json; channel: string }[];
    expect(events.map((e) => e.data.status).sort()).toEqual(['delivered', 'read', 'sent']);
    for (const e of events) expect(e).toMatchObject({ channel: 'whatsapp', data: { of: outbound.event?.id } });
    const again = await handleWebhook(ot, whatsappChannel, config, request(fixture('statuses')));
    expect(again.reply.body).toMatchObject({ statuses: { recorded: 0, duplicates: 3, unknown: 0 } });
    // A failure of a message Omnithread never recorded: acknowledged, not stored.
    const unknown = await handleWebhook(ot, whatsappChannel, config, request(fixture('status-failed')));
    expect(unknown.reply.body).toMatchObject({ statuses: { recorded: 0, duplicates: 0, unknown: 1 } });
  });

  test('a BSUID-only sender resolves to a contact, and its replyTo is a usable send address', async () => {
    const ot = ctx().omnithread();
    const outcome = await handleWebhook(ot, whatsappChannel, config, request(fixture('bsuid-only')));
    expect(outcome.reply.status).toBe(200);
    const { contact, message } = outcome.recorded[0];
    expect(contact.identities.map((i) => [i.kind, i.value, i.scope, i.trust])).toEqual([
      ['username', 'zoe.travels', 'whatsapp', 'asserted'],
      ['whatsapp_bsuid', ZOE_BSUID, WABA, 'channel'],
    ]);
    expect(contact.name).toBe('Zoe');
    expect(message.replyTo).toEqual({ to: ZOE_BSUID, phoneNumberId: PNID });
    expect(whatsappMessageBody({ to: message.replyTo as Json, text: 'Hi Zoe' })).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      recipient: ZOE_BSUID,
      type: 'text',
      text: { body: 'Hi Zoe', preview_url: false },
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------------

const DELETE = Symbol('delete');
type Path = (string | number)[];
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [prefix];
  const children = Object.entries(value as Json).flatMap(([k, v]) => pathsOf(v, [...prefix, Array.isArray(value) ? Number(k) : k]));
  return prefix.length ? [prefix, ...children] : children;
}
const FIXTURE_BODIES = FIXTURES.map(fixture);
const FIXTURE_PATHS = FIXTURE_BODIES.map((b) => pathsOf(b));
function mutate(index: number, mutations: [number, unknown][]): Json {
  const body = structuredClone(FIXTURE_BODIES[index]);
  for (const [at, replacement] of mutations) {
    const path = FIXTURE_PATHS[index][at % FIXTURE_PATHS[index].length];
    let parent: Json | undefined = body;
    for (const key of path.slice(0, -1)) parent = parent && typeof parent === 'object' ? parent[key as string] : undefined;
    if (!parent || typeof parent !== 'object') continue;
    const last = path[path.length - 1] as string;
    if (replacement === DELETE) delete parent[last];
    else parent[last] = replacement;
  }
  return body;
}
const replacement = fc.oneof(
  fc.constant(DELETE),
  fc.anything(),
  fc.jsonValue(),
  fc.string(),
  fc.integer(),
  fc.constantFrom('', ' ', '0', '00000', 'whatsapp_business_account', 'messages', 'US.1', MAYA_WA, '-1', '99999999999999'),
);
const mutatedFixture = fc
  .tuple(fc.nat({ max: FIXTURES.length - 1 }), fc.array(fc.tuple(fc.nat(), replacement), { minLength: 1, maxLength: 3 }))
  .map(([i, mutations]) => JSON.stringify(mutate(i, mutations)));
/** A fixture with new message ids (so it records instead of being a redelivery), sometimes mutated once. */
const freshFixture = fc
  .tuple(fc.nat({ max: FIXTURES.length - 1 }), fc.uuid(), fc.array(fc.tuple(fc.nat(), replacement), { maxLength: 1 }))
  .map(([i, uuid, mutations]) => {
    const body = mutate(i, mutations);
    let n = 0;
    for (const entry of Array.isArray(body?.entry) ? body.entry : []) {
      for (const change of Array.isArray(entry?.changes) ? entry.changes : []) {
        for (const message of Array.isArray(change?.value?.messages) ? change.value.messages : []) if (message && typeof message === 'object') message.id = `wamid.${uuid}-${n++}`;
      }
    }
    return JSON.stringify(body);
  });
const anyBody = fc.oneof(
  { weight: 3, arbitrary: mutatedFixture },
  { weight: 1, arbitrary: fc.anything().map((v) => JSON.stringify(v) ?? '') },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.record({ object: fc.constant('whatsapp_business_account'), entry: fc.anything() }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string() },
);

describe('WhatsApp channel: robustness', () => {
  test('thousands of random and mutated deliveries: verify + parse only ever refuse with INVALID_INPUT, and what parses is valid', () => {
    fc.assert(
      fc.property(anyBody, fc.boolean(), (body, signed) => {
        const req = request(body, { sign: signed });
        const verification = whatsappChannel.verify(req, config);
        expect(verification.ok).toBe(signed);
        if (!verification.ok) return;
        let items: InboundItem[];
        try {
          items = whatsappChannel.parse(req, config);
        } catch (error) {
          expect(error).toBeInstanceOf(OmnithreadError);
          expect((error as OmnithreadError).code).toBe('INVALID_INPUT');
          expect(typeof (error as OmnithreadError).field).toBe('string');
          return;
        }
        for (const item of items) {
          const result = item.type === 'message' ? MessageInputSchema.safeParse(item.message) : StatusUpdateInputSchema.safeParse(item.status);
          expect(result.success).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('hundreds through handleWebhook on SQLite: only 200, 400 or 401, and refusals write nothing', async () => {
    const store = await openStore({ type: 'sqlite', path: join(mkdtempSync(join(tmpdir(), 'omnithread-wa-prop-')), 'a.db') });
    try {
      const ot = createOmnithread({ store, workspace: uniqueWorkspace() });
      const statuses: Record<number, number> = {};
      await fc.assert(
        fc.asyncProperty(fc.oneof(freshFixture, anyBody), fc.boolean(), async (body, signed) => {
          const before = await countRows(store);
          const outcome = await handleWebhook(ot, whatsappChannel, config, request(body, { sign: signed }));
          expect([200, 400, 401]).toContain(outcome.reply.status);
          statuses[outcome.reply.status] = (statuses[outcome.reply.status] ?? 0) + 1;
          if (!signed) expect(outcome.reply.status).toBe(401);
          if (outcome.reply.status !== 200) expect(await countRows(store)).toEqual(before);
        }),
        { numRuns: 300 },
      );
      // The runs exercised all three outcomes, not only refusals.
      expect(Object.keys(statuses).sort()).toEqual(['200', '400', '401']);
      expect(statuses[200]).toBeGreaterThan(30);
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------


describe('WhatsApp channel: sending', () => {
  let base: string;
  let seen: ProviderRequest[] = [];
  let answer: ProviderAnswer = { status: 200, body: {} };
  const http = axios.create();
  const sendConfig = () => ({ accessToken: 'EAAG-test-token', apiBaseUrl: base });
  const ok = (id: string, input = MAYA_WA) => ({ status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input, wa_id: input }], messages: [{ id }] } });

  let provider: ProviderServer;
  beforeAll(async () => {
    provider = await startProvider(() => answer);
    ({ base, seen } = provider);
  });
  afterAll(() => provider.close());
  beforeEach(() => {
    seen.length = 0;
  });

  const send = (request: Parameters<NonNullable<typeof whatsappChannel.send>>[0], config: unknown = sendConfig()) => whatsappChannel.send!(request, config, http);

  test('text: the documented request, and the message id from the answer', async () => {
    answer = ok('wamid.sent-text-1');
    const result = await send({ to: { to: MAYA_WA, phoneNumberId: PNID }, text: 'Hello Maya, your parcel is on its way' });
    expect(result).toEqual({ providerMessageId: 'wamid.sent-text-1', response: answer.body });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: `/v21.0/${PNID}/messages` });
    expect(seen[0].headers.authorization).toBe('Bearer EAAG-test-token');
    expect(seen[0].headers['content-type']).toMatch(/^application\/json/);
    expect(seen[0].body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: MAYA_WA,
      type: 'text',
      text: { body: 'Hello Maya, your parcel is on its way', preview_url: false },
    });
  });

  test('media by URL, templates, BSUID recipients, and the send settings phone number id', async () => {
    answer = ok('wamid.sent-2');
    await send({ to: { to: MAYA_WA, phoneNumberId: PNID }, text: '', media: { url: 'https://cdn.example.com/label.png', type: 'image', caption: 'Your label' } });
    await send({ to: { to: MAYA_WA, phoneNumberId: PNID }, text: 'Your invoice', media: { url: 'https://cdn.example.com/i.pdf', type: 'document', filename: 'invoice.pdf' } });
    await send({ to: { to: MAYA_WA, phoneNumberId: PNID }, text: '', media: { url: 'https://cdn.example.com/a.ogg', type: 'audio' } });
    await send({ to: { to: MAYA_WA, phoneNumberId: PNID }, text: 'See https://example.com/track', template: { name: 'order_update', language: 'en_US', parameters: ['Maya', '4411'] } });
    await send({ to: { to: ZOE_BSUID }, text: 'Hi Zoe' }, { ...sendConfig(), phoneNumberId: '555000111', apiVersion: 'v22.0' });
    await send({ to: { to: MAYA_WA, phoneNumberId: PNID }, text: 'Track it at https://example.com/track' });
    const head = { messaging_product: 'whatsapp', recipient_type: 'individual', to: MAYA_WA };
    expect(seen.map((s) => s.body)).toEqual([
      { ...head, type: 'image', image: { link: 'https://cdn.example.com/label.png', caption: 'Your label' } },
      { ...head, type: 'document', document: { link: 'https://cdn.example.com/i.pdf', caption: 'Your invoice', filename: 'invoice.pdf' } },
      { ...head, type: 'audio', audio: { link: 'https://cdn.example.com/a.ogg' } },
      {
        ...head,
        type: 'template',
        template: { name: 'order_update', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Maya' }, { type: 'text', text: '4411' }] }] },
      },
      { messaging_product: 'whatsapp', recipient_type: 'individual', recipient: ZOE_BSUID, type: 'text', text: { body: 'Hi Zoe', preview_url: false } },
      { ...head, type: 'text', text: { body: 'Track it at https://example.com/track', preview_url: true } },
    ]);
    expect(seen[4].url).toBe('/v22.0/555000111/messages');
  });

  test.each<[string, string, ProviderAnswer, Json]>([
    ['429 with Retry-After', 'RATE_LIMITED', { status: 429, headers: { 'retry-after': '7' }, body: { error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429, fbtrace_id: 'A1' } } }, { retryAfterSeconds: 7, code: 130429 }],
    ['400 pair rate limit 131056', 'RATE_LIMITED', { status: 400, body: { error: { message: '(#131056) pair rate limit hit', type: 'OAuthException', code: 131056, fbtrace_id: 'A2' } } }, { code: 131056 }],
    ['401 expired token 190', 'AUTH_FAILED', { status: 401, body: { error: { message: 'Error validating access token: Session has expired', type: 'OAuthException', code: 190, error_subcode: 463, fbtrace_id: 'A3' } } }, { code: 190, subcode: 463 }],
    ['400 re-engagement 131047', 'WINDOW_CLOSED', { status: 400, body: { error: { message: '(#131047) Re-engagement message', type: 'OAuthException', code: 131047, fbtrace_id: 'A4' } } }, { code: 131047 }],
    ['400 invalid parameter 100', 'PROVIDER_ERROR', { status: 400, body: { error: { message: '(#100) Invalid parameter', type: 'OAuthException', code: 100, fbtrace_id: 'A5' } } }, { status: 400 }],
    ['500', 'PROVIDER_ERROR', { status: 500, body: { error: { message: 'An unknown error occurred', type: 'OAuthException', code: 1 } } }, { status: 500 }],
    ['a 200 without a message id', 'PROVIDER_ERROR', { status: 200, body: { messaging_product: 'whatsapp' } }, { status: 200 }],
  ])('%s -> %s', async (_, code, given, details) => {
    answer = given;
    const error = await send({ to: { to: MAYA_WA, phoneNumberId: PNID }, text: 'Hello' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error).toMatchObject({ code, details: expect.objectContaining({ provider: 'WhatsApp', ...details }) });
    if (code === 'WINDOW_CLOSED') expect((error as Error).message).toMatch(/24-hour customer service window is closed.*template/);
  });

  test('refuses what WhatsApp would refuse, before calling it', async () => {
    const refused = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as OmnithreadError);
    expect(await refused(send({ to: { to: MAYA_WA, phoneNumberId: PNID }, text: '  ' }))).toMatchObject({ code: 'INVALID_INPUT', field: 'text' });
    expect(await refused(send({ to: {}, text: 'Hi' }))).toMatchObject({ code: 'INVALID_INPUT', field: 'to.to' });
    expect(await refused(send({ to: { to: MAYA_WA }, text: 'Hi' }))).toMatchObject({ code: 'INVALID_INPUT', field: 'to.phoneNumberId' });
    expect(await refused(send({ to: { to: MAYA_WA, phoneNumberId: PNID }, text: 'Hi' }, { apiBaseUrl: base }))).toMatchObject({ code: 'INVALID_INPUT', field: 'accessToken' });
    expect(await refused(send({ to: { to: MAYA_WA, phoneNumberId: PNID }, text: 'Listen', media: { url: 'https://x.io/a.ogg', type: 'audio' } }))).toMatchObject({ code: 'INVALID_INPUT', field: 'media.caption' });
    expect(seen).toEqual([]);
  });
});
