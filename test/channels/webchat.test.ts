/**
 * Web chat channel core: body format and identity verification by user hash, the webhook handler on both
 * stores (the chat-then-email story), replies through the Reply core, the visitor's feed, robustness
 * (fast-check), and the widget script and demo page.
 *
 * User-hash convention (hex HMAC-SHA256 of the user id, else the email, with a secret shared with the site):
 * - Intercom: https://www.intercom.com/help/en/articles/183-set-up-and-use-attributes (user_hash; "If you
 *   choose to send both [User ID and email], the User ID will take preference") and
 *   https://developers.intercom.com/installing-intercom/react-native/identity-verification (HMAC of user id or email)
 * - Crisp: https://docs.crisp.chat/guides/chatbox-sdks/web-sdk/identity-verification (verified user emails)
 * - Chatwoot: https://github.com/chatwoot/chatwoot/issues/9493 (identity validation by HMAC; unverified
 *   messages still arrive) ; Front Chat: https://dev.frontapp.com/docs/identify-users (HMAC-SHA256, hex)
 */
import vm from 'node:vm';
import fc from 'fast-check';
import { InboundItem, MessageInputSchema, OmnithreadError, WebhookRequest, channelConfig, handleWebhook, sendReply } from '../../shared';
import { demoPage, webchatChannel, webchatReplies, webchatUserHash, widgetScript } from '../../shared/channels/webchat';
import { countRows, describeStores } from '../support/stores';

const SECRET = 'site-identity-secret';
const config = channelConfig(webchatChannel, { siteId: 'shop', identitySecret: SECRET, allowedOrigins: 'https://shop.example, https://www.shop.example/' });
const noSecret = channelConfig(webchatChannel, { siteId: 'shop' });

function post(body: unknown, headers: Record<string, string> = {}): WebhookRequest {
  const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, query: {}, rawBody: raw };
}

const hash = (id: string) => webchatUserHash(SECRET, id);
const msg = (over: Record<string, unknown> = {}) => ({ visitorId: 'v-1', messageId: 'm-1', text: 'Hello', ...over });
const only = (items: InboundItem[]) => {
  expect(items).toHaveLength(1);
  const item = items[0];
  if (item.type !== 'message') throw new Error('expected a message');
  return item.message;
};
function invalid(fn: () => unknown): OmnithreadError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OmnithreadError);
    expect((error as OmnithreadError).code).toBe('INVALID_INPUT');
    return error as OmnithreadError;
  }
  throw new Error('expected INVALID_INPUT');
}

describe('web chat parse and verify', () => {
  test('anonymous visitor: a webchat_visitor handle scoped to the site, page and user agent in metadata', () => {
    const m = only(webchatChannel.parse(post({ ...msg(), siteId: 'shop', page: { url: 'https://shop.example/orders', title: 'Orders' } }, { 'user-agent': 'UA/1' }), config));
    expect(m).toMatchObject({
      channel: 'webchat',
      channelAccount: 'shop',
      providerMessageId: 'v-1:m-1',
      text: 'Hello',
      from: { handles: [{ kind: 'webchat_visitor', scope: 'shop', value: 'v-1', trust: 'channel' }] },
      replyTo: { visitorId: 'v-1', siteId: 'shop' },
      metadata: { webchat: { messageId: 'm-1', identity: 'anonymous' }, pageUrl: 'https://shop.example/orders', pageTitle: 'Orders', userAgent: 'UA/1' },
    });
    expect(m.from.handles).toHaveLength(1);
    MessageInputSchema.parse(m);
  });

  test('verified email (correct hash) and verified account id (the account id takes precedence)', () => {
    const email = only(webchatChannel.parse(post(msg({ user: { email: 'maya@fastmail.fm', name: 'Maya', userHash: hash('maya@fastmail.fm') } })), config));
    expect(email.from).toEqual({ name: 'Maya', handles: [expect.objectContaining({ kind: 'webchat_visitor' }), { kind: 'email', value: 'maya@fastmail.fm', trust: 'verified' }] });
    expect(email.metadata).toMatchObject({ webchat: { identity: 'verified' } });
    expect(JSON.stringify(email.raw)).not.toContain(hash('maya@fastmail.fm'));

    const account = only(webchatChannel.parse(post(msg({ user: { accountId: 981, email: 'maya@fastmail.fm', userHash: hash('981').toUpperCase() } })), config));
    expect(account.from.handles).toEqual([
      expect.objectContaining({ kind: 'webchat_visitor' }),
      { kind: 'account', value: '981', trust: 'verified' },
      { kind: 'email', value: 'maya@fastmail.fm', trust: 'asserted' },
    ]);
    // The hash of the email does not verify when an account id is given.
    const wrongId = only(webchatChannel.parse(post(msg({ user: { accountId: 'a-1', email: 'maya@fastmail.fm', userHash: hash('maya@fastmail.fm') } })), config));
    expect(wrongId.metadata).toMatchObject({ webchat: { identity: 'unverified', identityReason: 'userHash does not match the accountId' } });
  });

  test('forged or missing hash, or no secret configured: kept, but asserted and unverified', () => {
    for (const [user, cfg, reason] of [
      [{ email: 'maya@fastmail.fm', userHash: hash('zoe@example.com') }, config, 'userHash does not match the email'],
      [{ email: 'maya@fastmail.fm', userHash: 'nothex' }, config, 'userHash does not match the email'],
      [{ email: 'maya@fastmail.fm' }, config, 'no userHash was given'],
      [{ email: 'maya@fastmail.fm', userHash: hash('maya@fastmail.fm') }, noSecret, 'no identity secret is configured on this channel'],
    ] as const) {
      const m = only(webchatChannel.parse(post(msg({ user })), cfg));
      expect(m.from.handles[1]).toEqual({ kind: 'email', value: 'maya@fastmail.fm', trust: 'asserted' });
      expect(m.metadata).toMatchObject({ webchat: { identity: 'unverified', identityReason: reason } });
    }
  });

  test('malformed bodies: INVALID_INPUT naming the field', () => {
    expect(invalid(() => webchatChannel.parse(post(''), config)).field).toBe('(body)');
    expect(invalid(() => webchatChannel.parse(post('{nope'), config)).field).toBe('(body)');
    const cases: [unknown, string][] = [
      [{ messageId: 'm', text: 'x' }, 'visitorId'],
      [{ visitorId: 'v' }, 'text'],
      [msg({ text: '   ' }), 'text'],
      [msg({ text: 42 }), 'text'],
      [msg({ visitorId: 'has space' }), 'visitorId'],
      [msg({ messageId: 'has space' }), 'messageId'],
      [msg({ user: { email: 'not-an-email' } }), 'user.email'],
      [msg({ fields: { nested: { too: 'deep' } } }), 'fields.nested'],
      [msg({ siteId: 'other' }), 'siteId'],
      [[msg()], ''],
    ];
    for (const [body, field] of cases) {
      const error = invalid(() => webchatChannel.parse(post(body), config));
      if (field) expect(error.field).toBe(field);
    }
  });

  test("pre-chat fields people expect: name, email and phone typed (asserted), custom fields as attributes; unknown fields and a missing message id don't refuse the message", () => {
    // What a widget with a pre-chat form posts (Chatwoot-style names and extra fields of its own).
    const body = {
      visitorId: 'v-9',
      text: 'Hi, I have a question about my order',
      name: 'Joana Ribeiro',
      email: 'joana.ribeiro@example.com.br',
      phone: '+55 21 98876-4321',
      fields: { orderNumber: '44719', plan: 'pro', newsletter: false },
      widgetVersion: '3.2.1',
      locale: 'pt-BR',
      page: { url: 'https://shop.example/help', title: 'Help', referrer: 'https://google.com' },
    };
    const m = only(webchatChannel.parse(post(body), config));
    expect(m.from).toEqual({
      name: 'Joana Ribeiro',
      handles: [
        { kind: 'webchat_visitor', scope: 'shop', value: 'v-9', trust: 'channel' },
        { kind: 'email', value: 'joana.ribeiro@example.com.br', trust: 'asserted' },
        { kind: 'phone', value: '+55 21 98876-4321', trust: 'asserted' },
      ],
      attributes: { webchat: { orderNumber: '44719', plan: 'pro', newsletter: false } },
    });
    // No message id: the server assigns one (a retrying client must send its own, or its retry is a second message).
    expect(m.providerMessageId).toMatch(/^v-9:srv-[0-9a-f-]{36}$/);
    expect(m.metadata).toMatchObject({ webchat: { serverAssignedId: true }, ignoredFields: ['widgetVersion', 'locale'] });
    // In a verified session the site vouches for who typed them: channel trust.
    const hash = webchatUserHash(SECRET, 'maya@fastmail.fm');
    const verified = only(webchatChannel.parse(post(msg({ user: { email: 'maya@fastmail.fm', userHash: hash }, phone: '+447911123456' })), config));
    expect(verified.from.handles).toContainEqual({ kind: 'phone', value: '+447911123456', trust: 'channel' });
  });

  test('origin: allowed origins pass, another origin gets 403; no list = any origin', () => {
    expect(webchatChannel.verify(post(msg(), { origin: 'https://shop.example' }), config)).toEqual({ ok: true });
    expect(webchatChannel.verify(post(msg(), { origin: 'https://WWW.shop.example' }), config)).toEqual({ ok: true });
    expect(webchatChannel.verify(post(msg(), { origin: 'https://evil.example' }), config)).toMatchObject({ ok: false, status: 403 });
    expect(webchatChannel.verify(post(msg(), { origin: 'null' }), config)).toMatchObject({ ok: false, status: 403 });
    expect(webchatChannel.verify(post(msg(), { origin: 'https://evil.example' }), noSecret)).toEqual({ ok: true });
  });
});

describeStores('web chat through the webhook handler', (ctx) => {
  test('a verified chat visitor and a later email from the same address are one contact; the answer says verified', async () => {
    const ot = ctx().omnithread();
    const chat = await handleWebhook(ot, webchatChannel, config, post(msg({ text: 'Where is my parcel?', user: { email: 'Maya@Fastmail.fm', userHash: hash('Maya@Fastmail.fm') } })));
    expect(chat.reply).toEqual({ status: 200, body: { received: 1, recorded: 1, duplicates: 0, identity: 'verified', messageId: 'm-1' } });
    const contactId = chat.recorded[0].contact.id;
    const email = await ot.ingest({
      channel: 'email',
      providerMessageId: '<abc@fastmail.fm>',
      from: { handles: [{ kind: 'email', value: 'maya@fastmail.fm', trust: 'channel' }] },
      text: 'Following up by email',
    });
    expect(email.contact.id).toBe(contactId);
    const timeline = await ot.timeline(email.contact.id, { kinds: ['message'] });
    expect(timeline.events.map((e) => [e.channel, e.text])).toEqual([
      ['webchat', 'Where is my parcel?'],
      ['email', 'Following up by email'],
    ]);
  });

  test('an unverified typed email matching another contact gives a suggestion, not a merge', async () => {
    const ot = ctx().omnithread();
    const maya = await ot.ingest({ channel: 'email', providerMessageId: '<1@x>', from: { handles: [{ kind: 'email', value: 'maya@fastmail.fm', trust: 'channel' }] }, text: 'hi' });
    const chat = await handleWebhook(ot, webchatChannel, config, post(msg({ visitorId: 'v-evil', user: { email: 'maya@fastmail.fm', userHash: hash('someone@else') } })));
    expect(chat.reply.body).toMatchObject({ identity: 'unverified', identityReason: 'userHash does not match the email', recorded: 1 });
    expect(chat.recorded[0].contact.id).not.toBe(maya.contact.id);
    const suggestions = await ot.suggestions();
    expect(suggestions).toHaveLength(1);
    expect([...suggestions[0].contactIds].sort()).toEqual([maya.contact.id, chat.recorded[0].contact.id].sort());
  });

  test('redelivery of the same messageId is recognised; another visitor reusing it is not a duplicate; refused origin stores nothing', async () => {
    const ot = ctx().omnithread();
    const first = await handleWebhook(ot, webchatChannel, config, post(msg()));
    const again = await handleWebhook(ot, webchatChannel, config, post(msg()));
    expect(again.reply.body).toEqual({ received: 1, recorded: 0, duplicates: 1, identity: 'anonymous', messageId: 'm-1' });
    expect(again.duplicates[0].event?.id).toBe(first.recorded[0].event?.id);
    const other = await handleWebhook(ot, webchatChannel, config, post(msg({ visitorId: 'v-2' })));
    expect(other.recorded).toHaveLength(1);

    const before = await countRows(ctx().store);
    const refused = await handleWebhook(ot, webchatChannel, config, post(msg({ messageId: 'm-9' }), { origin: 'https://evil.example' }));
    expect(refused.reply.status).toBe(403);
    const bad = await handleWebhook(ot, webchatChannel, config, post({ visitorId: 'v-1' }));
    expect(bad.reply).toMatchObject({ status: 400, body: { field: 'text' } });
    expect(await countRows(ctx().store)).toEqual(before);
  });

  test('replies: sendReply records the outbound message; the feed shows it after the visitor message, with a working cursor; a human who took over shows too', async () => {
    const ot = ctx().omnithread();
    expect(await webchatReplies(ot, { siteId: 'shop', visitorId: 'v-unknown' })).toEqual({ messages: [], cursor: null, more: false });

    const chat = await handleWebhook(ot, webchatChannel, config, post(msg({ text: 'Where is my parcel?' })));
    const contactId = chat.recorded[0].contact.id;
    const first = await webchatReplies(ot, { siteId: 'shop', visitorId: 'v-1' });
    expect(first.messages).toEqual([expect.objectContaining({ direction: 'inbound', text: 'Where is my parcel?', messageId: 'm-1' })]);

    const reply = await sendReply(ot, { contactId, text: 'It ships today' }, { channels: { webchat: {} }, modules: { webchat: webchatChannel } });
    expect(reply).toMatchObject({ duplicate: false, channel: 'webchat', via: 'message', providerMessageId: expect.stringMatching(/^webchat:/) });
    expect(reply.event).toMatchObject({ direction: 'outbound', channel: 'webchat', channelAccount: 'shop', data: expect.objectContaining({ sendState: 'sent' }) });

    const second = await webchatReplies(ot, { siteId: 'shop', visitorId: 'v-1', after: first.cursor });
    expect(second.messages).toEqual([expect.objectContaining({ id: reply.event.id, direction: 'outbound', text: 'It ships today' })]);
    expect((await webchatReplies(ot, { siteId: 'shop', visitorId: 'v-1', after: second.cursor })).messages).toEqual([]);

    // A human takes over from the help desk; a message on another channel is not shown in the chat.
    await ot.recordOutbound(contactId, { channel: 'webchat', text: 'Hi, Sam here', author: { type: 'human', name: 'Sam' } });
    await ot.recordOutbound(contactId, { channel: 'email', text: 'An email', author: { type: 'human', name: 'Sam' } });
    const third = await webchatReplies(ot, { siteId: 'shop', visitorId: 'v-1', after: second.cursor });
    expect(third.messages).toEqual([expect.objectContaining({ text: 'Hi, Sam here', author: { type: 'human', name: 'Sam' } })]);

    // The whole history from the start, in pages without duplicates.
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page = await webchatReplies(ot, { siteId: 'shop', visitorId: 'v-1', after: cursor, limit: 1 });
      seen.push(...page.messages.map((m) => m.text));
      cursor = page.cursor;
      if (!page.more) break;
    }
    expect(seen).toEqual(['Where is my parcel?', 'It ships today', 'Hi, Sam here']);

    // A reply still being sent holds the cursor back, so it is not skipped once sent.
    const reserved = await ot.reserveOutbound(contactId, 'k-1', { channel: 'webchat', channelAccount: 'shop', text: 'Checking...' });
    const held = await webchatReplies(ot, { siteId: 'shop', visitorId: 'v-1', after: cursor });
    expect(held).toEqual({ messages: [], cursor, more: false });
    await ot.completeOutbound(reserved.event.id, { state: 'sent', channel: 'webchat', providerMessageId: 'webchat:x' });
    expect((await webchatReplies(ot, { siteId: 'shop', visitorId: 'v-1', after: held.cursor })).messages.map((m) => m.text)).toEqual(['Checking...']);

    await expect(webchatReplies(ot, { siteId: 'shop', visitorId: 'v-1', after: 'garbage' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'after' });
  });
});

describe('web chat: random and mutated bodies through verify and parse', () => {
  const str = fc.oneof({ arbitrary: fc.string({ maxLength: 20 }), weight: 5 }, { arbitrary: fc.anything(), weight: 1 });
  const mostly = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 15 }, { arbitrary: fc.anything(), weight: 1 });
  const bodyArb = fc.oneof(
    { arbitrary: fc.anything(), weight: 1 },
    { arbitrary: fc.jsonValue(), weight: 1 },
    { weight: 6, arbitrary: fc.record(
      {
        siteId: mostly(fc.constantFrom('shop', 'shop', 'shop', 'other', '')),
        visitorId: mostly(fc.oneof({ arbitrary: fc.constantFrom('v-1', 'v:2'), weight: 8 }, fc.constant('a'.repeat(129)), fc.string())),
        messageId: mostly(fc.oneof({ arbitrary: fc.constantFrom('m-1', 'm.2'), weight: 8 }, fc.string())),
        text: mostly(fc.oneof({ arbitrary: fc.constant('hi'), weight: 4 }, fc.string())),
        user: mostly(
          fc.record(
            { email: mostly(fc.oneof(fc.constant('maya@fastmail.fm'), fc.emailAddress(), fc.string())), accountId: mostly(fc.oneof(fc.string(), fc.integer())), name: str, userHash: mostly(fc.oneof(fc.constant(hash('maya@fastmail.fm')), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 64 }))) },
            { requiredKeys: [] },
          ),
        ),
        page: mostly(fc.record({ url: str, title: str }, { requiredKeys: [] })),
      },
      { requiredKeys: ['visitorId', 'messageId', 'text'] },
    ) },
  );
  test('only valid items or INVALID_INPUT errors naming a field', () => {
    let parsed = 0;
    let refused = 0;
    fc.assert(
      fc.property(bodyArb, fc.constantFrom(undefined, 'https://shop.example', 'https://evil.example'), (body, origin) => {
        let raw: string;
        try {
          raw = JSON.stringify(body) ?? '';
        } catch {
          raw = String(body);
        }
        const request = post(raw, origin ? { origin } : {});
        const verdict = webchatChannel.verify(request, config);
        if (origin === 'https://evil.example') {
          expect(verdict).toMatchObject({ ok: false, status: 403 });
          return;
        }
        expect(verdict).toEqual({ ok: true });
        try {
          for (const item of webchatChannel.parse(request, config)) {
            if (item.type !== 'message') throw new Error('web chat yields messages only');
            MessageInputSchema.parse(item.message);
          }
          parsed++;
        } catch (error) {
          expect(error).toBeInstanceOf(OmnithreadError);
          expect((error as OmnithreadError).code).toBe('INVALID_INPUT');
          expect((error as OmnithreadError).field).toEqual(expect.any(String));
          refused++;
        }
      }),
      { numRuns: 4000, seed: 20261124 },
    );
    expect(parsed).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });
});

describe('widget script and demo page', () => {
  const evil = 'https://hooks.example/webhook/chat?x=</script><script>alert(1)</script>\u2028"\'';

  test('the script parses, holds no external URL, and carries the endpoint escaped', () => {
    const script = widgetScript({ endpoint: '/webhook/omnithread-chat', siteId: 'shop' });
    expect(() => new vm.Script(script)).not.toThrow();
    expect(script).not.toMatch(/https?:\/\//);
    expect(script).toContain('"/webhook/omnithread-chat"');

    const tricky = widgetScript({ endpoint: evil, siteId: 'shop' });
    expect(() => new vm.Script(tricky)).not.toThrow();
    expect(tricky).not.toContain('</script>');
    expect(tricky).not.toContain('\u2028');
    // Running it without a DOM does nothing and throws nothing; the endpoint round-trips exactly.
    expect(() => vm.runInNewContext(tricky, {})).not.toThrow();
    const config = JSON.parse(/var C = (\{.*?\});/.exec(tricky)![1]);
    expect(config.endpoint).toBe(evil);
  });

  test('the demo page embeds it with one script tag and no external resources', () => {
    const page = demoPage({ endpoint: evil, siteId: 'shop', pageTitle: '<b>Demo</b>' });
    expect(page.match(/<script/g)).toHaveLength(1);
    expect(page.match(/<\/script>/g)).toHaveLength(1);
    expect(page).not.toMatch(/\b(src|href)=/);
    expect(page).toContain('&lt;b&gt;Demo&lt;/b&gt;');
    const inline = /<script>([\s\S]*)<\/script>/.exec(page)![1];
    expect(() => new vm.Script(inline)).not.toThrow();

    const bySrc = demoPage({ endpoint: '/chat', scriptUrl: '/chat/widget.js?a=1&b="x"' });
    expect(bySrc).toContain('<script src="/chat/widget.js?a=1&amp;b=&quot;x&quot;" defer></script>');
    expect(bySrc.match(/<script/g)).toHaveLength(1);
  });
});

describeStores('what the web chat webhook serves on its own URL (GET, OPTIONS)', (ctx) => {
  const ENDPOINT = 'https://hooks.example/webhook/abc/webhook';
  const get = (query: Record<string, string> = {}, headers: Record<string, string> = {}, method = 'GET'): WebhookRequest => {
    const search = new URLSearchParams(query).toString();
    return { method, headers, query, rawBody: Buffer.alloc(0), url: `${ENDPOINT}${search ? `?${search}` : ''}` };
  };

  test('no query: a demo page embedding the widget served at this URL; ?asset=widget.js: the script calling back this URL', async () => {
    const ot = ctx().omnithread();
    const page = await handleWebhook(ot, webchatChannel, config, get());
    expect(page.reply).toMatchObject({ status: 200, type: 'html' });
    expect(String(page.reply.body)).toContain(`<script src="${ENDPOINT}?asset=widget.js" defer></script>`);
    const script = await handleWebhook(ot, webchatChannel, config, get({ asset: 'widget.js' }));
    expect(script.reply).toMatchObject({ status: 200, type: 'javascript' });
    const widget = JSON.parse(/var C = (\{.*?\});/.exec(String(script.reply.body))![1]);
    expect(widget).toMatchObject({ endpoint: ENDPOINT, repliesUrl: ENDPOINT, siteId: 'shop', title: 'Chat with us' });
    const unknown = await handleWebhook(ot, webchatChannel, config, get({ asset: 'styles.css' }));
    expect(unknown.reply).toMatchObject({ status: 400, body: { field: 'asset' } });
  });

  test('?visitorId=: the visitor feed with the reply; another site or a bad cursor is a 400 naming the field', async () => {
    const ot = ctx().omnithread();
    const chat = await handleWebhook(ot, webchatChannel, config, post(msg({ text: 'Is anyone there?' })));
    await sendReply(ot, { contactId: chat.recorded[0].contact.id, text: 'Yes, Sam here.', author: { name: 'Sam', type: 'human' } }, { channels: { webchat: {} } });
    const feed = await handleWebhook(ot, webchatChannel, config, get({ visitorId: 'v-1', siteId: 'shop' }));
    expect(feed.reply.status).toBe(200);
    expect(feed.reply.headers).toMatchObject({ 'Cache-Control': 'no-store' });
    const body = feed.reply.body as { messages: { direction: string; text: string }[]; cursor: string };
    expect(body.messages.map((m) => [m.direction, m.text])).toEqual([
      ['inbound', 'Is anyone there?'],
      ['outbound', 'Yes, Sam here.'],
    ]);
    const next = await handleWebhook(ot, webchatChannel, config, get({ visitorId: 'v-1', after: body.cursor }));
    expect((next.reply.body as { messages: unknown[] }).messages).toEqual([]);
    expect((await handleWebhook(ot, webchatChannel, config, get({ visitorId: 'v-1', siteId: 'other' }))).reply).toMatchObject({ status: 400, body: { field: 'siteId' } });
    expect((await handleWebhook(ot, webchatChannel, config, get({ visitorId: 'v-1', after: 'nonsense' }))).reply).toMatchObject({ status: 400, body: { field: 'after' } });
    expect((await handleWebhook(ot, webchatChannel, config, get({ visitorId: 'bad id!' }))).reply).toMatchObject({ status: 400, body: { field: 'visitorId' } });
  });

  test('CORS: an allowed origin may read every answer (preflight 204, POST, feed); another origin gets no CORS and a 403 on POST, storing nothing', async () => {
    const ot = ctx().omnithread();
    const origin = { origin: 'https://www.shop.example' };
    const preflight = await handleWebhook(ot, webchatChannel, config, get({}, { ...origin, 'access-control-request-method': 'POST' }, 'OPTIONS'));
    expect(preflight.reply).toMatchObject({ status: 204, headers: { 'Access-Control-Allow-Origin': 'https://www.shop.example', 'Access-Control-Allow-Methods': 'GET, POST, OPTIONS' } });
    const sent = await handleWebhook(ot, webchatChannel, config, post(msg(), origin));
    expect(sent.reply).toMatchObject({ status: 200, headers: { 'Access-Control-Allow-Origin': 'https://www.shop.example', Vary: 'Origin' } });
    const feed = await handleWebhook(ot, webchatChannel, config, get({ visitorId: 'v-1' }, origin));
    expect(feed.reply.headers).toMatchObject({ 'Access-Control-Allow-Origin': 'https://www.shop.example', 'Cache-Control': 'no-store' });

    const before = await countRows(ctx().store);
    const stranger = { origin: 'https://evil.example' };
    const refused = await handleWebhook(ot, webchatChannel, config, post(msg({ messageId: 'm-2' }), stranger));
    expect(refused.reply.status).toBe(403);
    expect(refused.reply.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
    expect((await handleWebhook(ot, webchatChannel, config, get({}, stranger, 'OPTIONS'))).reply.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
    expect(await countRows(ctx().store)).toEqual(before);
  });

  test('channels without content keep answering GET with 405 (or their handshake)', async () => {
    const ot = ctx().omnithread();
    const { genericChannel } = await import('../../shared');
    const reply = await handleWebhook(ot, genericChannel, channelConfig(genericChannel, {}), get());
    expect(reply.reply.status).toBe(405);
  });
});
