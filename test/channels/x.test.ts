/**
 * X direct messages. Provider behaviour as documented:
 * - Account Activity API (https://docs.x.com/x-api/account-activity/introduction): CRC validation and the
 *   x-twitter-webhooks-signature header on every delivery; DMs received and sent, typing indicators, etc.
 * - The CRC and the signature: HMAC-SHA256 keyed with the app's consumer secret, base64, prefixed "sha256="
 *   (https://www.skills.sh/hookdeck/webhook-skills/twitter-webhooks; X's own CRC sample,
 *   https://gist.github.com/jcipriano/373d4d441e8041f775b6227c0e2fd1f3), answered {"response_token": ...}.
 * - Deliveries: {for_user_id, direct_message_events: [{type: 'message_create', id, created_timestamp,
 *   message_create: {target: {recipient_id}, sender_id, message_data: {text, entities, attachment}}}], users}
 *   (https://developer.x.com/en/docs/twitter-api/enterprise/account-activity-api); DMs the account sends
 *   come back too ("Direct Messages sent (by user)"), with sender_id = for_user_id.
 * - Sending: POST /2/dm_conversations/with/:participant_id/messages, "Sends a new direct message to a
 *   specific participant by their ID" (https://docs.x.com/xdks/python/reference/xdk.direct_messages.client),
 *   user-context auth only (https://docs.x.com/x-api/direct-messages/lookup/integrate, which also gives the
 *   one-to-one conversation id format "{smaller_user_id}-{larger_user_id}").
 * - Rate limits (https://docs.x.com/fundamentals/rate-limits): 429 Too Many Requests, x-rate-limit-reset =
 *   Unix timestamp when the limit resets.
 */
import { readFileSync } from 'node:fs';
import { ProviderRequest, ProviderServer, startProvider } from '../support/provider-server';
import { join } from 'node:path';
import axios from 'axios';
import fc from 'fast-check';
import { MessageInputSchema, OmnithreadError, WebhookRequest, channelConfig, handleWebhook } from '../../shared';
import { xChannel } from '../../shared/channels/x';
import { countRows, describeStores } from '../support/stores';
import { xSignature } from '../support/signatures';

const CONSUMER_SECRET = 'z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu';
const ACCOUNT = '1450000000000000001';
const MAYA = '3805104374';
const config = channelConfig(xChannel, { consumerSecret: CONSUMER_SECRET });

const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(__dirname, 'fixtures', 'x', `${name}.json`), 'utf8'));

/** Computed from the documented formula, independently of the module (test/support/signatures.ts). */
const sign = (data: string | Buffer, secret = CONSUMER_SECRET) => xSignature(secret, data);

function request(body: unknown, options: { sign?: boolean; signature?: string } = {}): WebhookRequest {
  const raw = Buffer.from(typeof body === 'string' ? body : (JSON.stringify(body) ?? ''));
  const signature = options.signature ?? (options.sign === false ? undefined : sign(raw));
  return { method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { 'x-twitter-webhooks-signature': signature } : {}) }, query: {}, rawBody: raw };
}

const crc = (query: Record<string, unknown>): WebhookRequest => ({ method: 'GET', headers: {}, query, rawBody: Buffer.alloc(0) });
const messagesOf = (body: unknown, cfg = config) => xChannel.parse(request(body), cfg).map((item) => (item.type === 'message' ? item.message : item));

describe('X settings, CRC and signature', () => {
  test('settings and secrets', () => {
    expect(xChannel.id).toBe('x');
    expect(xChannel.settings).toEqual(['consumerSecret', 'accountId']);
    expect(xChannel.secrets).toEqual(['consumerSecret']);
    expect(() => channelConfig(xChannel, { accountId: 'maya' })).toThrow(/accountId/);
  });

  test('the CRC is answered with sha256=base64(HMAC-SHA256(consumer secret, crc_token))', () => {
    const token = '9b4507b3-9040-4669-9ca3-6b94edb50553';
    const expected = xSignature(CONSUMER_SECRET, token);
    expect(xChannel.challenge!(crc({ crc_token: token }), config)).toEqual({ status: 200, body: { response_token: expected } });
    // A POST is never a CRC; a GET without crc_token is not one either (the handler answers 405).
    expect(xChannel.challenge!({ ...crc({ crc_token: token }), method: 'POST' }, config)).toBeUndefined();
    expect(xChannel.challenge!(crc({}), config)).toBeUndefined();
    expect(xChannel.challenge!(crc({ crc_token: token }), channelConfig(xChannel, {}))).toMatchObject({ status: 403 });
  });

  test('deliveries must carry x-twitter-webhooks-signature over the raw body', () => {
    const body = JSON.stringify(fixture('dm'));
    expect(xChannel.verify(request(body), config)).toEqual({ ok: true });
    expect(xChannel.verify(request(body, { sign: false }), config)).toEqual({ ok: false, status: 401, reason: 'missing x-twitter-webhooks-signature header' });
    expect(xChannel.verify(request(body, { signature: sign(body, 'another-secret') }), config)).toMatchObject({ ok: false, status: 401 });
    // base64 is case-sensitive: a case-changed signature is a different signature.
    expect(xChannel.verify(request(body, { signature: sign(body).toLowerCase() }), config).ok).toBe(false);
    const tampered = { ...request(body), rawBody: Buffer.from(body.replace('late', 'lost')) };
    expect(xChannel.verify(tampered, config).ok).toBe(false);
    expect(xChannel.verify(request(body), channelConfig(xChannel, {}))).toMatchObject({ ok: false, status: 401 });
  });
});

describe('X deliveries to messages', () => {
  const handle = { kind: 'x_user', scope: ACCOUNT, value: MAYA, trust: 'channel' };
  // The screen name is a handle too, at asserted trust: it can suggest a merge, never make one.
  const screenName = { kind: 'username', scope: 'x', value: 'mayal', trust: 'asserted' };

  test('a DM', () => {
    const body = fixture('dm');
    expect(messagesOf(body)).toEqual([
      {
        channel: 'x',
        channelAccount: ACCOUNT,
        providerMessageId: '1862000000000000101',
        threadKey: `${MAYA}-${ACCOUNT}`,
        from: { name: 'Maya Lindqvist', handles: [handle, screenName] },
        text: 'Hello, my order 1182 is late',
        attachments: [],
        sentAt: 1795514400123,
        replyTo: { participantId: MAYA },
        metadata: { recipientId: ACCOUNT, screenName: 'mayal' },
        raw: (body.direct_message_events as unknown[])[0],
      },
    ]);
  });

  test('a DM with media', () => {
    const body = fixture('dm-media');
    expect(messagesOf(body)).toEqual([
      {
        channel: 'x',
        channelAccount: ACCOUNT,
        providerMessageId: '1862000000000000102',
        threadKey: `${MAYA}-${ACCOUNT}`,
        from: { name: 'Maya Lindqvist', handles: [handle, screenName] },
        text: 'This is what arrived https://t.co/abc123',
        attachments: [{ url: 'https://ton.twitter.com/1.1/ton/data/dm/1862000000000000102/1862000000000000200/crushed.jpg', name: 'photo' }],
        sentAt: 1795514500456,
        replyTo: { participantId: MAYA },
        metadata: { recipientId: ACCOUNT, screenName: 'mayal', media: { id: '1862000000000000200', type: 'photo' } },
        raw: (body.direct_message_events as unknown[])[0],
      },
    ]);
  });

  test("the account's own DMs, typing indicators, likes and other accounts' deliveries give no item", () => {
    expect(messagesOf(fixture('own-and-typing'))).toEqual([]);
    expect(messagesOf(fixture('favorite'))).toEqual([]);
    expect(messagesOf({ for_user_id: ACCOUNT, direct_message_events: [{ type: 'message_delete', id: '1' }] })).toEqual([]);
    const other = channelConfig(xChannel, { consumerSecret: CONSUMER_SECRET, accountId: '999' });
    expect(messagesOf(fixture('dm'), other)).toEqual([]);
    expect(messagesOf(fixture('dm'), channelConfig(xChannel, { consumerSecret: CONSUMER_SECRET, accountId: ACCOUNT }))).toHaveLength(1);
    // No users map: no name, still recorded.
    const { users: _users, ...bare } = fixture('dm');
    expect(messagesOf(bare)[0]).toMatchObject({ from: { name: undefined, handles: [handle] } });
  });

  const event = fixture('dm').direct_message_events as Record<string, unknown>[];
  const withEvent = (patch: (e: Record<string, unknown>) => void) => {
    const copy = JSON.parse(JSON.stringify(event[0]));
    patch(copy);
    return JSON.stringify({ for_user_id: ACCOUNT, direct_message_events: [copy] });
  };
  test.each([
    ['', '(body)', 'empty'],
    ['{"for_user_id"', '(body)', 'not valid JSON'],
    [JSON.stringify({ direct_message_events: [] }), 'for_user_id', 'for_user_id'],
    [JSON.stringify({ for_user_id: 'acme' }), 'for_user_id', 'X id'],
    [JSON.stringify({ for_user_id: ACCOUNT, direct_message_events: {} }), 'direct_message_events', 'direct_message_events'],
    [withEvent((e) => delete e.id), 'direct_message_events.0.id', 'direct_message_events.0.id'],
    [withEvent((e) => delete (e.message_create as Record<string, unknown>).sender_id), 'direct_message_events.0.message_create.sender_id', 'sender_id'],
    [withEvent((e) => ((e.message_create as Record<string, unknown>).target = {})), 'direct_message_events.0.message_create.target.recipient_id', 'recipient_id'],
    [withEvent((e) => (e.created_timestamp = 'yesterday')), 'direct_message_events.0.created_timestamp', 'epoch milliseconds'],
  ])('malformed delivery %s is refused naming %s', (raw, field, words) => {
    let error: OmnithreadError | undefined;
    try {
      xChannel.parse(request(raw), config);
    } catch (e) {
      error = e as OmnithreadError;
    }
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error?.code).toBe('INVALID_INPUT');
    expect(error?.field).toBe(field);
    expect(error?.message).toContain(words);
  });
});

// ---------------------------------------------------------------------------------------------
// Random and mutated deliveries
// ---------------------------------------------------------------------------------------------

const FIXTURES = ['dm', 'dm-media', 'own-and-typing', 'favorite'].map(fixture);

function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  return [prefix, ...Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => pathsOf(child, [...prefix, key]))];
}

function mutate(base: unknown, path: string[], value: unknown, drop: boolean): unknown {
  if (!path.length) return drop ? undefined : value;
  if (typeof base !== 'object' || base === null) return base;
  const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  let target = copy;
  for (const key of path.slice(0, -1)) {
    if (typeof target[key] !== 'object' || target[key] === null) return copy;
    target = target[key] as Record<string, unknown>;
  }
  if (drop) delete target[path[path.length - 1]];
  else target[path[path.length - 1]] = value;
  return copy;
}

const scalar = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.constant('0'), fc.constant(MAYA), fc.constant(ACCOUNT), fc.stringMatching(/^\d{1,20}$/), fc.string({ minLength: 300 }));
const deliveries = fc.oneof(
  fc.anything(),
  fc.record({ for_user_id: fc.oneof(fc.constant(ACCOUNT), scalar), direct_message_events: fc.anything() }, { requiredKeys: [] }),
  fc
    .constantFrom(...FIXTURES)
    .chain((base) => fc.tuple(fc.constant(base), fc.constantFrom(...pathsOf(base)), fc.oneof(scalar, fc.anything()), fc.boolean()))
    .map(([base, path, value, drop]) => mutate(base, path, value, drop)),
  fc
    .constantFrom(...FIXTURES)
    .chain((base) => fc.tuple(fc.constant(base), fc.constantFrom(...pathsOf(base)), fc.constantFrom(...pathsOf(base)), scalar, scalar))
    .map(([base, p1, p2, v1, v2]) => mutate(mutate(base, p1, v1, false), p2, v2, true)),
);

describe('X parser under random input', () => {
  test('thousands of random and mutated deliveries: valid messages or INVALID_INPUT naming a field, nothing else', () => {
    const seen = { items: 0, refused: 0 };
    fc.assert(
      fc.property(deliveries, (body) => {
        try {
          const items = xChannel.parse(request(body), config);
          for (const item of items) {
            expect(item.type).toBe('message');
            expect(MessageInputSchema.safeParse(item.type === 'message' ? item.message : item).success).toBe(true);
            if (item.type === 'message') expect(item.message.from.handles[0]).toMatchObject({ kind: 'x_user' });
          }
          if (items.length) seen.items++;
        } catch (error) {
          expect(error).toBeInstanceOf(OmnithreadError);
          expect((error as OmnithreadError).code).toBe('INVALID_INPUT');
          expect((error as OmnithreadError).field).toEqual(expect.any(String));
          seen.refused++;
        }
      }),
      { numRuns: 4000, seed: 20261124 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          xChannel.parse({ ...request(''), rawBody: Buffer.from(bytes) }, config);
        } catch (error) {
          expect((error as OmnithreadError).code).toBe('INVALID_INPUT');
        }
      }),
      { numRuns: 1000, seed: 7 },
    );
    expect(seen.items).toBeGreaterThan(200);
    expect(seen.refused).toBeGreaterThan(300);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the webhook handler, on both stores
// ---------------------------------------------------------------------------------------------

describeStores('X webhook', (ctx) => {
  test('answers the CRC, records a DM scoped to the account, recognises a redelivery', async () => {
    const ot = ctx().omnithread();
    const before = await countRows(ctx().store);
    const check = await handleWebhook(ot, xChannel, config, crc({ crc_token: 'abc' }));
    expect(check.reply).toEqual({ status: 200, body: { response_token: sign('abc') } });
    expect(await countRows(ctx().store)).toEqual(before);

    const first = await handleWebhook(ot, xChannel, config, request(fixture('dm')));
    expect(first.reply).toEqual({ status: 200, body: { received: 1, recorded: 1, duplicates: 0 } });
    const contact = first.recorded[0].contact;
    expect(contact.identities.map((i) => [i.kind, i.scope, i.value, i.trust])).toEqual([
      ['username', 'x', 'mayal', 'asserted'],
      ['x_user', ACCOUNT, MAYA, 'channel'],
    ]);
    expect(contact.name).toBe('Maya Lindqvist');

    const again = await handleWebhook(ot, xChannel, config, request(fixture('dm')));
    expect(again.reply.body).toEqual({ received: 1, recorded: 0, duplicates: 1 });
    expect(again.duplicates[0].event?.id).toBe(first.recorded[0].event?.id);

    const media = await handleWebhook(ot, xChannel, config, request(fixture('dm-media')));
    expect(media.recorded[0].contact.id).toBe(contact.id);

    // Our own DM echoed back: acknowledged, nothing recorded.
    const beforeOwn = await countRows(ctx().store);
    const own = await handleWebhook(ot, xChannel, config, request(fixture('own-and-typing')));
    expect(own.reply).toEqual({ status: 200, body: { received: 0, recorded: 0, duplicates: 0 } });
    expect(await countRows(ctx().store)).toEqual(beforeOwn);

    // The same X user writing to another subscribed account: another scope, another contact.
    const other = JSON.parse(JSON.stringify(fixture('dm')));
    other.for_user_id = '1450000000000000002';
    other.direct_message_events[0].message_create.target.recipient_id = '1450000000000000002';
    const elsewhere = await handleWebhook(ot, xChannel, config, request(other));
    expect(elsewhere.recorded).toHaveLength(1);
    expect(elsewhere.recorded[0].contact.id).not.toBe(contact.id);
  });

  test('a bad signature gets 401, a malformed delivery 400 naming the field; neither stores anything', async () => {
    const ot = ctx().omnithread();
    const before = await countRows(ctx().store);
    const unsigned = await handleWebhook(ot, xChannel, config, request(fixture('dm'), { sign: false }));
    expect(unsigned.reply).toEqual({ status: 401, body: { error: 'Signature check failed: missing x-twitter-webhooks-signature header' } });
    const forged = await handleWebhook(ot, xChannel, config, request(fixture('dm'), { signature: sign('something else') }));
    expect(forged.reply.status).toBe(401);
    const malformed = await handleWebhook(ot, xChannel, config, request({ direct_message_events: fixture('dm').direct_message_events }));
    expect(malformed.reply).toMatchObject({ status: 400, body: { field: 'for_user_id' } });
    const get = await handleWebhook(ot, xChannel, config, crc({}));
    expect(get.reply.status).toBe(405);
    expect(await countRows(ctx().store)).toEqual(before);
  });

  test('random and mutated deliveries through the handler: recorded, or refused without writing', async () => {
    const ot = ctx().omnithread();
    let n = 0;
    const seen = { recorded: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(deliveries, fc.integer({ min: 0, max: 9 }), async (body, unsigned) => {
        const events = (body as { direct_message_events?: unknown } | null)?.direct_message_events;
        if (Array.isArray(events)) for (const e of events) if (e && typeof e === 'object' && typeof (e as { id?: unknown }).id === 'string') (e as { id: string }).id = String(2000 + ++n);
        const before = await countRows(ctx().store);
        const outcome = await handleWebhook(ot, xChannel, config, request(body, { sign: unsigned > 0 }));
        expect([200, 400, 401]).toContain(outcome.reply.status);
        if (outcome.reply.status !== 200) {
          expect(await countRows(ctx().store)).toEqual(before);
          seen.refused++;
        } else if (outcome.recorded.length) seen.recorded++;
      }),
      { numRuns: ctx().kind === 'sqlite' ? 300 : 60, seed: 1124 },
    );
    expect(seen.refused).toBeGreaterThan(10);
    expect(seen.recorded).toBeGreaterThan(ctx().kind === 'sqlite' ? 10 : 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Sending against a local server
// ---------------------------------------------------------------------------------------------

describe('X send', () => {
  let base: string;
  let seen: ProviderRequest[] = [];
  let answers: { status: number; body: unknown; headers?: Record<string, string> }[] = [];
  const http = axios.create();
  const TOKEN = 'user-access-token-abc';

  let provider: ProviderServer;
  beforeAll(async () => {
    provider = await startProvider(() => answers.shift() ?? { status: 500, body: { title: 'no answer queued' } });
    ({ base, seen } = provider);
  });
  afterAll(() => provider.close());
  beforeEach(() => {
    seen.length = 0;
    answers = [];
  });
  const sendConfig = () => ({ userAccessToken: TOKEN, apiBaseUrl: base });

  test('POSTs the text to the participant with the user token; the id is the dm_event_id', async () => {
    answers.push({ status: 201, body: { data: { dm_conversation_id: `${MAYA}-${ACCOUNT}`, dm_event_id: '1862000000000000999' } } });
    const result = await xChannel.send!({ to: { participantId: MAYA }, text: 'Refund on its way' }, sendConfig(), http);
    expect(result).toEqual({ providerMessageId: '1862000000000000999', response: { data: { dm_conversation_id: `${MAYA}-${ACCOUNT}`, dm_event_id: '1862000000000000999' } } });
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe(`/2/dm_conversations/with/${MAYA}/messages`);
    expect(seen[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(seen[0].headers['content-type']).toMatch(/^application\/json/);
    expect(seen[0].body).toEqual({ text: 'Refund on its way' });
  });

  test('media, empty text, a bad recipient and missing settings are refused before any call', async () => {
    await expect(xChannel.send!({ to: { participantId: MAYA }, text: 'x', media: { url: 'https://cdn.acme.io/a.png', type: 'image' } }, sendConfig(), http)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'media',
      message: expect.stringContaining('not supported'),
    });
    await expect(xChannel.send!({ to: { participantId: MAYA }, text: ' ' }, sendConfig(), http)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'text' });
    await expect(xChannel.send!({ to: { participantId: '../../2/tweets' }, text: 'x' }, sendConfig(), http)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'to.participantId' });
    await expect(xChannel.send!({ to: { participantId: MAYA }, text: 'x' }, { apiBaseUrl: base }, http)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'userAccessToken' });
    expect(seen).toHaveLength(0);
  });

  test('errors: 429 with x-rate-limit-reset, 401, 403, 500', async () => {
    const reset = Math.floor(Date.now() / 1000) + 120;
    answers.push({ status: 429, body: { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 }, headers: { 'x-rate-limit-reset': String(reset), 'x-rate-limit-remaining': '0' } });
    const limited = (await xChannel.send!({ to: { participantId: MAYA }, text: 'x' }, sendConfig(), http).catch((e: OmnithreadError) => e)) as OmnithreadError;
    expect(limited.code).toBe('RATE_LIMITED');
    const retry = (limited.details as { retryAfterSeconds: number }).retryAfterSeconds;
    expect(retry).toBeGreaterThanOrEqual(118);
    expect(retry).toBeLessThanOrEqual(121);

    answers.push({ status: 401, body: { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' } });
    await expect(xChannel.send!({ to: { participantId: MAYA }, text: 'x' }, sendConfig(), http)).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    answers.push({ status: 403, body: { title: 'Forbidden', detail: 'You are not permitted to perform this action.' } });
    await expect(xChannel.send!({ to: { participantId: MAYA }, text: 'x' }, sendConfig(), http)).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    answers.push({ status: 500, body: { title: 'Internal Server Error' } });
    await expect(xChannel.send!({ to: { participantId: MAYA }, text: 'x' }, sendConfig(), http)).rejects.toMatchObject({ code: 'PROVIDER_ERROR', details: { status: 500 } });
    answers.push({ status: 201, body: { data: {} } });
    await expect(xChannel.send!({ to: { participantId: MAYA }, text: 'x' }, sendConfig(), http)).rejects.toMatchObject({ code: 'PROVIDER_ERROR' });
  });
});
