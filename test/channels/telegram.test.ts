/**
 * Telegram channel. Provider behaviour as documented in the Bot API (https://core.telegram.org/bots/api):
 * - Update (#update): update_id plus at most one of message, edited_message, channel_post, callback_query...;
 *   Message (#message): message_id, optional from (absent in channels), chat{id,type}, date, edit_date, text,
 *   caption, photo (PhotoSize array), document, contact{phone_number, user_id}; CallbackQuery (#callbackquery).
 * - setWebhook (#setwebhook): "If you'd like to make sure that the webhook was set by you, you can specify
 *   secret data in the parameter secret_token. If specified, the request will contain a header
 *   X-Telegram-Bot-Api-Secret-Token with the secret token as content" (also mirrored at
 *   https://docs.simbot.forte.love/.../-set-webhook-api/ and https://rdrr.io/cran/telegram.bot/man/setWebhook.html);
 *   a mismatching header is answered 403 (as Apache Camel's CAMEL-25564 and n8n's Telegram Trigger do).
 * - Answers (#making-requests): {ok:true, result} or {ok:false, error_code, description, parameters};
 *   ResponseParameters.retry_after (#responseparameters) on 429 "Too Many Requests: retry after N"
 *   (https://dev.to/conferbot/telegram-bot-api-error-codes-what-each-one-means-and-how-to-fix-it-4ioj).
 * - sendMessage / sendPhoto / sendDocument (#sendmessage, #sendphoto, #senddocument): POST
 *   https://api.telegram.org/bot<token>/<method>, JSON {chat_id, text} / {chat_id, photo, caption}.
 */
import { readFileSync } from 'node:fs';
import { ProviderRequest, ProviderServer, startProvider } from '../support/provider-server';
import { join } from 'node:path';
import axios from 'axios';
import fc from 'fast-check';
import { MessageInputSchema, OmnithreadError, WebhookRequest, channelConfig, handleWebhook } from '../../shared';
import { telegramChannel, telegramDeleteWebhook, telegramSetWebhook, telegramWebhookInfo } from '../../shared/channels/telegram';
import { countRows, describeStores } from '../support/stores';

const SECRET = 'tg-Secret_token-123';
const BOT_TOKEN = '7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
const BOT_ID = '7000000001';
const config = channelConfig(telegramChannel, { secretToken: SECRET, botToken: BOT_TOKEN });

const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(__dirname, 'fixtures', 'telegram', `${name}.json`), 'utf8'));

function request(body: unknown, headers: Record<string, string | undefined> = { 'x-telegram-bot-api-secret-token': SECRET }): WebhookRequest {
  const raw = Buffer.from(typeof body === 'string' ? body : (JSON.stringify(body) ?? ''));
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, query: {}, rawBody: raw };
}

const messagesOf = (body: unknown, cfg = config) => telegramChannel.parse(request(body), cfg).map((item) => (item.type === 'message' ? item.message : item));

function refusal(run: () => unknown): OmnithreadError {
  try {
    run();
  } catch (error) {
    return error as OmnithreadError;
  }
  throw new Error('expected a refusal');
}

describe('Telegram settings and secret token', () => {
  test('settings, secrets and the bot id (configured, or the number before ":" in the token)', () => {
    expect(telegramChannel.id).toBe('telegram');
    expect(telegramChannel.settings).toEqual(['secretToken', 'botToken', 'botId', 'apiBaseUrl', 'groups']);
    expect(telegramChannel.secrets).toEqual(['secretToken', 'botToken']);
    expect(messagesOf(fixture('text'))[0]).toMatchObject({ channelAccount: BOT_ID });
    const byId = channelConfig(telegramChannel, { secretToken: SECRET, botId: '999', botToken: BOT_TOKEN });
    expect(messagesOf(fixture('text'), byId)[0]).toMatchObject({ channelAccount: '999', from: { handles: [{ scope: '999' }, { scope: 'telegram' }] } });
    expect(() => channelConfig(telegramChannel, { secretToken: SECRET })).toThrow(/botId: set the bot id or the bot token/);
    expect(() => channelConfig(telegramChannel, { secretToken: 'has spaces', botId: '1' })).toThrow(/secretToken/);
    expect(() => channelConfig(telegramChannel, { botToken: 'not-a-token' })).toThrow(/botToken/);
  });

  test('the X-Telegram-Bot-Api-Secret-Token header must equal the secret token; without one set, everything is refused', () => {
    const body = fixture('text');
    expect(telegramChannel.verify(request(body), config)).toEqual({ ok: true });
    expect(telegramChannel.verify(request(body, { 'x-telegram-bot-api-secret-token': [SECRET] } as never), config)).toEqual({ ok: true });
    expect(telegramChannel.verify(request(body, {}), config)).toEqual({ ok: false, status: 403, reason: 'missing X-Telegram-Bot-Api-Secret-Token header' });
    expect(telegramChannel.verify(request(body, { 'x-telegram-bot-api-secret-token': `${SECRET}x` }), config)).toMatchObject({ ok: false, status: 403 });
    expect(telegramChannel.verify(request(body, { 'x-telegram-bot-api-secret-token': SECRET.toUpperCase() }), config)).toMatchObject({ ok: false, status: 403 });
    const unset = channelConfig(telegramChannel, { botId: BOT_ID });
    const refused = telegramChannel.verify(request(body), unset);
    expect(refused).toMatchObject({ ok: false, status: 403 });
    expect(!refused.ok && refused.reason).toMatch(/no secret token is set in this node: set one/);
  });
});

describe('Telegram updates to messages', () => {
  const maya = { kind: 'telegram_user', scope: BOT_ID, value: '5123456789', trust: 'channel' };
  // Her username is a handle too, at asserted trust: usernames change hands, so it can only ever suggest.
  const mayal = { kind: 'username', scope: 'telegram', value: 'mayal', trust: 'asserted' };

  test('a text message', () => {
    const body = fixture('text');
    expect(messagesOf(body)).toEqual([
      {
        channel: 'telegram',
        channelAccount: BOT_ID,
        providerMessageId: '5123456789:42',
        threadKey: '7000000001:5123456789',
        from: { name: 'Maya Lindqvist', handles: [maya, mayal] },
        text: 'Hi, my parcel never arrived',
        attachments: [],
        sentAt: 1795514400000,
        replyTo: { chatId: 5123456789 },
        metadata: { updateId: 815500001, chatType: 'private', username: 'mayal', languageCode: 'sv' },
        raw: body,
      },
    ]);
  });

  test('an edited message names the original and when it was edited (the core updates the original in place)', () => {
    const body = fixture('edited');
    expect(messagesOf(body)).toEqual([
      {
        channel: 'telegram',
        channelAccount: BOT_ID,
        providerMessageId: '5123456789:42',
        editedAt: 1795514460000,
        threadKey: '7000000001:5123456789',
        from: { name: 'Maya Lindqvist', handles: [maya, mayal] },
        text: 'Hi, my parcel (order 1182) never arrived',
        attachments: [],
        sentAt: 1795514400000,
        replyTo: { chatId: 5123456789 },
        metadata: { updateId: 815500002, chatType: 'private', username: 'mayal', languageCode: 'sv', edited: true },
        raw: body,
      },
    ]);
  });

  test('a photo with a caption: the largest size, by file id', () => {
    const body = fixture('photo');
    expect(messagesOf(body)).toEqual([
      {
        channel: 'telegram',
        channelAccount: BOT_ID,
        providerMessageId: '5123456789:43',
        threadKey: '7000000001:5123456789',
        from: { name: 'Maya', handles: [maya] },
        text: 'The box arrived crushed',
        attachments: [{ url: 'telegram-file:AgACAgQAAxkBAAIBS_large', name: 'photo', size: 98213, caption: 'The box arrived crushed' }],
        sentAt: 1795514500000,
        replyTo: { chatId: 5123456789 },
        metadata: { updateId: 815500003, chatType: 'private', files: [{ type: 'photo', fileId: 'AgACAgQAAxkBAAIBS_large', fileUniqueId: 'AQADs3' }] },
        raw: body,
      },
    ]);
  });

  test('a document', () => {
    const body = fixture('document');
    expect(messagesOf(body)).toEqual([
      {
        channel: 'telegram',
        channelAccount: BOT_ID,
        providerMessageId: '5123456789:44',
        threadKey: '7000000001:5123456789',
        from: { name: 'Maya', handles: [maya] },
        text: '',
        attachments: [{ url: 'telegram-file:BQACAgQAAxkBAAIBTmdoc', name: 'invoice-1182.pdf', contentType: 'application/pdf', size: 53211 }],
        sentAt: 1795514600000,
        replyTo: { chatId: 5123456789 },
        metadata: { updateId: 815500004, chatType: 'private', files: [{ type: 'document', fileId: 'BQACAgQAAxkBAAIBTmdoc', fileUniqueId: 'AgADdoc1' }] },
        raw: body,
      },
    ]);
  });

  test("a shared contact: the sender's own phone becomes a channel-trusted handle, somebody else's does not", () => {
    const body = fixture('contact');
    expect(messagesOf(body)).toEqual([
      {
        channel: 'telegram',
        channelAccount: BOT_ID,
        providerMessageId: '5123456789:45',
        threadKey: '7000000001:5123456789',
        from: { name: 'Maya', handles: [maya, { kind: 'phone', value: '447911123456', trust: 'channel' }] },
        text: '',
        attachments: [],
        sentAt: 1795514700000,
        replyTo: { chatId: 5123456789 },
        metadata: { updateId: 815500005, chatType: 'private', contact: { phoneNumber: '447911123456', firstName: 'Maya', userId: 5123456789, own: true } },
        raw: body,
      },
    ]);
    const other = messagesOf(fixture('contact-other'))[0] as { from: { handles: unknown[] }; metadata: Record<string, unknown> };
    expect(other.from.handles).toEqual([maya]);
    expect(other.metadata.contact).toEqual({ phoneNumber: '+14155550123', firstName: 'Jon', userId: 6000000001, own: false });
  });

  test('a callback query (a button press) is an interaction: its data is the text, the message with the button is what it answers', () => {
    const body = fixture('callback');
    expect(messagesOf(body)).toEqual([
      {
        channel: 'telegram',
        channelAccount: BOT_ID,
        providerMessageId: 'callback:4382bfdwdsb323b2d9',
        kind: 'interaction',
        threadKey: '7000000001:5123456789',
        inReplyTo: ['5123456789:50'],
        from: { name: 'Maya Lindqvist', handles: [maya, mayal] },
        text: 'csat:yes',
        replyTo: { chatId: 5123456789 },
        metadata: { updateId: 815500007, interaction: 'button', callbackQueryId: '4382bfdwdsb323b2d9', callbackMessageId: '5123456789:50', username: 'mayal' },
        raw: body,
      },
    ]);
  });

  test('channel posts, bots, updates without a user and other update kinds give no item', () => {
    expect(messagesOf(fixture('channel-post'))).toEqual([]);
    expect(messagesOf(fixture('bot-message'))).toEqual([]);
    const text = fixture('text') as { message: Record<string, unknown> };
    const { from: _dropped, ...anonymous } = text.message;
    expect(messagesOf({ update_id: 1, message: anonymous })).toEqual([]);
    expect(messagesOf({ update_id: 2, my_chat_member: { chat: { id: 1 } } })).toEqual([]);
    expect(messagesOf({ update_id: 3 })).toEqual([]);
  });

  test.each([
    ['', '(body)', 'empty'],
    ['{"update_id": ', '(body)', 'not valid JSON'],
    [JSON.stringify({ message: { message_id: 1 } }), 'update_id', 'update_id'],
    [JSON.stringify({ update_id: 'seven' }), 'update_id', 'update_id'],
    [JSON.stringify({ update_id: 1, message: { message_id: 1, date: 1, from: { id: 5, is_bot: false, first_name: 'A' } } }), 'message.chat', 'message.chat'],
    [JSON.stringify({ update_id: 1, message: { message_id: 1, date: 1, chat: { id: 5, type: 'private' }, from: { is_bot: false, first_name: 'A' } } }), 'message.from.id', 'message.from.id'],
    [JSON.stringify({ update_id: 1, edited_message: { message_id: 1, date: 1, chat: { id: 5, type: 'private' }, from: { id: 5, is_bot: false, first_name: 'A' } } }), 'edited_message.edit_date', 'edit_date'],
    [JSON.stringify({ update_id: 1, callback_query: { id: 'q', data: 'x' } }), 'callback_query.from', 'callback_query.from'],
    [JSON.stringify([1, 2]), '(root)', 'Telegram update'],
  ])('malformed update %s is refused naming %s', (raw, field, words) => {
    const error = refusal(() => telegramChannel.parse(request(raw), config));
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.field).toBe(field);
    expect(error.message).toContain(words);
  });
});

// ---------------------------------------------------------------------------------------------
// Random and mutated updates
// ---------------------------------------------------------------------------------------------

const FIXTURES = ['text', 'edited', 'photo', 'document', 'contact', 'contact-other', 'callback', 'channel-post', 'bot-message'].map(fixture);

function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries = Object.entries(value as Record<string, unknown>);
  return [prefix, ...entries.flatMap(([key, child]) => pathsOf(child, [...prefix, key]))];
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

const scalar = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.constant(-1), fc.constant(0), fc.constant(2 ** 60), fc.string({ minLength: 300 }));
const updates = fc.oneof(
  fc.anything(),
  fc.record({ update_id: fc.oneof(fc.nat(), scalar), message: fc.anything() }, { requiredKeys: [] }),
  fc
    .constantFrom(...FIXTURES)
    .chain((base) => fc.tuple(fc.constant(base), fc.constantFrom(...pathsOf(base)), fc.oneof(scalar, fc.anything()), fc.boolean()))
    .map(([base, path, value, drop]) => mutate(base, path, value, drop)),
  // Two mutations at once.
  fc
    .constantFrom(...FIXTURES)
    .chain((base) => fc.tuple(fc.constant(base), fc.constantFrom(...pathsOf(base)), fc.constantFrom(...pathsOf(base)), scalar, scalar))
    .map(([base, p1, p2, v1, v2]) => mutate(mutate(base, p1, v1, false), p2, v2, true)),
);

function checkParse(body: unknown): 'items' | 'refused' {
  try {
    const items = telegramChannel.parse(request(body), config);
    for (const item of items) {
      expect(item.type).toBe('message');
      // What the parser hands over is always a valid MessageInput.
      expect(MessageInputSchema.safeParse(item.type === 'message' ? item.message : item).success).toBe(true);
    }
    return 'items';
  } catch (error) {
    expect(error).toBeInstanceOf(OmnithreadError);
    expect((error as OmnithreadError).code).toBe('INVALID_INPUT');
    expect((error as OmnithreadError).field).toEqual(expect.any(String));
    return 'refused';
  }
}

describe('Telegram parser under random input', () => {
  test('thousands of random and mutated updates: valid messages or INVALID_INPUT naming a field, nothing else', () => {
    const seen = { items: 0, refused: 0 };
    fc.assert(
      fc.property(updates, (body) => {
        seen[checkParse(body)]++;
      }),
      { numRuns: 4000, seed: 20261124 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const result = (() => {
          try {
            return telegramChannel.parse({ ...request(''), rawBody: Buffer.from(bytes) }, config);
          } catch (error) {
            expect((error as OmnithreadError).code).toBe('INVALID_INPUT');
            return undefined;
          }
        })();
        if (result) for (const item of result) expect(MessageInputSchema.safeParse(item.type === 'message' ? item.message : item).success).toBe(true);
      }),
      { numRuns: 1000, seed: 7 },
    );
    expect(seen.items).toBeGreaterThan(300);
    expect(seen.refused).toBeGreaterThan(300);
  });
});

describe('Telegram groups (real-format updates, test/channels/fixtures/real/telegram)', () => {
  const real = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(__dirname, 'fixtures', 'real', 'telegram', `${name}.json`), 'utf8'));
  const bot = (groups?: boolean) => channelConfig(telegramChannel, { secretToken: SECRET, botId: '7412305518', ...(groups === undefined ? {} : { groups }) });

  test('off by default: group and supergroup updates are acknowledged and give no item', () => {
    expect(messagesOf(real('group-text'), bot())).toEqual([]);
    expect(messagesOf(real('supergroup-text'), bot(false))).toEqual([]);
    // The editors save a checkbox as a string in some paths: "false" stays off.
    expect(messagesOf(real('group-text'), channelConfig(telegramChannel, { secretToken: SECRET, botId: '7412305518', groups: 'false' }))).toEqual([]);
  });

  test("on: a group is a party of its own (its chat, never a member's private contact), and who wrote is kept", () => {
    const [group] = messagesOf(real('group-text'), bot(true)) as MessageInputType[];
    expect(group).toMatchObject({
      channel: 'telegram',
      channelAccount: '7412305518',
      providerMessageId: '-4089123456:57',
      threadKey: '7412305518:-4089123456',
      from: { name: 'Acme Clientes VIP', handles: [{ kind: 'external_id', scope: 'telegram:7412305518', value: 'group:-4089123456', trust: 'channel' }] },
      metadata: { chatType: 'group', chatTitle: 'Acme Clientes VIP', sender: { id: 6281430957, name: 'Joana Ribeiro', username: 'joanaribeiro_rj' } },
    });
    expect(group.from.handles).toHaveLength(1);
    const [supergroup] = messagesOf(real('supergroup-text'), bot(true)) as MessageInputType[];
    expect(supergroup.from.handles[0]).toMatchObject({ value: `group:${(real('supergroup-text').message as { chat: { id: number } }).chat.id}` });
    expect(MessageInputSchema.safeParse(group).success).toBe(true);
  });
});

type MessageInputType = { from: { handles: { kind: string; value: string }[] } } & Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Through the webhook handler, on both stores
// ---------------------------------------------------------------------------------------------

describeStores('Telegram webhook', (ctx) => {
  test('records an update, scoped to the bot; a redelivery is recognised', async () => {
    const ot = ctx().omnithread();
    const first = await handleWebhook(ot, telegramChannel, config, request(fixture('text')));
    expect(first.reply).toEqual({ status: 200, body: { received: 1, recorded: 1, duplicates: 0 } });
    const contact = first.recorded[0].contact;
    expect(contact.identities.map((i) => [i.kind, i.scope, i.value, i.trust])).toEqual([
      ['telegram_user', BOT_ID, '5123456789', 'channel'],
      ['username', 'telegram', 'mayal', 'asserted'],
    ]);
    expect(first.recorded[0].message).toMatchObject({ channel: 'telegram', providerMessageId: '5123456789:42', replyTo: { chatId: 5123456789 } });

    const again = await handleWebhook(ot, telegramChannel, config, request(fixture('text')));
    expect(again.reply.body).toEqual({ received: 1, recorded: 0, duplicates: 1 });
    expect(again.duplicates[0].event?.id).toBe(first.recorded[0].event?.id);

    // The edit updates the original item in place (no second message); its earlier text is kept.
    const edit = await handleWebhook(ot, telegramChannel, config, request(fixture('edited')));
    expect(edit.reply.body).toEqual({ received: 1, recorded: 0, duplicates: 0, edited: 1 });
    expect(edit.edited[0].contact.id).toBe(contact.id);
    expect(edit.edited[0].event?.id).toBe(first.recorded[0].event?.id);
    expect(edit.edited[0].event).toMatchObject({
      text: 'Hi, my parcel (order 1182) never arrived',
      data: { editedAt: '2026-11-24T10:01:00.000Z', edits: [{ text: 'Hi, my parcel never arrived', at: '2026-11-24T10:00:00.000Z' }] },
    });
    expect((await handleWebhook(ot, telegramChannel, config, request(fixture('edited')))).reply.body).toEqual({ received: 1, recorded: 0, duplicates: 1 });
    expect((await ot.timeline(contact.id, { kinds: ['message'] })).events.map((e) => e.text)).toEqual(['Hi, my parcel (order 1182) never arrived']);

    // Her own phone number, shared with the bot, joins her contact.
    const shared = await handleWebhook(ot, telegramChannel, config, request(fixture('contact')));
    expect(shared.recorded[0].contact.id).toBe(contact.id);
    expect(shared.recorded[0].contact.identities.map((i) => i.value).sort()).toEqual(['+447911123456', '5123456789', 'mayal']);

    // The same user id under another bot is another handle, so another person as far as ids go.
    const otherBot = channelConfig(telegramChannel, { secretToken: SECRET, botId: '7000000002' });
    const elsewhere = await handleWebhook(ot, telegramChannel, otherBot, request(fixture('text')));
    expect(elsewhere.recorded).toHaveLength(1);
    expect(elsewhere.recorded[0].contact.id).not.toBe(contact.id);
    expect(elsewhere.recorded[0].message.channelAccount).toBe('7000000002');

    // Nothing to record: 200, nothing written.
    const before = await countRows(ctx().store);
    const post = await handleWebhook(ot, telegramChannel, config, request(fixture('channel-post')));
    expect(post.reply).toEqual({ status: 200, body: { received: 0, recorded: 0, duplicates: 0 } });
    expect(await countRows(ctx().store)).toEqual(before);
  });

  test('a wrong or missing secret token gets 403, a malformed update 400 naming the field; neither stores anything', async () => {
    const ot = ctx().omnithread();
    const before = await countRows(ctx().store);
    const missing = await handleWebhook(ot, telegramChannel, config, request(fixture('text'), {}));
    expect(missing.reply).toEqual({ status: 403, body: { error: 'Signature check failed: missing X-Telegram-Bot-Api-Secret-Token header' } });
    const wrong = await handleWebhook(ot, telegramChannel, config, request(fixture('text'), { 'x-telegram-bot-api-secret-token': 'guess' }));
    expect(wrong.reply.status).toBe(403);
    const unset = await handleWebhook(ot, telegramChannel, channelConfig(telegramChannel, { botId: BOT_ID }), request(fixture('text')));
    expect(unset.reply.status).toBe(403);
    const malformed = await handleWebhook(ot, telegramChannel, config, request({ message: fixture('text').message }));
    expect(malformed.reply).toMatchObject({ status: 400, body: { field: 'update_id' } });
    const noChat = await handleWebhook(ot, telegramChannel, config, request({ update_id: 9, message: { message_id: 1, date: 1, from: { id: 5, is_bot: false, first_name: 'A' } } }));
    expect(noChat.reply).toMatchObject({ status: 400, body: { field: 'message.chat' } });
    expect(await countRows(ctx().store)).toEqual(before);
  });

  test('random and mutated updates through the handler: recorded, or refused without writing', async () => {
    const ot = ctx().omnithread();
    let n = 0;
    const seen = { recorded: 0, refused: 0, other: 0 };
    await fc.assert(
      fc.asyncProperty(updates, fc.integer({ min: 0, max: 9 }), async (body, unsigned) => {
        const signed = unsigned > 0;
        // Fresh ids, so accepted updates are new messages rather than redeliveries.
        if (body && typeof body === 'object' && typeof (body as { update_id?: unknown }).update_id === 'number') {
          const update = body as Record<string, { message_id?: unknown; id?: unknown } | undefined>;
          for (const message of [update.message, update.edited_message]) {
            if (message && typeof message === 'object' && typeof message.message_id === 'number') message.message_id = 1000 + ++n;
          }
          const query = update.callback_query;
          if (query && typeof query === 'object' && typeof query.id === 'string') query.id = `q-${++n}`;
        }
        const before = await countRows(ctx().store);
        const outcome = await handleWebhook(ot, telegramChannel, config, request(body, signed ? { 'x-telegram-bot-api-secret-token': SECRET } : {}));
        expect([200, 400, 403]).toContain(outcome.reply.status);
        if (outcome.reply.status !== 200) {
          expect(await countRows(ctx().store)).toEqual(before);
          seen.refused++;
        } else if (outcome.recorded.length) seen.recorded++;
        else seen.other++;
      }),
      { numRuns: ctx().kind === 'sqlite' ? 300 : 60, seed: 1124 },
    );
    expect(seen.refused).toBeGreaterThan(10);
    expect(seen.recorded).toBeGreaterThan(ctx().kind === 'sqlite' ? 10 : 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Sending, and the webhook registration helpers, against a local server
// ---------------------------------------------------------------------------------------------

describe('Telegram send and webhook helpers', () => {
  let base: string;
  let seen: ProviderRequest[] = [];
  let answers: { status: number; body: unknown; headers?: Record<string, string> }[] = [];
  const http = axios.create();

  let provider: ProviderServer;
  beforeAll(async () => {
    provider = await startProvider(() => answers.shift() ?? { status: 500, body: { ok: false, error_code: 500, description: 'no answer queued' } });
    ({ base, seen } = provider);
  });
  afterAll(() => provider.close());
  beforeEach(() => {
    seen.length = 0;
    answers = [];
  });

  const sendConfig = () => ({ botToken: BOT_TOKEN, apiBaseUrl: base });
  const ok = (result: unknown) => ({ status: 200, body: { ok: true, result } });

  test('text goes through sendMessage; the id has the inbound shape chat:message', async () => {
    answers.push(ok({ message_id: 77, chat: { id: 5123456789, type: 'private' }, date: 1795514999, text: 'On its way' }));
    const result = await telegramChannel.send!({ to: { chatId: 5123456789 }, text: 'On its way' }, sendConfig(), http);
    expect(result.providerMessageId).toBe('5123456789:77');
    expect(result.response).toMatchObject({ ok: true, result: { message_id: 77 } });
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe(`/bot${BOT_TOKEN}/sendMessage`);
    expect(seen[0].headers['content-type']).toMatch(/^application\/json/);
    expect(seen[0].body).toEqual({ chat_id: 5123456789, text: 'On its way' });
  });

  test('media by URL: sendPhoto with a caption, sendDocument with the text as caption', async () => {
    answers.push(ok({ message_id: 78, chat: { id: 5123456789 } }), ok({ message_id: 79, chat: { id: 5123456789 } }));
    const photo = await telegramChannel.send!({ to: { chatId: 5123456789 }, text: '', media: { url: 'https://cdn.acme.io/label.png', type: 'image', caption: 'Your label' } }, sendConfig(), http);
    expect(photo.providerMessageId).toBe('5123456789:78');
    expect(seen[0].url).toBe(`/bot${BOT_TOKEN}/sendPhoto`);
    expect(seen[0].body).toEqual({ chat_id: 5123456789, photo: 'https://cdn.acme.io/label.png', caption: 'Your label' });
    await telegramChannel.send!({ to: { chatId: 5123456789 }, text: 'Invoice attached', media: { url: 'https://cdn.acme.io/i.pdf', type: 'document' } }, sendConfig(), http);
    expect(seen[1].url).toBe(`/bot${BOT_TOKEN}/sendDocument`);
    expect(seen[1].body).toEqual({ chat_id: 5123456789, document: 'https://cdn.acme.io/i.pdf', caption: 'Invoice attached' });
  });

  test('bad requests are refused before any call', async () => {
    await expect(telegramChannel.send!({ to: {}, text: 'x' }, sendConfig(), http)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'to.chatId' });
    await expect(telegramChannel.send!({ to: { chatId: 1 }, text: '  ' }, sendConfig(), http)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'text' });
    await expect(telegramChannel.send!({ to: { chatId: 1 }, text: 'x' }, { botToken: 'nope' }, http)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'botToken' });
    await expect(telegramChannel.send!({ to: { chatId: 1 }, text: 'x', template: { name: 't', language: 'en' } }, sendConfig(), http)).rejects.toMatchObject({ field: 'template' });
    expect(seen).toHaveLength(0);
  });

  test('errors: 429 with retry_after, 401, 403 blocked, 404 bad token, 500', async () => {
    answers.push({ status: 429, body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 34', parameters: { retry_after: 34 } } });
    const limited = await telegramChannel.send!({ to: { chatId: 1 }, text: 'x' }, sendConfig(), http).catch((e: OmnithreadError) => e);
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 34, status: 429 } });

    answers.push({ status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } });
    await expect(telegramChannel.send!({ to: { chatId: 1 }, text: 'x' }, sendConfig(), http)).rejects.toMatchObject({ code: 'AUTH_FAILED' });

    answers.push({ status: 403, body: { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' } });
    const blocked = (await telegramChannel.send!({ to: { chatId: 1 }, text: 'x' }, sendConfig(), http).catch((e: OmnithreadError) => e)) as OmnithreadError;
    expect(blocked).toMatchObject({ code: 'PROVIDER_ERROR', details: { reason: 'recipient_unreachable', status: 403 } });
    expect(blocked.message).toContain('bot was blocked by the user');

    answers.push({ status: 404, body: { ok: false, error_code: 404, description: 'Not Found' } });
    await expect(telegramChannel.send!({ to: { chatId: 1 }, text: 'x' }, sendConfig(), http)).rejects.toMatchObject({ code: 'AUTH_FAILED' });

    answers.push({ status: 500, body: { ok: false, error_code: 500, description: 'Internal Server Error' } });
    const failed = (await telegramChannel.send!({ to: { chatId: 1 }, text: 'x' }, sendConfig(), http).catch((e: OmnithreadError) => e)) as OmnithreadError;
    expect(failed).toMatchObject({ code: 'PROVIDER_ERROR', details: { status: 500 } });
    expect(failed.message).not.toContain(BOT_TOKEN);

    // Unreachable: the token (part of the URL) never shows in the error.
    const down = (await telegramChannel.send!({ to: { chatId: 1 }, text: 'x' }, { botToken: BOT_TOKEN, apiBaseUrl: 'http://127.0.0.1:1' }, http).catch((e: OmnithreadError) => e)) as OmnithreadError;
    expect(down.code).toBe('PROVIDER_ERROR');
    expect(JSON.stringify({ m: down.message, d: down.details })).not.toContain(BOT_TOKEN);
  });

  test('setWebhook, getWebhookInfo and deleteWebhook', async () => {
    answers.push(ok(true), ok({ url: 'https://n8n.acme.io/webhook/tg', has_custom_certificate: false, pending_update_count: 0 }), ok(true));
    const set = await telegramSetWebhook('https://n8n.acme.io/webhook/tg', { botToken: BOT_TOKEN, secretToken: SECRET, apiBaseUrl: base }, http);
    expect(set).toEqual({ ok: true, result: true });
    expect(seen[0]).toMatchObject({ method: 'POST', url: `/bot${BOT_TOKEN}/setWebhook` });
    expect(seen[0].body).toEqual({ url: 'https://n8n.acme.io/webhook/tg', secret_token: SECRET, allowed_updates: ['message', 'edited_message', 'callback_query'] });
    const info = await telegramWebhookInfo({ botToken: BOT_TOKEN, apiBaseUrl: base }, http);
    expect(info).toMatchObject({ url: 'https://n8n.acme.io/webhook/tg', pending_update_count: 0 });
    expect(seen[1]).toMatchObject({ method: 'GET', url: `/bot${BOT_TOKEN}/getWebhookInfo` });
    expect(await telegramDeleteWebhook({ botToken: BOT_TOKEN, apiBaseUrl: base }, http)).toEqual({ ok: true, result: true });
    expect(seen[2]).toMatchObject({ method: 'POST', url: `/bot${BOT_TOKEN}/deleteWebhook`, body: {} });

    await expect(telegramSetWebhook('https://n8n.acme.io/webhook/tg', { botToken: BOT_TOKEN, apiBaseUrl: base }, http)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'secretToken' });
    answers.push({ status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook' } });
    await expect(telegramSetWebhook('http://insecure', { botToken: BOT_TOKEN, secretToken: SECRET, apiBaseUrl: base }, http)).rejects.toMatchObject({ code: 'PROVIDER_ERROR', details: { status: 400 } });
  });
});
