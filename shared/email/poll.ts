/**
 * One poll of a support mailbox into the timeline, the same for both engines: the n8n Email Trigger's
 * poll() and Node-RED's omnithread-email-in interval call `pollEmailIntoTimeline` and emit what it returns.
 *
 * - IMAP through `pollMailbox` (./imap.ts), with its UID cursor kept in the store (`ot.cursors()`), so a
 *   restart, a redeploy or another worker on the same PostgreSQL store goes on where the last poll stopped.
 * - Each mail is parsed (`parseEmail`: threading, quoted text stripped, attachments as metadata) and
 *   recorded (`ot.ingest`, idempotent on the Message-ID): a mail read twice after a crash is a duplicate.
 * - A malformed mail is reported in `failed` (the poll goes on, the mail is left unread or moved to the
 *   error folder); a store failure stops the poll with the mails recorded so far still returned in
 *   `recorded`, so the flow runs for them, and the failing mail is read again by the next poll.
 */
import { z } from 'zod';
import type { SettingField } from '../channels/channel';
import { parseEmail } from '../channels/email';
import { isOwnAddress } from '../identity/rules';
import { OmnithreadError, isOmnithreadError } from '../errors';
import { parseInput } from '../model';
import type { IngestResult, Omnithread } from '../omnithread';
import { cursorKey, pollMailbox, type Cursor, type CursorStore } from './imap';

export const ImapSettingsSchema = z
  .object({
    host: z.string().trim().min(1, 'is required: the IMAP server host'),
    /** Default 993 with TLS, 143 without. */
    port: z.coerce.number().int().min(1).max(65535).optional(),
    secure: z.boolean().default(true),
    user: z.string().trim().min(1, 'is required: the IMAP login'),
    password: z.string().default(''),
    mailbox: z.string().trim().min(1).default('INBOX'),
    /** What to do with a mail once it is on the timeline. */
    after: z.enum(['seen', 'move']).default('seen'),
    moveTo: z.string().trim().default(''),
    /** Where malformed mails go; empty = left in place, unread. */
    errorFolder: z.string().trim().default(''),
    allowUnauthorizedCerts: z.boolean().default(false),
    maxMessages: z.coerce.number().int().min(1).max(5000).default(200),
    /** The support address, recorded as the mailbox of mails that name none (Delivered-To/To). */
    address: z.string().trim().default(''),
  })
  .strict()
  .refine((s) => s.after !== 'move' || s.moveTo, { message: 'is required when processed mails are moved', path: ['moveTo'] });
export type ImapSettings = z.output<typeof ImapSettingsSchema>;

/** The IMAP settings as the editors show them (the n8n credential and the Node-RED config generate from it). */
export const IMAP_SETTING_FIELDS: readonly SettingField[] = [
  { name: 'host', displayName: 'IMAP Host', description: 'The IMAP server', required: true, placeholder: 'imap.example.com' },
  { name: 'port', displayName: 'Port', description: '993 with TLS, 143 without (empty = the default for the TLS choice)', placeholder: '993' },
  { name: 'secure', displayName: 'TLS', description: 'Implicit TLS (IMAPS, port 993). Off: plain, upgraded with STARTTLS when offered.', type: 'boolean', default: true },
  { name: 'user', displayName: 'User', description: 'The IMAP login of the support mailbox', required: true, placeholder: 'support@example.com' },
  { name: 'password', displayName: 'Password', description: 'The IMAP password or app password', secret: true },
  {
    name: 'allowUnauthorizedCerts',
    displayName: 'Allow Self-Signed Certificates',
    description: 'Accept a TLS certificate that does not validate (a server with a self-signed certificate)',
    type: 'boolean',
    default: false,
  },
];

/** The per-node settings (which folder, what happens to a processed mail). */
export const MAILBOX_SETTING_FIELDS: readonly SettingField[] = [
  { name: 'mailbox', displayName: 'Mailbox', description: 'The folder to read', default: 'INBOX' },
  {
    name: 'after',
    displayName: 'After Recording',
    description: 'What happens to a mail once it is on the timeline',
    type: 'options',
    options: [
      { name: 'Mark as Seen', value: 'seen', description: 'Add the \\Seen flag; the mail stays in the folder' },
      { name: 'Move to a Folder', value: 'move', description: 'Move it to the folder below (created when missing)' },
    ],
    default: 'seen',
  },
  { name: 'moveTo', displayName: 'Move To', description: 'The folder processed mails go to (with Move to a Folder)', placeholder: 'Processed' },
  { name: 'errorFolder', displayName: 'Error Folder', description: 'Where mails that cannot be read go; empty = left in place, unread', placeholder: 'Omnithread Errors' },
];

export interface EmailPollFailure {
  uid: number;
  error: string;
  field?: string;
}

export interface EmailPollResult {
  /** Mails newly on the timeline: what the flow runs for. */
  recorded: IngestResult[];
  /** Mails read again that were already recorded (after a crash or a UIDVALIDITY change). */
  duplicates: number;
  /** Our own mails (an agent's answer from the support mailbox), recorded as outbound on the customer's timeline: the flow does not run for them. */
  outbound: IngestResult[];
  /** Mails with no customer in them (between two of our own addresses): not recorded, with why. */
  ignored: string[];
  /** Mails that could not be read: reported, skipped, left unread or moved to the error folder. */
  failed: EmailPollFailure[];
  uidValidityChanged: boolean;
  /** More mails are waiting than one poll takes (maxMessages). */
  more: boolean;
  /** Set when the poll stopped early (store or server failure): `recorded` still holds what was recorded. */
  error?: OmnithreadError;
}

/** Poller cursors live in the store, under a key naming the mailbox. */
function storeCursors(ot: Omnithread): CursorStore {
  const cursors = ot.cursors();
  return {
    load: (key) => cursors.load<Cursor>(`imap:${key}`),
    save: (key, cursor) => cursors.save(`imap:${key}`, cursor),
  };
}

/** The result of a poll that could not start (the store would not open): nothing read, the error to report. */
export const failedPoll = (error: OmnithreadError): EmailPollResult => ({
  recorded: [],
  duplicates: 0,
  outbound: [],
  ignored: [],
  failed: [],
  uidValidityChanged: false,
  more: false,
  error,
});

/** Polls the mailbox once (see the module comment). Settings are validated first (INVALID_INPUT naming the field). */
export async function pollEmailIntoTimeline(ot: Omnithread, settingsInput: unknown): Promise<EmailPollResult> {
  const settings = parseInput(ImapSettingsSchema, settingsInput, 'IMAP settings');
  const defaultMailbox = settings.address || (settings.user.includes('@') ? settings.user : undefined);
  const result: EmailPollResult = { recorded: [], duplicates: 0, outbound: [], ignored: [], failed: [], uidValidityChanged: false, more: false };
  const options = {
    host: settings.host,
    ...(settings.port ? { port: settings.port } : {}),
    secure: settings.secure,
    user: settings.user,
    password: settings.password,
    mailbox: settings.mailbox,
    after: settings.after,
    ...(settings.moveTo ? { moveTo: settings.moveTo } : {}),
    ...(settings.errorFolder ? { errorFolder: settings.errorFolder } : {}),
    allowUnauthorizedCerts: settings.allowUnauthorizedCerts,
    maxMessages: settings.maxMessages,
  };
  try {
    const poll = await pollMailbox(
      options,
      storeCursors(ot),
      async (raw, _uid, meta) => {
        let ingested;
        try {
          ingested = await ot.ingest(await parseEmail(raw, { defaultMailbox, receivedAt: meta.internalDate, isOwnAddress: (address) => isOwnAddress(ot.rules, address) }));
        } catch (error) {
          if (!isOmnithreadError(error, 'IGNORED')) throw error;
          result.ignored.push(error.message);
          return;
        }
        if (ingested.effect === 'outbound') result.outbound.push(ingested);
        else if (ingested.effect === 'recorded') result.recorded.push(ingested);
        else result.duplicates++;
      },
      (error, uid) => {
        result.failed.push({ uid, error: error.message, ...(error.field ? { field: error.field } : {}) });
      },
    );
    result.uidValidityChanged = poll.uidValidityChanged;
    result.more = poll.more;
  } catch (error) {
    result.error = error instanceof OmnithreadError ? error : new OmnithreadError('STORE_UNAVAILABLE', (error as Error).message, { cause: error });
  }
  return result;
}

/** The key the mailbox's cursor is stored under (for tools that reset it). */
export const emailCursorKey = (settings: Pick<ImapSettings, 'user' | 'host' | 'mailbox'>): string => `imap:${cursorKey(settings)}`;
