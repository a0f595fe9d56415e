/**
 * Sending mail over SMTP (nodemailer): what the Reply node's email channel and the SMTP credential test
 * use. A reply carries In-Reply-To = the answered Message-ID and References = its references + that id
 * (RFC 5322 3.6.4), subject "Re: <subject>" (never "Re: Re:"). The Message-ID is generated here
 * (`<uuid@domain of from>`) so it is known before sending, and is the providerMessageId. SMTP failures:
 * 535/534/530 or a refused login -> AUTH_FAILED; 421/450/451/452 and other 4xx (temporary, RFC 5321
 * 4.2.1) -> RATE_LIMITED with retryAfterSeconds 60; 5xx, connection refused and timeouts -> PROVIDER_ERROR
 * (details: code, responseCode, response; never the password). A failure without a reply code after the
 * connection was made (a timeout, a cut connection) is delivery 'unknown' (see shared/delivery.ts).
 */
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import { z } from 'zod';
import { OmnithreadError } from '../errors';
import { parseInput } from '../model';
import type { OutboundRequest, SendResult } from '../channels/channel';
import { messageIds, replySubject } from './headers';

export const EmailSendConfigSchema = z
  .object({
    host: z.string().trim().min(1, 'is required: the SMTP server host'),
    port: z.coerce.number().int().min(1).max(65535).default(587),
    /** true = TLS from the start (port 465); false = plain, upgraded with STARTTLS when offered. */
    secure: z.boolean().default(false),
    /** Never upgrade with STARTTLS (only for local test servers). */
    ignoreTLS: z.boolean().default(false),
    user: z.string().default(''),
    /** Secret. */
    password: z.string().default(''),
    from: z.string().trim().email('must be the email address to send from'),
    fromName: z.string().trim().max(256).default(''),
    /** Milliseconds to wait for the connection, greeting and each answer. */
    timeoutMs: z.number().int().min(100).max(300_000).default(30_000),
  })
  .strict();
export type EmailSendConfig = z.output<typeof EmailSendConfigSchema>;
export const EMAIL_SEND_SETTINGS = Object.keys(EmailSendConfigSchema.shape);
export const EMAIL_SEND_SECRETS = ['password'] as const;

const ReplyToSchema = z
  .object({
    to: z.string().trim().email('must be the email address to send to'),
    messageId: z.string().max(512).optional(),
    references: z.array(z.string().max(1024)).max(200).optional(),
    subject: z.string().max(2000).optional(),
  })
  .passthrough();

type SmtpError = Error & { code?: string; responseCode?: number; response?: string; command?: string; syscall?: string };

/** A failure of nodemailer before any mail could have been handed over: DNS, connect, TLS, greeting, login. */
function neverConnected(e: SmtpError): boolean {
  if (e.code === 'EDNS' || e.code === 'ETLS' || e.code === 'EAUTH') return true;
  if (e.code === 'ESOCKET') return e.syscall === 'connect' || e.syscall === 'getaddrinfo';
  if (e.code === 'ETIMEDOUT') return /^(Connection timeout|Greeting never received)/.test(e.message ?? '');
  return e.code === 'ECONNECTION' && !/closed unexpectedly/.test(e.message ?? '');
}

/** An SMTP failure as an OmnithreadError (see the module header for the mapping). */
export function smtpError(error: unknown): OmnithreadError {
  if (error instanceof OmnithreadError) return error;
  const e = (error ?? {}) as SmtpError;
  const details = { provider: 'smtp', code: e.code, responseCode: e.responseCode, response: e.response, command: e.command };
  const said = e.response ?? e.message ?? String(error);
  if (e.code === 'EAUTH' || e.responseCode === 535 || e.responseCode === 534 || e.responseCode === 530) {
    return new OmnithreadError('AUTH_FAILED', `The SMTP server refused the login: ${said}`, { details });
  }
  if (typeof e.responseCode === 'number' && e.responseCode >= 400 && e.responseCode < 500) {
    return new OmnithreadError('RATE_LIMITED', `The SMTP server refused the mail for now (${e.responseCode}): ${said}; retry later`, {
      details: { ...details, retryAfterSeconds: 60 },
    });
  }
  if (typeof e.responseCode === 'number') return new OmnithreadError('PROVIDER_ERROR', `The SMTP server refused the mail (${e.responseCode}): ${said}`, { details });
  // Without a reply code, nothing says how far the mail got, except a failure to connect at all (nodemailer
  // labels every socket error 'CONN'): a timeout or a cut connection later may come after the server queued it.
  const delivery = neverConnected(e) ? 'not_sent' : 'unknown';
  const what = delivery === 'not_sent' ? 'The SMTP server could not be reached' : 'The SMTP connection failed before the server confirmed the mail (it may have been sent)';
  return new OmnithreadError('PROVIDER_ERROR', `${what}: ${e.message ?? String(error)}`, { details: { ...details, delivery } });
}

/** Sends a mail (a reply when `request.to.messageId` is set) and returns the Message-ID it carries. */
export async function sendEmail(request: OutboundRequest, sendConfig: unknown, transport?: Transporter): Promise<SendResult> {
  const config = parseInput(EmailSendConfigSchema, sendConfig, 'email send settings');
  const to = parseInput(ReplyToSchema, request.to, 'email reply address');
  if (request.template) throw new OmnithreadError('INVALID_INPUT', 'Email has no templates: send text', { field: 'template' });
  const domain = config.from.split('@')[1];
  const messageId = `<${randomUUID()}@${domain}>`;
  const answered = messageIds(to.messageId)[0];
  const references = answered ? [...messageIds(to.references ?? []).filter((r) => r !== answered), answered] : messageIds(to.references ?? []);
  const subject = answered ? replySubject(to.subject) : (to.subject ?? '');
  const own = !transport;
  const mailer =
    transport ??
    nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      ignoreTLS: config.ignoreTLS,
      auth: config.user ? { user: config.user, pass: config.password } : undefined,
      connectionTimeout: config.timeoutMs,
      greetingTimeout: config.timeoutMs,
      socketTimeout: config.timeoutMs,
    });
  try {
    const info = await mailer.sendMail({
      from: config.fromName ? { name: config.fromName, address: config.from } : config.from,
      to: to.to,
      subject,
      text: request.text,
      messageId,
      ...(answered ? { inReplyTo: answered } : {}),
      ...(references.length ? { references } : {}),
      ...(request.media ? { attachments: [{ path: request.media.url, ...(request.media.filename ? { filename: request.media.filename } : {}) }] } : {}),
    });
    return {
      providerMessageId: messageId,
      response: { messageId, accepted: info.accepted, rejected: info.rejected, response: info.response, subject, inReplyTo: answered ?? null, references },
    };
  } catch (error) {
    throw smtpError(error);
  } finally {
    if (own) mailer.close();
  }
}
