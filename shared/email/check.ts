/**
 * Login checks for the mail credentials (the n8n IMAP and SMTP credentials' tests, a Node-RED config's
 * "test" button): a real login against the server, nothing read, nothing sent.
 *
 * n8n tests most credentials with one HTTP request; IMAP and SMTP are not HTTP, so these run in a node's
 * `credentialTest` method instead. Both resolve to a one-line success message and throw an OmnithreadError
 * the caller shows as is: AUTH_FAILED (the server refused the login), PROVIDER_ERROR (unreachable, TLS,
 * protocol), INVALID_INPUT (the settings themselves, naming the field). The password never appears in a
 * message or in the details.
 */
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { z } from 'zod';
import { EmailSendConfigSchema, smtpError } from './smtp';
import { parseInput } from '../model';
import { connectionError } from './imap';
import { ImapSettingsSchema } from './poll';

/** The IMAP connection settings alone (what the credential holds; the folder settings are the node's). */
export const ImapLoginSchema = ImapSettingsSchema.innerType().pick({
  host: true,
  port: true,
  secure: true,
  user: true,
  password: true,
  allowUnauthorizedCerts: true,
});
export type ImapLogin = z.output<typeof ImapLoginSchema>;

/** Connection settings for the checks; shorter than a poll's, since a user is waiting on the answer. */
const CHECK_TIMEOUT_MS = 15_000;

/** Logs in to the IMAP server and out again. Resolves to what a user reads on success. */
export async function checkImapLogin(settingsInput: unknown): Promise<string> {
  const settings = parseInput(ImapLoginSchema, settingsInput, 'IMAP settings');
  const port = settings.port ?? (settings.secure ? 993 : 143);
  const where = `${settings.host}:${port}`;
  const client = new ImapFlow({
    host: settings.host,
    port,
    secure: settings.secure,
    auth: { user: settings.user, pass: settings.password },
    logger: false,
    connectionTimeout: CHECK_TIMEOUT_MS,
    greetingTimeout: CHECK_TIMEOUT_MS,
    tls: settings.allowUnauthorizedCerts ? { rejectUnauthorized: false } : undefined,
  });
  // Socket errors surface through connect(); this only keeps an 'error' event from going unhandled.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    client.close();
    throw connectionError(error, { ...settings, port });
  }
  await client.logout().catch(() => client.close());
  return `Logged in to the IMAP server ${where} as ${settings.user}`;
}

/** Connects to the SMTP server and logs in (nodemailer's verify: EHLO, STARTTLS when offered, AUTH). */
export async function checkSmtpLogin(settingsInput: unknown): Promise<string> {
  const config = parseInput(EmailSendConfigSchema, settingsInput, 'email send settings');
  const timeout = Math.min(config.timeoutMs, CHECK_TIMEOUT_MS);
  const transport = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.secure,
    ignoreTLS: config.ignoreTLS,
    auth: config.user ? { user: config.user, pass: config.password } : undefined,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });
  try {
    await transport.verify();
  } catch (error) {
    throw smtpError(error);
  } finally {
    transport.close();
  }
  const who = config.user ? ` as ${config.user}` : ' (no login: the server accepts mail without one)';
  return `Connected to the SMTP server ${config.host}:${config.port}${who}`;
}
