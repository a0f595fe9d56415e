/**
 * IMAP poller core (imapflow): one `pollMailbox` call is one poll of one mailbox. Engine adapters (the n8n
 * polling trigger, Node-RED's interval) call it on their schedule and keep the cursor in their own storage.
 *
 * Cursor: `{ uidValidity, lastUid }` (RFC 3501 2.3.1.1: a UID is only meaningful together with the mailbox's
 * UIDVALIDITY), kept in an injected `CursorStore` under `cursorKey(options)` = `user@host/mailbox`.
 * - A poll fetches the messages with UID > lastUid, in UID order, as raw RFC 822 bytes (BODY.PEEK[], so
 *   fetching alone never sets \Seen), and hands each to `onMessage(raw, uid, { internalDate })`; the caller parses
 *   (`parseEmail`) and ingests (`ot.ingest`).
 * - After `onMessage` resolves, the message is marked \Seen (`after: 'seen'`, the default) or moved to
 *   `moveTo` (`after: 'move'`; the folder is created when missing), THEN the cursor is saved. The cursor is
 *   saved after every message, so a crash re-reads at most the one message in flight; `ot.ingest` is
 *   idempotent on the Message-ID and absorbs that re-read (it answers `duplicate: true`).
 * - No cursor yet (first poll): every message in the mailbox is read (UID > 0), seen or not.
 * - UIDVALIDITY changed (the mailbox was recreated or rebuilt): the old UIDs mean nothing, so the cursor is
 *   reset to lastUid 0 and the whole mailbox is read again; ingest dedupes what it saw before by Message-ID.
 *   The result says `uidValidityChanged: true`.
 *
 * Failures of one message: when `onMessage` throws an OmnithreadError INVALID_INPUT (what `parseEmail` throws
 * for a malformed mail, and what ingest throws for an input it refuses), `onError(error, uid)` is called, the
 * message counts as `failed`, and the poll CONTINUES: the cursor moves past it so it is never retried. The
 * failed mail is left where it is and unread (a human sees it), or moved to `errorFolder` when one is set.
 * Any other error from `onMessage` (the store is down, ...) stops the poll and is thrown: the cursor stays on
 * the last message that succeeded, so the next poll retries the failing one.
 *
 * Connection errors: a refused login -> OmnithreadError AUTH_FAILED; a refused/timed-out connection or any
 * other protocol failure -> PROVIDER_ERROR (details: code, response; never the password); a mailbox that does
 * not exist -> NOT_FOUND. The connection is always logged out at the end (closed at once after a failure).
 */
import { ImapFlow } from 'imapflow';

/** What the server says about a message besides its bytes: INTERNALDATE, when it arrived (RFC 3501 2.3.3). */
export interface FetchedMeta {
  internalDate?: Date;
}

const internalDateOf = (value: unknown): Date | undefined => {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  return date && Number.isFinite(date.getTime()) ? date : undefined;
};
import { OmnithreadError, isOmnithreadError } from '../errors';

export interface ImapPollOptions {
  host: string;
  /** Default 993 with `secure`, 143 without. */
  port?: number;
  /** Implicit TLS (IMAPS). Default true. Without it, STARTTLS is used when the server offers it. */
  secure?: boolean;
  user: string;
  password: string;
  /** Default INBOX. */
  mailbox?: string;
  /** What to do with a processed message: add \Seen (default) or move it to `moveTo`. */
  after?: 'seen' | 'move';
  /** The folder processed messages go to with `after: 'move'` (created when missing). */
  moveTo?: string;
  /** Where mails that failed with INVALID_INPUT go; empty = left in place, unread. */
  errorFolder?: string;
  /** At most this many messages per poll (the rest wait for the next poll). Default 500. */
  maxMessages?: number;
  /** Connection timeout in milliseconds. Default 30000. */
  timeoutMs?: number;
  /** Accept self-signed TLS certificates. Default false. */
  allowUnauthorizedCerts?: boolean;
}

export interface Cursor {
  /** The mailbox's UIDVALIDITY, as a decimal string (it is a 32-bit unsigned number; imapflow gives a bigint). */
  uidValidity: string;
  /** The highest UID handled (processed or failed). */
  lastUid: number;
}

export interface CursorStore {
  load(key: string): Promise<Cursor | undefined>;
  save(key: string, cursor: Cursor): Promise<void>;
}

export interface PollResult {
  /** Messages `onMessage` accepted. */
  processed: number;
  /** Messages that failed with INVALID_INPUT (reported through onError, skipped). */
  failed: number;
  /** True when the mailbox's UIDVALIDITY differed from the cursor's, so the cursor was reset. */
  uidValidityChanged: boolean;
  /** The cursor after this poll (also saved in the cursor store). */
  cursor: Cursor;
  /** True when `maxMessages` stopped the poll before the end of the mailbox. */
  more: boolean;
}

export type OnMessage = (raw: Buffer, uid: number, meta: FetchedMeta) => Promise<unknown> | unknown;
export type OnError = (error: OmnithreadError, uid: number) => Promise<unknown> | unknown;

/** The key a mailbox's cursor is stored under: `user@host/mailbox`. */
export function cursorKey(options: Pick<ImapPollOptions, 'user' | 'host' | 'mailbox'>): string {
  return `${options.user}@${options.host}/${options.mailbox || 'INBOX'}`;
}

/** A CursorStore in memory (tests, or an adapter that persists `entries` itself). */
export class MemoryCursorStore implements CursorStore {
  readonly entries = new Map<string, Cursor>();
  async load(key: string): Promise<Cursor | undefined> {
    const cursor = this.entries.get(key);
    return cursor && { ...cursor };
  }
  async save(key: string, cursor: Cursor): Promise<void> {
    this.entries.set(key, { ...cursor });
  }
}

/** A connection or login failure as an OmnithreadError: AUTH_FAILED or PROVIDER_ERROR (never the password). */
export function connectionError(error: unknown, options: Pick<ImapPollOptions, 'host' | 'port' | 'secure' | 'user'>): OmnithreadError {
  if (isOmnithreadError(error)) return error;
  const e = (error ?? {}) as { authenticationFailed?: boolean; code?: string; message?: string; response?: string; serverResponseCode?: string; responseText?: string };
  const where = `${options.host}:${options.port ?? ((options.secure ?? true) ? 993 : 143)}`;
  if (e.authenticationFailed || e.serverResponseCode === 'AUTHENTICATIONFAILED') {
    return new OmnithreadError('AUTH_FAILED', `The IMAP server ${where} refused the login of ${options.user}`, {
      details: { response: e.response ?? e.responseText },
      cause: error,
    });
  }
  return new OmnithreadError('PROVIDER_ERROR', `IMAP ${where} failed: ${e.message ?? String(error)}`, {
    details: { code: e.code ?? e.serverResponseCode, response: e.response ?? e.responseText },
    cause: error,
  });
}

async function ensureMailbox(client: ImapFlow, path: string): Promise<void> {
  const exists = (await client.list()).some((m) => m.path === path);
  if (!exists) await client.mailboxCreate(path);
}

/**
 * Polls one mailbox once (see the module comment). `onError` receives the INVALID_INPUT failures of single
 * messages; without it they are still skipped and counted in `failed`.
 */
export async function pollMailbox(options: ImapPollOptions, cursorStore: CursorStore, onMessage: OnMessage, onError?: OnError): Promise<PollResult> {
  if (!options?.host || !options.user) throw new OmnithreadError('INVALID_INPUT', 'IMAP host and user are required', { field: options?.host ? 'user' : 'host' });
  const after = options.after ?? 'seen';
  if (after === 'move' && !options.moveTo) throw new OmnithreadError('INVALID_INPUT', "after: 'move' needs a moveTo folder", { field: 'moveTo' });
  const mailbox = options.mailbox || 'INBOX';
  const secure = options.secure ?? true;
  const key = cursorKey(options);
  const maxMessages = options.maxMessages ?? 500;

  const client = new ImapFlow({
    host: options.host,
    port: options.port ?? (secure ? 993 : 143),
    secure,
    auth: { user: options.user, pass: options.password },
    logger: false,
    connectionTimeout: options.timeoutMs ?? 30_000,
    greetingTimeout: options.timeoutMs ?? 30_000,
    tls: options.allowUnauthorizedCerts ? { rejectUnauthorized: false } : undefined,
  });
  // Socket errors after connect surface through the pending command; this only prevents an unhandled 'error'.
  client.on('error', () => undefined);

  let broken = false;
  try {
    try {
      await client.connect();
    } catch (error) {
      throw connectionError(error, options);
    }
    let opened;
    try {
      if (after === 'move') await ensureMailbox(client, options.moveTo!);
      if (options.errorFolder) await ensureMailbox(client, options.errorFolder);
      opened = await client.mailboxOpen(mailbox);
    } catch (error) {
      const e = error as { serverResponseCode?: string; responseText?: string };
      if (e?.serverResponseCode === 'NONEXISTENT' || /doesn't exist|does not exist|nonexistent/i.test(e?.responseText ?? '')) {
        throw new OmnithreadError('NOT_FOUND', `The IMAP mailbox "${mailbox}" does not exist`, { field: 'mailbox', cause: error });
      }
      throw connectionError(error, options);
    }
    const uidValidity = String(opened.uidValidity);
    const stored = await cursorStore.load(key);
    const uidValidityChanged = !!stored && stored.uidValidity !== uidValidity;
    let cursor: Cursor = stored && !uidValidityChanged ? { uidValidity, lastUid: stored.lastUid } : { uidValidity, lastUid: 0 };
    if (!stored || uidValidityChanged) await cursorStore.save(key, cursor);

    let uids: number[] = [];
    if (opened.exists > 0) {
      try {
        // "N:*" always matches the highest UID even when it is below N (RFC 3501 6.4.8), hence the filter.
        const found = await client.search({ uid: `${cursor.lastUid + 1}:*` }, { uid: true });
        uids = (found || []).filter((uid) => uid > cursor.lastUid).sort((a, b) => a - b);
      } catch (error) {
        throw connectionError(error, options);
      }
    }
    const more = uids.length > maxMessages;
    uids = uids.slice(0, maxMessages);

    let processed = 0;
    let failed = 0;
    for (const uid of uids) {
      let message;
      try {
        message = await client.fetchOne(String(uid), { uid: true, source: true, internalDate: true }, { uid: true });
      } catch (error) {
        throw connectionError(error, options);
      }
      let ok = true;
      if (!message || !message.source) {
        // Expunged between SEARCH and FETCH by another client: nothing to process.
        cursor = { uidValidity, lastUid: uid };
        await cursorStore.save(key, cursor);
        continue;
      }
      try {
        await onMessage(message.source, uid, { internalDate: internalDateOf(message.internalDate) });
      } catch (error) {
        if (!isOmnithreadError(error, 'INVALID_INPUT')) throw error;
        ok = false;
        failed++;
        const reported = new OmnithreadError('INVALID_INPUT', `IMAP message UID ${uid} in ${mailbox} was skipped: ${error.message}`, {
          field: error.field,
          details: { uid, uidValidity, mailbox },
          cause: error,
        });
        if (onError) await onError(reported, uid);
      }
      try {
        if (ok && after === 'move') await client.messageMove(String(uid), options.moveTo!, { uid: true });
        else if (ok) await client.messageFlagsAdd(String(uid), ['\\Seen'], { uid: true });
        else if (options.errorFolder) await client.messageMove(String(uid), options.errorFolder, { uid: true });
      } catch (error) {
        throw connectionError(error, options);
      }
      if (ok) processed++;
      cursor = { uidValidity, lastUid: uid };
      await cursorStore.save(key, cursor);
    }
    return { processed, failed, uidValidityChanged, cursor, more };
  } catch (error) {
    broken = true;
    throw error;
  } finally {
    // After a failure the connection is just closed: a LOGOUT on a half-failed session can wait for seconds.
    if (client.usable && !broken) await client.logout().catch(() => client.close());
    else client.close();
  }
}
