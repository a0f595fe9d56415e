/**
 * Email: parsing (mailparser), threading (Message-ID / In-Reply-To / References), and the inbound-webhook mode for
 * providers that POST mail; the channel sends over SMTP (../email/smtp.ts). The IMAP poller (../email/poll.ts)
 * calls `parseEmail` on each fetched message.
 *
 * Parsing (`parseEmail`, RFC 5322 headers, RFC 2045-2047 bodies and encodings, all decoded by mailparser):
 * - providerMessageId = Message-ID (RFC 5322 3.6.4). A mail without one gets `<sha256 of the raw bytes>@omnithread.invalid`
 *   (stable across redeliveries of the same bytes) and metadata.syntheticMessageId = true.
 * - threadKey = the thread's root: the first id of References, else the (first) In-Reply-To id, else the own
 *   Message-ID. The core finds a thread by (channel, channelAccount, threadKey): a reply to another mailbox
 *   does not join the thread on its key alone.
 * - channelAccount = the mailbox that received it: `options.mailbox`, else Delivered-To, else the first To
 *   address (lower case).
 * - direction = outbound when the sender is a mailbox it was delivered to, or one of our own addresses
 *   (`options.isOwnAddress`): an agent's answer, which the core records on the customer's timeline.
 * - from = the From address as an `email` handle with trust `channel`, plus the display name, and the
 *   phone numbers of a customer's signature as `asserted` phone handles. to = the To and Cc addresses.
 * - inReplyTo = the In-Reply-To and References ids: a reply continues the conversation of what it answers.
 * - sentAt = Date; receivedAt = the IMAP INTERNALDATE, else the newest Received: header's date.
 * - text = the NEW part only (../email/reply-text.ts: email-reply-parser plus our signature rules; HTML-only
 *   mail is cut at the clients' quote markers, then converted to text). metadata.fullText holds the whole
 *   text body, metadata.signature the signature removed.
 * - attachments = metadata only (name, contentType, size), never the content.
 * - replyTo = { to: Reply-To or From address, messageId, references (the mail's References, or its In-Reply-To),
 *   subject }: what `send` needs to answer in the same thread.
 *
 * Inbound webhook (`emailChannel`): accepted bodies, decided in this order:
 * 1. Raw MIME: Content-Type message/rfc822, or any non-JSON, non-form body (text/plain, application/octet-stream)
 *    that parses as mail.
 * 2. JSON `{ "raw": "<MIME>" }`, `{ "mime": "<MIME>" }` or `{ "body-mime": "<MIME>" }` (Mailgun's raw MIME form
 *    posted as JSON or application/x-www-form-urlencoded).
 * 3. Postmark inbound JSON (https://postmarkapp.com/developer/webhooks/inbound-webhook): `FromFull{Email,Name}`
 *    (or `From`), `OriginalRecipient`/`ToFull`/`To`, `Subject`, `TextBody`, `HtmlBody`, `Date`, `MessageID`,
 *    `Headers[{Name,Value}]` (Message-ID, In-Reply-To, References are read from these), `ReplyTo`,
 *    `Attachments[{Name,ContentType,ContentLength}]`. Postmark's own `MessageID` is used only when the headers
 *    carry no Message-ID (metadata.postmarkMessageId keeps it).
 * 4. Mailgun routes forward() (https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http),
 *    as JSON or application/x-www-form-urlencoded: `sender`, `from`, `recipient`, `subject`, `body-plain`,
 *    `body-html`, `stripped-text`, `Message-Id`, `In-Reply-To`, `References`, `Date`, `message-headers`.
 * Not accepted: multipart/form-data bodies (SendGrid Inbound Parse, and Mailgun when the mail has attachments):
 * they are refused with INVALID_INPUT. Point such providers at their raw-MIME option instead.
 *
 * Raw MIME needs the asynchronous mailparser, so `emailChannel.parse` (= `parseEmailDelivery`) returns a Promise,
 * as the contract allows. `parseEmailJson` is the synchronous path for the parsed-JSON forms (3, 4) only.
 *
 * Verification: with `secret` set, a delivery must carry it in one of (compared in constant time):
 * header `X-Omnithread-Secret: <secret>`, HTTP Basic auth whose password is the secret (Postmark and Mailgun
 * support https://user:secret@host/... webhook URLs), or the query parameter `?token=<secret>`.
 * Mailgun's own HMAC signature (timestamp/token/signature) is not checked (not built yet).
 */
import { createHash } from 'node:crypto';
import type { AxiosInstance } from 'axios';
import { AddressObject, ParsedMail, simpleParser } from 'mailparser';
import { z } from 'zod';
import { OmnithreadError, invalidInput } from '../errors';
import { Attachment, MessageInput, MessageInputSchema } from '../model';
import { isAddress, messageIds, parseAddress } from '../email/headers';
import { extractReplyText } from '../email/reply-text';
import { EmailSendConfigSchema, sendEmail } from '../email/smtp';
import { ChannelModule, InboundItem, OutboundRequest, ParseContext, WebhookRequest, header } from './channel';
import { formParams, parseJsonBody, textBody } from './body';
import { safeEqual } from './http';

export { messageIds, parseAddress, replySubject } from '../email/headers';
export { EMAIL_SEND_SECRETS, EMAIL_SEND_SETTINGS, EmailSendConfigSchema, sendEmail, smtpError } from '../email/smtp';
export type { EmailSendConfig } from '../email/smtp';

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

export const EmailChannelConfigSchema = z
  .object({
    /** Shared secret a delivery must carry (header, Basic auth password or ?token=); empty = no check. */
    secret: z.string().default(''),
    /** The mailbox recorded as channelAccount when the mail names none (no Delivered-To/To/recipient). */
    mailbox: z.string().trim().max(256).default(''),
  })
  .strict();
export type EmailChannelConfig = z.output<typeof EmailChannelConfigSchema>;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const MAX_RAW_BYTES = 30 * 1024 * 1024;
const MAX_TEXT = 200_000;
const cut = (value: string, max: number): string => (value.length > max ? value.slice(0, max) : value);

// ---------------------------------------------------------------------------------------------
// Quote and signature stripping
// ---------------------------------------------------------------------------------------------

/** The new part of a text body: quoted history and the signature removed (see ../email/reply-text.ts). */
export function stripQuotedText(text: string): string {
  return extractReplyText(text).text;
}

/** Where quoted history starts in HTML mail (Gmail, Outlook web/desktop, Apple Mail, Thunderbird, Yahoo). */
const HTML_QUOTE_MARKERS = [
  /<div[^>]*class="?[^">]*gmail_quote/i,
  /<blockquote[^>]*class="?[^">]*gmail_quote/i,
  /<div[^>]*class="?[^">]*gmail_signature/i,
  /<div[^>]*id="?divRplyFwdMsg/i,
  /<div[^>]*id="?appendonsend/i,
  /<hr[^>]*id="?stopSpelling/i,
  /<div[^>]*style="[^"]*border-top:\s*solid\s+#(?:E1E1E1|B5C4DF)/i,
  /<blockquote[^>]*type="?cite/i,
  /<div[^>]*class="?[^">]*moz-cite-prefix/i,
  /<div[^>]*class="?[^">]*yahoo_quoted/i,
];

export function cutHtmlQuote(html: string): string {
  let at = html.length;
  for (const marker of HTML_QUOTE_MARKERS) {
    const m = marker.exec(html);
    if (m && m.index < at) at = m.index;
  }
  return html.slice(0, at);
}

/** HTML to text with mailparser's own converter (html-to-text), by parsing a one-part mail. */
async function htmlToText(html: string): Promise<string> {
  const mail = await simpleParser(`Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from(html).toString('base64')}`, {
    skipImageLinks: true,
  });
  return mail.text ?? '';
}

/** A crude synchronous HTML-to-text, for the JSON forms whose parse must stay synchronous. */
export function htmlToTextSync(html: string): string {
  return html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h\d|blockquote)>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

export interface ParseEmailOptions {
  /** The mailbox that received the mail (the IMAP account, the webhook's mailbox): wins over the headers. */
  mailbox?: string;
  /** The mailbox recorded when the mail names none (no Delivered-To or To). */
  defaultMailbox?: string;
  /** Keep the raw MIME on the message (`raw`, erased with the contact). Default false. */
  keepRaw?: boolean;
  /** When the server received it (IMAP INTERNALDATE): the mail's time when it has no Date header. */
  receivedAt?: Date;
  /** Our own addresses (the store settings'): a mail from one of them is ours, an agent's answer. */
  isOwnAddress?: (address: string) => boolean;
}

/** The fields every form (raw MIME, Postmark, Mailgun) is reduced to before building the MessageInput. */
interface EmailParts {
  messageId?: string;
  inReplyTo: string[];
  references: string[];
  from?: { address: string; name?: string };
  replyTo?: string;
  mailbox?: string;
  to: string[];
  cc: string[];
  subject?: string;
  date?: Date;
  text: string;
  /** The body the new part is taken from (HTML-only mail: its text before the quote marker). */
  replySource: string;
  html?: boolean;
  attachments: Attachment[];
  syntheticFrom?: string;
  /** When the receiving server got it (the newest Received: header), for mail without a Date. */
  receivedAt?: Date;
  metadata?: Record<string, unknown>;
  raw?: unknown;
}

const addresses = (value: AddressObject | AddressObject[] | undefined): string[] =>
  (Array.isArray(value) ? value : value ? [value] : []).flatMap((a) => a.value.flatMap(function flat(v): string[] {
    return v.address ? [v.address] : (v.group ?? []).flatMap(flat);
  }));

const validDate = (d: Date | undefined): string | undefined => (d && Number.isFinite(d.getTime()) && d.getTime() >= 0 ? d.toISOString() : undefined);

function toMessage(parts: EmailParts, options: ParseEmailOptions): MessageInput {
  if (!parts.from || !isAddress(parts.from.address)) {
    throw new OmnithreadError('INVALID_INPUT', 'The mail has no usable From address', { field: 'from' });
  }
  let messageId = messageIds(parts.messageId)[0];
  const synthetic = !messageId;
  if (!messageId) messageId = `<${createHash('sha256').update(parts.syntheticFrom ?? '').digest('hex')}@omnithread.invalid>`;
  const threadKey = parts.references[0] ?? parts.inReplyTo[0] ?? messageId;
  const sender = parts.from.address.toLowerCase();
  const mailboxes = [options.mailbox, parts.mailbox, options.defaultMailbox].filter((m): m is string => typeof m === 'string' && !!m.trim()).map((m) => m.trim().toLowerCase());
  const receiving = mailboxes[0];
  // Ours: sent from the mailbox that received it (a copy of an agent's answer), or from one of our own addresses.
  const ours = mailboxes.includes(sender) || options.isOwnAddress?.(sender) === true;
  const mailboxCandidate = ours ? (receiving ?? sender) : [options.mailbox, parts.mailbox, ...parts.to, options.defaultMailbox].find((m) => typeof m === 'string' && m.trim());
  const channelAccount = cut((mailboxCandidate ?? '').trim().toLowerCase(), 256);
  const references = parts.references.length ? parts.references : parts.inReplyTo.slice(0, 1);
  const answers = [...parts.inReplyTo, ...parts.references.filter((r) => !parts.inReplyTo.includes(r))].slice(0, 100);
  const date = validDate(parts.date);
  const received = validDate(options.receivedAt) ?? validDate(parts.receivedAt);
  const fullText = cut(parts.text, MAX_TEXT);
  const reply = extractReplyText(parts.replySource);
  const text = cut(reply.text || parts.text.trim(), MAX_TEXT);
  const name = parts.from.name?.trim() ? cut(parts.from.name.trim(), 256) : undefined;
  // A number in a customer's signature is only what they say about themselves: asserted, never a link on its own.
  const signaturePhones = ours ? [] : reply.signaturePhones.slice(0, 3).map((value) => ({ kind: 'phone' as const, value: cut(value, 64), trust: 'asserted' as const }));
  const recipients = [...parts.to, ...parts.cc].filter(isAddress).slice(0, 100);
  const message: MessageInput = {
    channel: 'email',
    channelAccount,
    providerMessageId: messageId,
    direction: ours ? 'outbound' : 'inbound',
    threadKey,
    ...(answers.length ? { inReplyTo: answers } : {}),
    from: { handles: [{ kind: 'email', value: parts.from.address, trust: 'channel' }, ...signaturePhones], ...(name ? { name } : {}) },
    ...(recipients.length ? { to: { handles: recipients.map((value) => ({ kind: 'email' as const, value, trust: 'channel' as const })) } } : {}),
    text,
    attachments: parts.attachments.slice(0, 100),
    ...(date ? { sentAt: date } : {}),
    ...(received ? { receivedAt: received } : {}),
    replyTo: {
      to: isAddress(parts.replyTo) ? parts.replyTo : parts.from.address,
      messageId,
      references,
      subject: parts.subject ?? '',
    },
    metadata: {
      subject: parts.subject ?? '',
      messageId,
      ...(synthetic ? { syntheticMessageId: true } : {}),
      inReplyTo: parts.inReplyTo,
      references: parts.references,
      to: parts.to,
      cc: parts.cc,
      ...(parts.html ? { htmlOnly: true } : {}),
      fullText,
      ...(reply.signature ? { signature: cut(reply.signature, 4000) } : {}),
      ...parts.metadata,
    },
    ...(parts.raw !== undefined ? { raw: parts.raw } : {}),
  };
  const checked = MessageInputSchema.safeParse(message);
  if (!checked.success) throw invalidInput('email', checked.error);
  return message;
}

const attachmentMeta = (name: unknown, contentType: unknown, size: unknown): Attachment => ({
  ...(typeof name === 'string' && name ? { name: cut(name, 512) } : {}),
  ...(typeof contentType === 'string' && contentType ? { contentType: cut(contentType, 256) } : {}),
  ...(typeof size === 'number' && Number.isInteger(size) && size >= 0 ? { size } : {}),
});

/** The date of the newest Received: header (RFC 5321 4.4: "; date-time" at its end): when our server got the mail. */
function receivedDate(value: unknown): Date | undefined {
  const newest = Array.isArray(value) ? value[0] : value;
  if (typeof newest !== 'string' || !newest.includes(';')) return undefined;
  const date = new Date(newest.slice(newest.lastIndexOf(';') + 1).trim());
  return Number.isFinite(date.getTime()) ? date : undefined;
}

/** Parses one raw mail (RFC 5322 / MIME) into a MessageInput; malformed mail throws INVALID_INPUT. */
export async function parseEmail(raw: Buffer | string, options: ParseEmailOptions = {}): Promise<MessageInput> {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  if (!Buffer.isBuffer(bytes) || !bytes.length) throw new OmnithreadError('INVALID_INPUT', 'The mail is empty', { field: '(body)' });
  if (bytes.length > MAX_RAW_BYTES) throw new OmnithreadError('INVALID_INPUT', `The mail is larger than ${MAX_RAW_BYTES} bytes`, { field: '(body)' });
  let mail: ParsedMail;
  try {
    mail = await simpleParser(bytes, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true, maxHtmlLengthToParse: 5_000_000 });
  } catch (error) {
    throw new OmnithreadError('INVALID_INPUT', `The mail could not be parsed: ${(error as Error).message}`, { field: '(body)' });
  }
  try {
    const from = mail.from?.value.find((a) => isAddress(a.address));
    // mailparser fills `text` from the HTML when there is no text part: a text/html root (or no text) is HTML-only.
    const rootType = (mail.headers.get('content-type') as { value?: string } | undefined)?.value?.toLowerCase();
    const htmlOnly = typeof mail.html === 'string' && !!mail.html && (rootType === 'text/html' || !mail.text?.trim());
    let text = mail.text ?? '';
    let replySource = text;
    if (htmlOnly) {
      const html = mail.html as string;
      text = text.trim() ? text : await htmlToText(html);
      replySource = await htmlToText(cutHtmlQuote(html));
    }
    const deliveredTo = mail.headers.get('delivered-to');
    const delivered = parseAddress(Array.isArray(deliveredTo) ? deliveredTo[0] : typeof deliveredTo === 'string' ? deliveredTo : undefined)?.address;
    const replyTo = mail.replyTo?.value.find((a) => isAddress(a.address))?.address;
    return toMessage(
      {
        messageId: mail.messageId,
        inReplyTo: messageIds(mail.inReplyTo),
        references: messageIds(mail.references),
        from: from?.address ? { address: from.address, name: from.name } : undefined,
        replyTo,
        mailbox: delivered,
        to: addresses(mail.to),
        cc: addresses(mail.cc),
        subject: mail.subject,
        date: mail.date,
        text,
        replySource,
        html: htmlOnly,
        attachments: mail.attachments.map((a) => attachmentMeta(a.filename, a.contentType, a.size)),
        syntheticFrom: bytes.toString('latin1'),
        receivedAt: receivedDate(mail.headers.get('received')),
        raw: options.keepRaw ? bytes.toString('utf8') : undefined,
      },
      options,
    );
  } catch (error) {
    if (error instanceof OmnithreadError) throw error;
    throw new OmnithreadError('INVALID_INPUT', `The mail could not be read: ${(error as Error).message}`, { field: '(body)' });
  }
}

// ---------------------------------------------------------------------------------------------
// The inbound webhook
// ---------------------------------------------------------------------------------------------

type Body = { kind: 'raw'; raw: Buffer } | { kind: 'postmark'; body: Record<string, unknown> } | { kind: 'mailgun'; body: Record<string, unknown> };

function classify(request: WebhookRequest): Body {
  const type = (header(request, 'content-type') ?? '').toLowerCase();
  if (!request.rawBody.length) throw new OmnithreadError('INVALID_INPUT', 'The request body is empty: send a mail', { field: '(body)' });
  if (type.startsWith('multipart/')) {
    throw new OmnithreadError(
      'INVALID_INPUT',
      'multipart/form-data deliveries (SendGrid Inbound Parse, Mailgun with attachments) are not supported: configure the provider to post raw MIME or JSON',
      { field: '(body)' },
    );
  }
  if (type.startsWith('message/rfc822')) return { kind: 'raw', raw: request.rawBody };
  let body: Record<string, unknown> | undefined;
  // Raw MIME may be any 8-bit charset; JSON and forms must be UTF-8 (textBody refuses anything else).
  if (type.includes('json')) {
    const parsed = parseJsonBody(request);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new OmnithreadError('INVALID_INPUT', 'The JSON body must be an object', { field: '(body)' });
    body = parsed as Record<string, unknown>;
  } else if (type.startsWith('application/x-www-form-urlencoded')) {
    body = Object.fromEntries(formParams(textBody(request)));
  } else if (/^\s*\{/.test(request.rawBody.subarray(0, 64).toString('latin1'))) {
    // JSON sent without its content type (or mail that starts with "{"): JSON when it parses as such.
    try {
      const parsed = parseJsonBody(request);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      body = undefined;
    }
  }
  if (!body) return { kind: 'raw', raw: request.rawBody };
  for (const key of ['raw', 'mime', 'body-mime']) {
    const value = body[key];
    if (typeof value === 'string' && value) return { kind: 'raw', raw: Buffer.from(value, 'utf8') };
  }
  if ('FromFull' in body || 'MessageID' in body || 'TextBody' in body || 'HtmlBody' in body) return { kind: 'postmark', body };
  if ('body-plain' in body || 'stripped-text' in body || 'recipient' in body || 'sender' in body) return { kind: 'mailgun', body };
  throw new OmnithreadError('INVALID_INPUT', 'The body is neither raw MIME, { "raw": ... }, a Postmark inbound nor a Mailgun forward payload', { field: '(body)' });
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const date = (value: unknown): Date | undefined => {
  const d = typeof value === 'string' ? new Date(value) : undefined;
  return d && Number.isFinite(d.getTime()) ? d : undefined;
};

/** Postmark inbound JSON (https://postmarkapp.com/developer/webhooks/inbound-webhook). */
function postmarkParts(body: Record<string, unknown>): EmailParts {
  const headers = new Map<string, string>();
  if (Array.isArray(body.Headers)) {
    for (const h of body.Headers as unknown[]) {
      const { Name, Value } = (h ?? {}) as { Name?: unknown; Value?: unknown };
      if (typeof Name === 'string' && typeof Value === 'string' && !headers.has(Name.toLowerCase())) headers.set(Name.toLowerCase(), Value);
    }
  }
  const fromFull = (body.FromFull ?? {}) as { Email?: unknown; Name?: unknown };
  const from =
    typeof fromFull.Email === 'string' && isAddress(fromFull.Email)
      ? { address: fromFull.Email, name: str(fromFull.Name) }
      : parseAddress(body.From) && { ...parseAddress(body.From)!, name: str(body.FromName) ?? parseAddress(body.From)!.name };
  const toFull = Array.isArray(body.ToFull) ? (body.ToFull as { Email?: unknown }[]).map((t) => str(t?.Email)).filter(isAddress) : [];
  const to = toFull.length ? toFull : (str(body.To) ?? '').split(',').map((a) => parseAddress(a)?.address).filter(isAddress);
  const cc = Array.isArray(body.CcFull) ? (body.CcFull as { Email?: unknown }[]).map((t) => str(t?.Email)).filter(isAddress) : [];
  const textBody = str(body.TextBody) ?? '';
  const html = str(body.HtmlBody) ?? '';
  const htmlOnly = !textBody.trim() && !!html;
  const text = htmlOnly ? htmlToTextSync(html) : textBody;
  const postmarkId = str(body.MessageID);
  return {
    messageId: headers.get('message-id') ?? (postmarkId ? `<${postmarkId}@postmark.invalid>` : undefined),
    inReplyTo: messageIds(headers.get('in-reply-to')),
    references: messageIds(headers.get('references')),
    from,
    replyTo: parseAddress(body.ReplyTo)?.address,
    mailbox: str(body.OriginalRecipient) || undefined,
    to,
    cc,
    subject: str(body.Subject),
    date: date(body.Date),
    text,
    replySource: htmlOnly ? htmlToTextSync(cutHtmlQuote(html)) : textBody,
    html: htmlOnly,
    attachments: Array.isArray(body.Attachments)
      ? (body.Attachments as Record<string, unknown>[]).map((a) => attachmentMeta(a?.Name, a?.ContentType, a?.ContentLength))
      : [],
    syntheticFrom: JSON.stringify(body),
    metadata: postmarkId ? { postmarkMessageId: postmarkId, provider: 'postmark' } : { provider: 'postmark' },
  };
}

/** Mailgun routes forward() (https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http). */
function mailgunParts(body: Record<string, unknown>): EmailParts {
  const headers = new Map<string, string>();
  try {
    const list: unknown = typeof body['message-headers'] === 'string' ? JSON.parse(body['message-headers']) : body['message-headers'];
    if (Array.isArray(list)) {
      for (const pair of list) {
        if (Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'string' && !headers.has(pair[0].toLowerCase())) headers.set(pair[0].toLowerCase(), pair[1]);
      }
    }
  } catch {
    // message-headers is optional; the top-level fields below are enough.
  }
  const field = (name: string): string | undefined => str(body[name]) ?? str(body[name.toLowerCase()]) ?? headers.get(name.toLowerCase());
  const from = parseAddress(field('from') ?? field('From')) ?? parseAddress(field('sender'));
  const plain = str(body['body-plain']) ?? '';
  const html = str(body['body-html']) ?? '';
  const htmlOnly = !plain.trim() && !!html;
  const text = plain || (html ? htmlToTextSync(html) : str(body['stripped-text']) ?? '');
  const recipient = parseAddress(field('recipient'))?.address;
  const to = (field('To') ?? '').split(',').map((a) => parseAddress(a)?.address).filter(isAddress);
  return {
    messageId: field('Message-Id'),
    inReplyTo: messageIds(field('In-Reply-To')),
    references: messageIds(field('References')),
    from,
    replyTo: parseAddress(field('Reply-To'))?.address,
    mailbox: recipient,
    to,
    cc: [],
    subject: field('subject') ?? field('Subject'),
    date: date(field('Date')),
    text,
    replySource: htmlOnly ? htmlToTextSync(cutHtmlQuote(html)) : text,
    html: htmlOnly,
    attachments: [],
    syntheticFrom: JSON.stringify(body),
    metadata: { provider: 'mailgun' },
  };
}

/** Synchronous: the parsed-JSON forms (Postmark, Mailgun) only; raw MIME is refused with INVALID_INPUT. */
export function parseEmailJson(request: WebhookRequest, config: EmailChannelConfig, context?: ParseContext): InboundItem[] {
  return parseJsonForm(classify(request), config, context);
}

const webhookOptions = (config: EmailChannelConfig, context?: ParseContext): ParseEmailOptions => ({
  defaultMailbox: config.mailbox || undefined,
  ...(context ? { isOwnAddress: (address: string) => context.isOwnAddress(address) } : {}),
});

function parseJsonForm(parsed: Body, config: EmailChannelConfig, context?: ParseContext): InboundItem[] {
  const options = webhookOptions(config, context);
  if (parsed.kind === 'postmark') return [{ type: 'message', message: toMessage(postmarkParts(parsed.body), options) }];
  if (parsed.kind === 'mailgun') return [{ type: 'message', message: toMessage(mailgunParts(parsed.body), options) }];
  throw new OmnithreadError('INVALID_INPUT', 'Raw MIME deliveries need the asynchronous parser (parseEmailDelivery)', { field: '(body)' });
}

/** Every accepted form (raw MIME, {raw|mime|body-mime}, Postmark, Mailgun): what `parse` becomes once it may be async. */
export async function parseEmailDelivery(request: WebhookRequest, config: EmailChannelConfig, context?: ParseContext): Promise<InboundItem[]> {
  const body = classify(request);
  if (body.kind === 'raw') return [{ type: 'message', message: await parseEmail(body.raw, webhookOptions(config, context)) }];
  return parseJsonForm(body, config, context);
}


// ---------------------------------------------------------------------------------------------
// The module
// ---------------------------------------------------------------------------------------------

export const emailChannel: ChannelModule<EmailChannelConfig> = {
  id: 'email',
  displayName: 'Email (inbound webhook)',
  description: 'Mail posted by a provider (raw MIME, Postmark inbound, Mailgun forward); replies over SMTP',
  configSchema: EmailChannelConfigSchema,
  settings: Object.keys(EmailChannelConfigSchema.shape),
  secrets: ['secret'],
  settingFields: [
    {
      name: 'secret',
      displayName: 'Secret',
      description:
        'Shared secret each delivery must carry: header X-Omnithread-Secret, the password of HTTP Basic auth (https://any:secret@host/... in the provider), or ?token=secret. Empty = no check.',
      secret: true,
    },
    {
      name: 'mailbox',
      displayName: 'Mailbox',
      description: 'The receiving address recorded when a mail names none (Delivered-To, To, recipient)',
      placeholder: 'support@example.com',
    },
  ],
  sendFields: [
    { name: 'host', displayName: 'SMTP Host', description: 'The SMTP server', required: true, placeholder: 'smtp.example.com' },
    { name: 'port', displayName: 'Port', description: '587 (STARTTLS) or 465 (TLS)', default: '587' },
    { name: 'secure', displayName: 'TLS From the Start', description: 'On for port 465; off upgrades with STARTTLS', type: 'boolean', default: false },
    { name: 'user', displayName: 'User', description: 'The SMTP login' },
    { name: 'password', displayName: 'Password', description: 'The SMTP password or app password', secret: true },
    { name: 'from', displayName: 'From Address', description: 'The address replies come from', required: true, placeholder: 'support@example.com' },
    { name: 'fromName', displayName: 'From Name', description: 'The display name of the sender', placeholder: 'Acme Support' },
  ],

  verify(request, config) {
    if (!config.secret) return { ok: true };
    const given = header(request, 'x-omnithread-secret');
    if (given !== undefined) return safeEqual(given, config.secret) ? { ok: true } : { ok: false, status: 401, reason: 'X-Omnithread-Secret does not match' };
    const auth = header(request, 'authorization');
    if (auth && /^basic\s+/i.test(auth)) {
      const decoded = Buffer.from(auth.replace(/^basic\s+/i, ''), 'base64').toString('utf8');
      const password = decoded.includes(':') ? decoded.slice(decoded.indexOf(':') + 1) : decoded;
      return safeEqual(password, config.secret) ? { ok: true } : { ok: false, status: 401, reason: 'the Basic auth password does not match' };
    }
    const token = request.query.token;
    if (typeof token === 'string') return safeEqual(token, config.secret) ? { ok: true } : { ok: false, status: 401, reason: 'the token does not match' };
    return { ok: false, status: 401, reason: 'missing secret (X-Omnithread-Secret header, Basic auth or ?token=)' };
  },

  /** Every accepted form; asynchronous because raw MIME goes through mailparser. */
  parse: parseEmailDelivery,

  sendConfigSchema: EmailSendConfigSchema,
  send(request: OutboundRequest, sendConfig: unknown, _http: AxiosInstance) {
    return sendEmail(request, sendConfig);
  },
};
