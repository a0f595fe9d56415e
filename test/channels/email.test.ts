/**
 * Email channel: parsing (encodings, HTML-only, attachments, quote and signature stripping in several clients and
 * languages), threading through ot.ingest on both stores, the inbound-webhook forms, SMTP sending against a real
 * SMTP server (smtp-server on loopback), and robustness (fast-check).
 *
 * Formats used:
 * - RFC 5322 (Internet Message Format): 3.6.4 Message-ID / In-Reply-To / References, 3.4 addresses.
 * - RFC 2045 (MIME bodies: quoted-printable, base64, charset) and RFC 2047 (encoded words in headers),
 *   RFC 2183 (Content-Disposition filename); decoded by mailparser.
 * - RFC 3676 4.3 and common usage: the "-- " signature delimiter.
 * - RFC 5321 4.2: SMTP reply codes (535 authentication failed, 421/450/451/452 temporary).
 * - Postmark inbound webhook JSON: https://postmarkapp.com/developer/webhooks/inbound-webhook and the
 *   InboundWebhook type of the official client (postmark@4, dist/client/models/webhooks/payload/InboundWebhook.d.ts).
 * - Mailgun routes forward(): https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http
 *   (sender, from, recipient, subject, body-plain, stripped-text, message-headers, and each MIME header as a field).
 */
import { readFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { deliveryOf } from '../../shared/delivery';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { MessageInput, MessageInputSchema, OmnithreadError, WebhookRequest, channelConfig } from '../../shared';
import {
  EmailSendConfigSchema,
  emailChannel,
  messageIds,
  parseEmail,
  parseEmailDelivery,
  parseEmailJson,
  replySubject,
  sendEmail,
  stripQuotedText,
} from '../../shared/channels/email';
import { describeStores } from '../support/stores';

const FIXTURES = [
  'plain',
  'reply-gmail',
  'reply-quoted',
  'reply-outlook',
  'reply-outlook-header',
  'reply-german',
  'reply-french',
  'html-only',
  'qp-latin1',
  'base64-utf8',
  'attachments',
  'no-message-id',
] as const;
const dir = join(__dirname, 'fixtures', 'email');
const eml = (name: (typeof FIXTURES)[number]): Buffer => readFileSync(join(dir, `${name}.eml`));
const json = (name: 'postmark' | 'mailgun'): Record<string, unknown> => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
const meta = (m: MessageInput): Record<string, any> => m.metadata as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function request(body: string | Buffer, contentType: string, extra: Partial<WebhookRequest> = {}): WebhookRequest {
  return { method: 'POST', headers: { 'content-type': contentType }, query: {}, rawBody: Buffer.from(body), ...extra };
}

describe('parseEmail: replies as mail clients write them (test/channels/fixtures/email/clients)', () => {
  const client = (name: string) => readFileSync(join(__dirname, 'fixtures', 'email', 'clients', `${name}.eml`));
  test.each([
    ['gmail-reply', 'Thanks, but the tracking link still says "in transit". Can you send a\nreplacement?', ['+46 70 318 42 95']],
    // A bare first name under the message is kept: with nothing else to go on it may be part of it.
    ['gmail-html-only', 'It arrived this morning, thank you!\n\nMaya', []],
    ['outlook-html-only', 'Hallo,\n\ndie Rechnung ist immer noch nicht angekommen. Können Sie sie bitte erneut\nsenden?', ['+49 30 2239 4581']],
    ['apple-mail-reply', 'Yes please, to the same address.', []],
    ['thunderbird-bottom-post', 'Kastanienallee 12, 10435 Berlin. Danke!', []],
    ['thunderbird-html-only', 'The courier can also leave it with the neighbour at number 14.', ['0176 2234 5581']],
  ])('%s: the new part only, the signature apart, its phone an asserted handle', async (name, text, phones) => {
    const m = await parseEmail(client(name), { defaultMailbox: 'support@shop.io' });
    expect(m.text).toBe(text);
    expect(m.direction).toBe('inbound');
    expect(m.from.handles.slice(1)).toEqual((phones as string[]).map((value) => ({ kind: 'phone', value, trust: 'asserted' })));
  });

  test("an agent's answer from the support mailbox is ours, addressed to the customer; a forward between our addresses names no customer", async () => {
    const agent = await parseEmail(client('agent-reply-from-support'), { defaultMailbox: 'support@shop.io' });
    expect(agent).toMatchObject({ direction: 'outbound', channelAccount: 'support@shop.io', to: { handles: [{ kind: 'email', value: 'maya.lindqvist@gmail.com' }] } });
    expect(agent.inReplyTo?.[0]).toBe('<CAJx9kLq0b7Fq2v3mZ+P5yQk8sWtG4ddnR1@mail.gmail.com>');
    // Delivered to another of our mailboxes, sent from the support address: ours too.
    const viaAlias = await parseEmail(Buffer.concat([Buffer.from('Delivered-To: inbox@shop.io\r\n'), client('agent-reply-from-support')]), { defaultMailbox: 'support@shop.io' });
    expect(viaAlias.direction).toBe('outbound');
    const internal = await parseEmail(client('internal-forward'), { defaultMailbox: 'support@shop.io', isOwnAddress: (a) => a.endsWith('@shop.io') });
    expect(internal).toMatchObject({ direction: 'outbound', to: { handles: [{ value: 'billing@shop.io' }] } });
  });
});

describe('parseEmail', () => {
  test('plain text mail: ids, sender, mailbox, thread root, signature stripped, full text kept', async () => {
    const m = await parseEmail(eml('plain'));
    expect(MessageInputSchema.safeParse(m).success).toBe(true);
    expect(m).toMatchObject({
      channel: 'email',
      channelAccount: 'support@shop.io',
      providerMessageId: '<m1@fastmail.fm>',
      threadKey: '<m1@fastmail.fm>',
      from: {
        name: 'Maya Lindqvist',
        // The signature's number comes along as a weak (asserted) handle.
        handles: [
          { kind: 'email', value: 'maya@fastmail.fm', trust: 'channel' },
          { kind: 'phone', value: '+44 7911 123456', trust: 'asserted' },
        ],
      },
      text: 'Hello,\n\nmy parcel #4411 never arrived. Can you check?',
      sentAt: '2026-11-24T10:00:00.000Z',
      replyTo: { to: 'maya@fastmail.fm', messageId: '<m1@fastmail.fm>', references: [], subject: 'My parcel never arrived' },
    });
    expect(meta(m).subject).toBe('My parcel never arrived');
    expect(meta(m).fullText).toContain('+44 7911 123456');
    expect(meta(m).syntheticMessageId).toBeUndefined();
  });

  test('options.mailbox wins over To', async () => {
    expect((await parseEmail(eml('plain'), { mailbox: 'Inbox@Shop.io' })).channelAccount).toBe('inbox@shop.io');
  });

  test('Gmail reply: "On ... wrote:" wrapped over two lines, nested > quotes; thread root = first References id', async () => {
    const m = await parseEmail(eml('reply-gmail'));
    expect(m.text).toBe('Thanks, the tracking number works.');
    expect(m.threadKey).toBe('<m1@fastmail.fm>');
    expect(m.replyTo).toEqual({ to: 'maya@fastmail.fm', messageId: '<m3@fastmail.fm>', references: ['<m1@fastmail.fm>', '<r2@shop.io>'], subject: 'Re: My parcel never arrived' });
    expect(meta(m).fullText).toContain('Here is your tracking number');
  });

  test('interleaved > quotes keep only the new lines; thread root = In-Reply-To without References', async () => {
    const m = await parseEmail(eml('reply-quoted'));
    expect(m.text).toBe('The one in Leeds.\nLS1 4AP');
    expect(m.threadKey).toBe('<r2@shop.io>');
    expect((m.replyTo as { references: string[] }).references).toEqual(['<r2@shop.io>']);
  });

  test.each([
    ['reply-outlook', 'It arrived today, thank you!', 'Lindqvist, Maya'],
    ['reply-outlook-header', 'Danke, passt.', undefined],
    ['reply-german', 'Die Rechnung fehlt noch.', 'Jonas Weber'],
    ['reply-french', 'Merci beaucoup !', 'Chloé Martin'],
  ] as const)('%s: quoted history and mobile signature stripped', async (name, text, sender) => {
    const m = await parseEmail(eml(name));
    expect(m.text).toBe(text);
    expect(m.from.name).toBe(sender);
    expect(meta(m).fullText.length).toBeGreaterThan(text.length);
  });

  test('HTML-only mail (Gmail quote markup) becomes text, without the quote', async () => {
    const m = await parseEmail(eml('html-only'));
    expect(m.text).toMatch(/^Still \S*nothing\S* here & no reply\.\s+Maya$/i);
    expect(m.text).not.toContain('looking into it');
    expect(meta(m).htmlOnly).toBe(true);
    expect(meta(m).fullText).toContain('We are looking into it');
  });

  test('quoted-printable ISO-8859-1 body and RFC 2047 headers', async () => {
    const m = await parseEmail(eml('qp-latin1'));
    expect(m.from.name).toBe('Jürgen Müller');
    expect(meta(m).subject).toBe('Rückerstattung');
    expect(m.text).toContain('Grüße aus Köln, ich hätte gern eine Rückerstattung für 12,50');
  });

  test('base64 UTF-8 body', async () => {
    const m = await parseEmail(eml('base64-utf8'));
    expect(m.from.name).toBe('佐藤 花子');
    expect(meta(m).subject).toBe('注文について');
    expect(m.text).toBe('こんにちは、注文 #77 はどこですか？ Ünïcödé ✓');
  });

  test('attachments as metadata only', async () => {
    const m = await parseEmail(eml('attachments'));
    expect(m.text).toBe('See the photo and the invoice.');
    expect(m.attachments).toEqual([
      { name: 'damage.png', contentType: 'image/png', size: 256 },
      { name: 'invoice.pdf', contentType: 'application/pdf', size: 220 },
    ]);
  });

  test('no Message-ID: a stable synthetic id from the raw bytes, flagged in metadata', async () => {
    const a = await parseEmail(eml('no-message-id'));
    const b = await parseEmail(eml('no-message-id'));
    expect(a.providerMessageId).toMatch(/^<[0-9a-f]{64}@omnithread\.invalid>$/);
    expect(b.providerMessageId).toBe(a.providerMessageId);
    expect(a.threadKey).toBe(a.providerMessageId);
    expect(meta(a).syntheticMessageId).toBe(true);
    expect(a.text).toBe('A mail from an old script.');
  });

  test('malformed mail: INVALID_INPUT', async () => {
    await expect(parseEmail('')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(parseEmail('Subject: no sender\r\n\r\nhi')).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'from' });
    await expect(parseEmail('From: not an address\r\n\r\nhi')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  test('helpers: reply subjects never stack, ids are extracted', () => {
    expect(replySubject('Hello')).toBe('Re: Hello');
    expect(replySubject('Re: Hello')).toBe('Re: Hello');
    expect(replySubject('AW: Hallo')).toBe('AW: Hallo');
    expect(replySubject('RE[2]: x')).toBe('RE[2]: x');
    expect(messageIds('<a@b> <c@d>\r\n <a@b>')).toEqual(['<a@b>', '<c@d>']);
    expect(messageIds('bare@id')).toEqual(['<bare@id>']);
    expect(stripQuotedText('Hi\n\nOn Mon, Jan 1, 2024, Bob wrote:\n> x')).toBe('Hi');
    expect(stripQuotedText('Hej\n\nDen 1 mars 2024 kl. 10:00 skrev Anna <a@b.se>:\n> x')).toBe('Hej');
    expect(stripQuotedText('Hola\n\nEl lun, 1 ene 2024 a las 10:00, Ana (<a@b.es>) escribió:\n> x')).toBe('Hola');
    expect(stripQuotedText('Hoi\n\nOp ma 1 jan. 2024 om 10:00 schreef Jan <j@b.nl>:\n> x')).toBe('Hoi');
    expect(stripQuotedText('Hi\n\nSent from my iPhone')).toBe('Hi');
  });
});

describe('emailChannel (inbound webhook)', () => {
  const config = channelConfig(emailChannel, { secret: 's3cret', mailbox: 'fallback@shop.io' });

  test('verify: header, Basic auth password or ?token=, in constant time; nothing = 401', () => {
    const ok = (extra: Partial<WebhookRequest>) => emailChannel.verify({ ...request('x', 'text/plain'), ...extra }, config);
    expect(ok({ headers: { 'x-omnithread-secret': 's3cret' } })).toEqual({ ok: true });
    expect(ok({ headers: { authorization: `Basic ${Buffer.from('postmark:s3cret').toString('base64')}` } })).toEqual({ ok: true });
    expect(ok({ query: { token: 's3cret' } })).toEqual({ ok: true });
    expect(ok({ headers: { 'x-omnithread-secret': 'wrong' } })).toMatchObject({ ok: false, status: 401 });
    expect(ok({ headers: { authorization: `Basic ${Buffer.from('postmark:nope').toString('base64')}` } })).toMatchObject({ ok: false });
    expect(ok({ query: { token: 's3cre' } })).toMatchObject({ ok: false });
    expect(ok({})).toMatchObject({ ok: false, status: 401 });
    expect(emailChannel.verify(request('x', 'text/plain'), channelConfig(emailChannel, {}))).toEqual({ ok: true });
  });

  test('raw MIME (message/rfc822, text/plain) and JSON { raw } / { mime } / form body-mime', async () => {
    const raw = eml('reply-gmail');
    for (const req of [
      request(raw, 'message/rfc822'),
      request(raw, 'text/plain'),
      request(JSON.stringify({ raw: raw.toString() }), 'application/json'),
      request(JSON.stringify({ mime: raw.toString() }), 'application/json'),
      request(new URLSearchParams({ recipient: 'support@shop.io', 'body-mime': raw.toString() }).toString(), 'application/x-www-form-urlencoded'),
    ]) {
      const [item] = await parseEmailDelivery(req, config);
      expect(item.type === 'message' && item.message).toMatchObject({ providerMessageId: '<m3@fastmail.fm>', threadKey: '<m1@fastmail.fm>', text: 'Thanks, the tracking number works.' });
    }
    expect(await emailChannel.parse(request(raw, 'message/rfc822'), config)).toHaveLength(1);
    // The synchronous JSON-only path refuses raw MIME with a clear error.
    expect(() => parseEmailJson(request(raw, 'message/rfc822'), config)).toThrow(/asynchronous/);
  });

  test('Postmark inbound JSON', async () => {
    const body = JSON.stringify(json('postmark'));
    const items = parseEmailJson(request(body, 'application/json'), config);
    expect(await parseEmailDelivery(request(body, 'application/json'), config)).toEqual(items);
    const m = items[0].type === 'message' ? items[0].message : undefined;
    expect(m).toMatchObject({
      channelAccount: 'support@shop.io',
      providerMessageId: '<pm1@fastmail.fm>',
      threadKey: '<m1@fastmail.fm>',
      from: { name: 'Maya Lindqvist', handles: [{ kind: 'email', value: 'maya@fastmail.fm', trust: 'channel' }] },
      text: 'Got it, thanks.',
      attachments: [{ name: 'receipt.pdf', contentType: 'application/pdf', size: 5 }],
      replyTo: { to: 'maya@fastmail.fm', messageId: '<pm1@fastmail.fm>', references: ['<m1@fastmail.fm>', '<r2@shop.io>'], subject: 'Re: My parcel never arrived' },
    });
    expect(meta(m!).postmarkMessageId).toBe('73e6d360-66eb-11e1-8e72-a8904824019b');
    expect(MessageInputSchema.safeParse(m).success).toBe(true);
  });

  test('Mailgun forward as JSON and as form-encoded', () => {
    const body = json('mailgun');
    for (const req of [
      request(JSON.stringify(body), 'application/json'),
      request(new URLSearchParams(body as Record<string, string>).toString(), 'application/x-www-form-urlencoded'),
    ]) {
      const [item] = parseEmailJson(req, config);
      expect(item.type === 'message' && item.message).toMatchObject({
        channelAccount: 'support@shop.io',
        providerMessageId: '<mg1@fastmail.fm>',
        threadKey: '<m1@fastmail.fm>',
        from: { name: 'Maya Lindqvist', handles: [{ kind: 'email', value: 'maya@fastmail.fm' }] },
        text: "Found it at the neighbour's.",
        sentAt: '2026-11-24T13:00:00.000Z',
      });
    }
  });

  test('the configured mailbox fills in when the mail names none', async () => {
    const raw = 'From: a@b.io\r\nMessage-ID: <x@b.io>\r\n\r\nhello';
    const [item] = await parseEmailDelivery(request(raw, 'message/rfc822'), config);
    expect(item.type === 'message' && item.message.channelAccount).toBe('fallback@shop.io');
  });

  test('refused forms: multipart, unknown JSON, empty body, invalid JSON', async () => {
    for (const req of [
      request('--x\r\n', 'multipart/form-data; boundary=x'),
      request('{"hello":1}', 'application/json'),
      request('', 'message/rfc822'),
      request('{nope', 'application/json'),
      request(JSON.stringify({ ...json('postmark'), FromFull: {}, From: '' }), 'application/json'),
    ]) {
      await expect(parseEmailDelivery(req, config)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    }
  });
});

describeStores('email threading through ingest', (ctx) => {
  test('an email and its replies form one conversation for one contact', async () => {
    // reply-outlook.eml has no Date header: the facade's clock stamps it, so the clock is the test's, an hour
    // after the thread's last dated mail (12:00), never the day the suite runs.
    const ot = ctx().omnithread({ clock: () => Date.parse('2026-11-24T13:00:00Z') });
    const first = await ot.ingest(await parseEmail(eml('plain')));
    const gmail = await ot.ingest(await parseEmail(eml('reply-gmail')));
    const outlook = await ot.ingest(await parseEmail(eml('reply-outlook')));
    expect(gmail.contact.id).toBe(first.contact.id);
    expect(outlook.contact.id).toBe(first.contact.id);
    expect(gmail.conversation.id).toBe(first.conversation.id);
    expect(outlook.conversation.id).toBe(first.conversation.id);
    expect(gmail.event?.threadKey).toBe('<m1@fastmail.fm>');
    // The number in Maya's signature is recorded, at asserted trust only: what she says, never a link on its own.
    expect(first.contact.identities.map((i) => [i.value, i.trust])).toEqual([
      ['maya@fastmail.fm', 'channel'],
      ['+447911123456', 'asserted'],
    ]);
    // A redelivery (IMAP re-fetch, provider retry) changes nothing.
    expect((await ot.ingest(await parseEmail(eml('reply-gmail')))).duplicate).toBe(true);
  });

  test('a reply to a different mailbox does not join the thread by its key alone; shared mailboxes link nobody', async () => {
    const ot = ctx().omnithread({ rules: { sharedMailboxes: ['frontdesk@hotel.io'] } });
    const mail = (id: string, to: string, inReplyTo?: string) =>
      parseEmail(
        [`From: Front Desk <frontdesk@hotel.io>`, `To: ${to}`, `Subject: Booking`, `Message-ID: ${id}`, ...(inReplyTo ? [`In-Reply-To: ${inReplyTo}`] : []), '', 'Booking for a guest'].join('\r\n'),
      );
    const root = await ot.ingest(await mail('<t1@hotel.io>', 'support@shop.io'));
    expect(root.contact.identities.map((i) => [i.value, i.shared])).toEqual([['frontdesk@hotel.io', 'a shared mailbox (listed in the store settings)']]);
    // Same mailbox, same thread: the thread carries the conversation even without a linkable sender.
    const sameMailbox = await ot.ingest(await mail('<t2@hotel.io>', 'support@shop.io', '<t1@hotel.io>'));
    expect(sameMailbox.contact.id).toBe(root.contact.id);
    // Another mailbox with the same thread key: not joined.
    const otherMailbox = await ot.ingest(await mail('<t3@hotel.io>', 'sales@shop.io', '<t1@hotel.io>'));
    expect(otherMailbox.message.channelAccount).toBe('sales@shop.io');
    expect(otherMailbox.contact.id).not.toBe(root.contact.id);
    // A new thread from the shared mailbox: a new person, never linked by the shared address.
    const otherThread = await ot.ingest(await mail('<t4@hotel.io>', 'support@shop.io'));
    expect(otherThread.contact.id).not.toBe(root.contact.id);
    expect(otherThread.contact.identities.map((i) => i.shared ?? null)).toEqual(['a shared mailbox (listed in the store settings)']);
  });
});

describe('sendEmail over a real SMTP server', () => {
  const received: { raw: Buffer; from?: string; to: string[] }[] = [];
  let server: SMTPServer;
  let port: number;
  const config = (extra: Record<string, unknown> = {}) => ({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    user: 'agent',
    password: 'right-password',
    from: 'support@shop.io',
    fromName: 'Acme Support',
    timeoutMs: 5000,
    ...extra,
  });

  beforeAll(async () => {
    server = new SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      onAuth(auth, _session, callback) {
        if (auth.username === 'agent' && auth.password === 'right-password') return callback(null, { user: 'agent' });
        return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      },
      onRcptTo(address, _session, callback) {
        if (address.address.startsWith('busy@')) return callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
        return callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({ raw: Buffer.concat(chunks), from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined, to: session.envelope.rcptTo.map((r) => r.address) });
          // A server that took the whole mail and whose confirmation never comes (it stalls, the link drops).
          if (session.envelope.rcptTo.some((r) => r.address.startsWith('silent@'))) return;
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('a reply threads: In-Reply-To, References, "Re:" subject, known Message-ID', async () => {
    const inbound = await parseEmail(eml('reply-gmail'));
    const result = await emailChannel.send!({ to: inbound.replyTo!, text: 'Glad it worked, Maya!' }, config(), undefined as never);
    expect(result.providerMessageId).toMatch(/^<[0-9a-f-]{36}@shop\.io>$/);
    const mail = await simpleParser(received.at(-1)!.raw);
    expect(received.at(-1)!.to).toEqual(['maya@fastmail.fm']);
    expect(mail.from?.value[0]).toEqual({ address: 'support@shop.io', name: 'Acme Support' });
    expect(mail.to && !Array.isArray(mail.to) && mail.to.value[0].address).toBe('maya@fastmail.fm');
    expect(mail.subject).toBe('Re: My parcel never arrived');
    expect(mail.messageId).toBe(result.providerMessageId);
    expect(mail.inReplyTo).toBe('<m3@fastmail.fm>');
    expect(mail.references).toEqual(['<m1@fastmail.fm>', '<r2@shop.io>', '<m3@fastmail.fm>']);
    expect(mail.text?.trim()).toBe('Glad it worked, Maya!');
  });

  test('a first reply to a fresh mail gets "Re: <subject>" and References = its id', async () => {
    const inbound = await parseEmail(eml('plain'));
    await sendEmail({ to: inbound.replyTo!, text: 'We are on it.' }, config());
    const mail = await simpleParser(received.at(-1)!.raw);
    expect(mail.subject).toBe('Re: My parcel never arrived');
    expect(mail.references).toBe('<m1@fastmail.fm>');
  });

  test('wrong password (535) -> AUTH_FAILED', async () => {
    const error = await sendEmail({ to: { to: 'maya@fastmail.fm' }, text: 'x' }, config({ password: 'wrong' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error).toMatchObject({ code: 'AUTH_FAILED', details: { responseCode: 535 } });
    expect(JSON.stringify((error as OmnithreadError).details)).not.toContain('wrong');
  });

  test('temporary refusal (451) -> RATE_LIMITED with retryAfterSeconds', async () => {
    await expect(sendEmail({ to: { to: 'busy@fastmail.fm' }, text: 'x' }, config())).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 60 } });
  });

  test('server down (connection refused) -> PROVIDER_ERROR', async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const freePort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await expect(sendEmail({ to: { to: 'maya@fastmail.fm' }, text: 'x' }, config({ port: freePort }))).rejects.toMatchObject({
      code: 'PROVIDER_ERROR',
      message: expect.stringContaining('could not be reached'),
      details: { delivery: 'not_sent' },
    });
  });

  test('the mail was handed over and no confirmation came -> PROVIDER_ERROR with delivery unknown (it may have been sent)', async () => {
    const before = received.length;
    const error = await sendEmail({ to: { to: 'silent@fastmail.fm' }, text: 'x' }, config({ timeoutMs: 400 })).catch((e: OmnithreadError) => e);
    expect(received.length).toBe(before + 1); // the server has the mail
    expect(error).toMatchObject({ code: 'PROVIDER_ERROR', message: expect.stringContaining('it may have been sent'), details: { delivery: 'unknown' } });
  });

  test('refusals with a reply code are "not sent": 535, 451', async () => {
    const refused = await sendEmail({ to: { to: 'busy@fastmail.fm' }, text: 'x' }, config()).catch((e: OmnithreadError) => e);
    expect(deliveryOf(refused)).toBe('not_sent');
    expect(deliveryOf(await sendEmail({ to: { to: 'maya@fastmail.fm' }, text: 'x' }, config({ password: 'wrong' })).catch((e: OmnithreadError) => e))).toBe('not_sent');
  });

  test('invalid settings and addresses: INVALID_INPUT', async () => {
    await expect(sendEmail({ to: { to: 'not-an-address' }, text: 'x' }, config())).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(sendEmail({ to: { to: 'a@b.io' }, text: 'x' }, { host: 'h' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'from' });
    expect(EmailSendConfigSchema.parse({ host: 'h', from: 'a@b.io' })).toMatchObject({ port: 587, secure: false, ignoreTLS: false });
  });
});

describe('robustness (fast-check)', () => {
  const seeds = FIXTURES.map((name) => eml(name));
  const check = async (raw: Buffer) => {
    try {
      const m = await parseEmail(raw);
      expect(MessageInputSchema.safeParse(m).success).toBe(true);
    } catch (error) {
      if (!(error instanceof OmnithreadError) || error.code !== 'INVALID_INPUT') throw error;
    }
  };

  test('mutated fixtures never throw anything but INVALID_INPUT and parse to valid MessageInputs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
        fc.option(fc.nat(), { nil: undefined }),
        async (index, edits, truncate) => {
          const raw = Buffer.from(seeds[index]);
          for (const [at, byte] of edits) raw[at % raw.length] = byte;
          await check(truncate === undefined ? raw : raw.subarray(0, truncate % (raw.length + 1)));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('random header/body text never throws anything but INVALID_INPUT', async () => {
    const headerLine = fc.oneof(
      fc.constantFrom('From', 'To', 'Message-ID', 'In-Reply-To', 'References', 'Subject', 'Content-Type', 'Content-Transfer-Encoding', 'Date', 'Delivered-To', 'Reply-To'),
      fc.string({ maxLength: 10 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(headerLine, fc.string({ maxLength: 60 })), { maxLength: 8 }), fc.string({ maxLength: 300 }), async (headers, body) => {
        await check(Buffer.from(`${headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`));
      }),
      { numRuns: 1500 },
    );
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => check(Buffer.from(bytes))), { numRuns: 500 });
  });

  test('webhook JSON forms: random Postmark/Mailgun-shaped bodies only ever fail with INVALID_INPUT', () => {
    const config = channelConfig(emailChannel, {});
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom('FromFull', 'From', 'TextBody', 'HtmlBody', 'Headers', 'Attachments', 'MessageID', 'ToFull', 'Date', 'sender', 'from', 'recipient', 'body-plain', 'Message-Id', 'References', 'message-headers'),
          fc.anything(),
        ),
        (body) => {
          try {
            const items = parseEmailJson(request(JSON.stringify(body), 'application/json'), config);
            for (const item of items) expect(item.type === 'message' && MessageInputSchema.safeParse(item.message).success).toBe(true);
          } catch (error) {
            if (!(error instanceof OmnithreadError) || error.code !== 'INVALID_INPUT') throw error;
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});
