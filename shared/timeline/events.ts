/**
 * Timeline events and conversations in SQL. Events belong to the contact they were recorded for; a
 * person's timeline is the events of every contact that resolves to the same survivor, so merging and
 * unmerging never rewrite an event.
 */
import { z } from 'zod';
import { OmnithreadError } from '../errors';
import { newId } from '../ids';
import { Conversation, Direction, TimelineEvent, toIso } from '../model';
import { FAMILY_IDS, Row, SqlExecutor, SqlParam, SqlTransaction, Statement, eachId, inList } from '../store/driver';

export interface EventRow {
  [column: string]: unknown;
  seq: number;
  id: string;
  contact_id: string;
  conversation_id: string | null;
  kind: string;
  channel: string | null;
  channel_account: string | null;
  direction: Direction | null;
  text: string;
  occurred_at: number;
  recorded_at: number;
  provider_message_id: string | null;
  thread_key: string | null;
  data: string;
}

export const eventFromRow = (workspace: string, row: EventRow): TimelineEvent => ({
  id: row.id,
  seq: row.seq,
  workspace,
  contactId: row.contact_id,
  conversationId: row.conversation_id,
  kind: row.kind,
  channel: row.channel,
  channelAccount: row.channel_account,
  direction: row.direction,
  text: row.text,
  occurredAt: toIso(row.occurred_at),
  recordedAt: toIso(row.recorded_at),
  providerMessageId: row.provider_message_id,
  threadKey: row.thread_key,
  data: JSON.parse(row.data) as Record<string, unknown>,
});

export interface NewEvent {
  id?: string;
  contactId: string;
  conversationId: string | null;
  kind: string;
  channel?: string | null;
  channelAccount?: string | null;
  direction?: Direction | null;
  text?: string;
  occurredAt: number;
  providerMessageId?: string | null;
  threadKey?: string | null;
  data?: Record<string, unknown>;
}

/** The INSERT of a new timeline item, returning its row when asked (with `seq`, which the database assigns). */
export function insertEventStatement(workspace: string, event: NewEvent, now: number, returning: boolean): Statement {
  return {
    sql: `INSERT INTO events (workspace, id, contact_id, conversation_id, kind, channel, channel_account, direction, text,
                         occurred_at, recorded_at, provider_message_id, thread_key, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)${returning ? ' RETURNING *' : ''}`,
    params: [
      workspace,
      event.id ?? newId('ev', now),
      event.contactId,
      event.conversationId,
      event.kind,
      event.channel ?? null,
      event.channelAccount ?? null,
      event.direction ?? null,
      event.text ?? '',
      event.occurredAt,
      now,
      event.providerMessageId ?? null,
      event.threadKey ?? null,
      JSON.stringify(event.data ?? {}),
    ],
  };
}

export async function insertEvent(db: SqlExecutor, workspace: string, event: NewEvent, now: number): Promise<TimelineEvent> {
  const { sql, params } = insertEventStatement(workspace, event, now, true);
  return eventFromRow(workspace, (await db.get<EventRow>(sql, params))!);
}

/** insertEvent for an item nobody reads back in this transaction: deferred (see SqlTransaction.defer). */
export async function deferEvent(tx: SqlTransaction, workspace: string, event: NewEvent, now: number): Promise<void> {
  const { sql, params } = insertEventStatement(workspace, event, now, false);
  await tx.defer(sql, params);
}

export async function getEvent(db: SqlExecutor, workspace: string, id: string): Promise<TimelineEvent | undefined> {
  const row = await db.get<EventRow>('SELECT * FROM events WHERE workspace = ? AND id = ?', [workspace, id]);
  return row && eventFromRow(workspace, row);
}

/** The message or call a provider id names (the first recorded, if a provider reuses ids). */
export async function eventByProviderId(db: SqlExecutor, workspace: string, channel: string, providerMessageId: string): Promise<TimelineEvent | undefined> {
  const row = await db.get<EventRow>(
    `SELECT * FROM events WHERE workspace = ? AND channel = ? AND provider_message_id = ? AND kind IN ('message', 'call') ORDER BY seq LIMIT 1`,
    [workspace, channel, providerMessageId],
  );
  return row && eventFromRow(workspace, row);
}

/** The person's newest inbound messages and calls, newest first: what a reply answers, and where. */
export async function recentInbound(db: SqlExecutor, workspace: string, rootId: string, limit: number): Promise<TimelineEvent[]> {
  const rows = await db.all<EventRow>(
    `SELECT * FROM events WHERE workspace = ? AND contact_id IN (${FAMILY_IDS}) AND direction = 'inbound' AND kind IN ('message', 'call')
      ORDER BY occurred_at DESC, seq DESC LIMIT ?`,
    [workspace, workspace, rootId, limit],
  );
  return rows.map((row) => eventFromRow(workspace, row));
}

/** Completes an outbound event reserved before sending: the provider's id, the channel it went on, the outcome. */
export async function completeOutboundEvent(
  db: SqlExecutor,
  workspace: string,
  event: TimelineEvent,
  outcome: { channel: string; channelAccount: string; providerMessageId: string | null; data: Record<string, unknown> },
): Promise<TimelineEvent> {
  await db.run('UPDATE events SET channel = ?, channel_account = ?, provider_message_id = ?, data = ? WHERE workspace = ? AND id = ?', [
    outcome.channel,
    outcome.channelAccount,
    outcome.providerMessageId,
    JSON.stringify({ ...event.data, ...outcome.data }),
    workspace,
    event.id,
  ]);
  return (await getEvent(db, workspace, event.id))!;
}

/**
 * The conversation of the newest message or call, among these provider ids, that belongs to this person:
 * what a reply (In-Reply-To, a chat's quoted message) continues.
 */
export async function conversationOfProviderIds(db: SqlExecutor, workspace: string, rootId: string, channel: string, ids: readonly string[]): Promise<string | undefined> {
  if (!ids.length) return undefined;
  const row = await db.get<{ conversation_id: string }>(
    `SELECT conversation_id FROM events WHERE workspace = ? AND channel = ? AND provider_message_id IN (${inList(ids)}) AND conversation_id IS NOT NULL
        AND contact_id IN (${FAMILY_IDS}) ORDER BY occurred_at DESC, seq DESC LIMIT 1`,
    [workspace, channel, ...ids, workspace, rootId],
  );
  return row?.conversation_id;
}

/** The contact of the newest message or call among these provider ids (whoever's it is). */
export async function contactOfProviderIds(db: SqlExecutor, workspace: string, channel: string, ids: readonly string[]): Promise<string | undefined> {
  if (!ids.length) return undefined;
  const row = await db.get<{ contact_id: string }>(
    `SELECT contact_id FROM events WHERE workspace = ? AND channel = ? AND provider_message_id IN (${inList(ids)}) AND kind IN ('message', 'call')
      ORDER BY occurred_at DESC, seq DESC LIMIT 1`,
    [workspace, channel, ...ids],
  );
  return row?.contact_id;
}

/** Reopens an ended conversation (idle or resolved): a reply in its thread continues its story. */
export async function reopenConversation(db: SqlExecutor, workspace: string, id: string): Promise<void> {
  await db.run(`UPDATE conversations SET status = 'open', closed_at = NULL WHERE workspace = ? AND id = ?`, [workspace, id]);
}

/** Rewrites an event's text and data (an edit of a message, applied in place). */
export async function updateEventContent(db: SqlExecutor, workspace: string, id: string, text: string, data: Record<string, unknown>): Promise<void> {
  await db.run('UPDATE events SET text = ?, data = ? WHERE workspace = ? AND id = ?', [text, JSON.stringify(data), workspace, id]);
}

/**
 * The contact of the newest event in a provider thread (an email thread, a chat), if any. Threads belong
 * to one channel account: the same chat id under two bots or pages is two threads.
 */
export async function threadContact(db: SqlExecutor, workspace: string, channel: string, channelAccount: string, threadKey: string): Promise<string | undefined> {
  const row = await db.get<{ contact_id: string }>(
    'SELECT contact_id FROM events WHERE workspace = ? AND channel = ? AND thread_key = ? AND channel_account = ? ORDER BY seq DESC LIMIT 1',
    [workspace, channel, threadKey, channelAccount],
  );
  return row?.contact_id;
}

// ---------------------------------------------------------------------------------------------
// Timeline lookup
// ---------------------------------------------------------------------------------------------

export const TimelineFilterSchema = z
  .object({
    channels: z.array(z.string().min(1)).max(50).optional(),
    kinds: z.array(z.string().min(1)).max(50).optional(),
    since: z.union([z.string().datetime({ offset: true }), z.number().int()]).optional(),
    until: z.union([z.string().datetime({ offset: true }), z.number().int()]).optional(),
    conversationId: z.string().min(1).optional(),
    order: z.enum(['chronological', 'newest-first']).default('chronological'),
    limit: z.number().int().min(1).max(1000).default(100),
    /** The nextCursor of the previous page. */
    cursor: z.string().min(1).optional(),
  })
  .strict();
export type TimelineFilter = z.input<typeof TimelineFilterSchema>;

export interface TimelinePage {
  contactId: string;
  events: TimelineEvent[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

const encodeCursor = (occurredAt: number, seq: number): string => Buffer.from(JSON.stringify([occurredAt, seq])).toString('base64url');

function decodeCursor(cursor: string): [number, number] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && value.every((n) => Number.isSafeInteger(n))) return value as [number, number];
  } catch {
    // fall through to the error below
  }
  throw new OmnithreadError('INVALID_INPUT', 'Invalid timeline filter: cursor: is not a cursor returned by a timeline lookup', { field: 'cursor' });
}

const asMs = (value: string | number | undefined): number | undefined =>
  value === undefined ? undefined : typeof value === 'number' ? value : Date.parse(value);

export async function queryTimeline(
  db: SqlExecutor,
  workspace: string,
  rootId: string,
  filter: z.output<typeof TimelineFilterSchema>,
): Promise<TimelinePage> {
  // The person's contact ids first: with one id (most people) the index yields events already in order,
  // so a page reads only its own rows even for a person with a very long history.
  const ids = (await db.all<{ id: string }>(FAMILY_IDS, [workspace, rootId])).map((r) => r.id);
  if (!ids.length) return { contactId: rootId, events: [], nextCursor: null };
  const params: SqlParam[] = [workspace, ...ids];
  const where = ['e.workspace = ?', ids.length === 1 ? 'e.contact_id = ?' : `e.contact_id IN (${inList(ids)})`];
  if (filter.channels?.length) {
    where.push(`e.channel IN (${inList(filter.channels)})`);
    params.push(...filter.channels);
  }
  if (filter.kinds?.length) {
    where.push(`e.kind IN (${inList(filter.kinds)})`);
    params.push(...filter.kinds);
  }
  const since = asMs(filter.since);
  if (since !== undefined) {
    where.push('e.occurred_at >= ?');
    params.push(since);
  }
  const until = asMs(filter.until);
  if (until !== undefined) {
    where.push('e.occurred_at <= ?');
    params.push(until);
  }
  if (filter.conversationId) {
    where.push('e.conversation_id = ?');
    params.push(filter.conversationId);
  }
  const newestFirst = filter.order === 'newest-first';
  if (filter.cursor) {
    const [at, seq] = decodeCursor(filter.cursor);
    // A row-value comparison: both databases turn it into a range seek on (occurred_at, seq).
    where.push(newestFirst ? '(e.occurred_at, e.seq) < (?, ?)' : '(e.occurred_at, e.seq) > (?, ?)');
    params.push(at, seq);
  }
  const direction = newestFirst ? 'DESC' : 'ASC';
  params.push(filter.limit + 1);
  const rows = await db.all<EventRow>(
    `SELECT e.* FROM events e
      WHERE ${where.join(' AND ')}
      ORDER BY e.occurred_at ${direction}, e.seq ${direction} LIMIT ?`,
    params,
  );
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  return {
    contactId: rootId,
    events: page.map((row) => eventFromRow(workspace, row)),
    nextCursor: rows.length > filter.limit && last ? encodeCursor(last.occurred_at, last.seq) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------------------------

interface ConversationRow {
  [column: string]: unknown;
  id: string;
  contact_id: string;
  status: Conversation['status'];
  channels: string;
  last_channel: string | null;
  message_count: number;
  opened_at: number;
  last_activity_at: number;
  closed_at: number | null;
}

export const conversationFromRow = (workspace: string, row: ConversationRow): Conversation => ({
  id: row.id,
  workspace,
  contactId: row.contact_id,
  status: row.status,
  channels: JSON.parse(row.channels) as string[],
  lastChannel: row.last_channel,
  messageCount: row.message_count,
  openedAt: toIso(row.opened_at),
  lastActivityAt: toIso(row.last_activity_at),
  closedAt: row.closed_at === null ? null : toIso(row.closed_at),
});

/** The ids of every contact of the person: what person-scoped conversation queries name outright (see openConversation). */
async function familyContactIds(db: SqlExecutor, workspace: string, rootId: string): Promise<string[]> {
  return (await db.all<{ id: string }>(FAMILY_IDS, [workspace, rootId])).map((r) => r.id);
}

/** Conversations by latest activity, newest first (ties: the larger id first). */
const newestFirst = (a: ConversationRow, b: ConversationRow): number =>
  Number(b.last_activity_at) - Number(a.last_activity_at) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** Every conversation of the person, the latest activity first. */
export async function familyConversations(db: SqlExecutor, workspace: string, rootId: string): Promise<Conversation[]> {
  const ids = await familyContactIds(db, workspace, rootId);
  if (!ids.length) return [];
  const query = eachId(ids, 'SELECT * FROM conversations WHERE workspace = ? AND contact_id = ?', [workspace]);
  const rows = await db.all<ConversationRow>(query.sql, query.params);
  return rows.sort(newestFirst).map((row) => conversationFromRow(workspace, row));
}

/**
 * The person's open conversation with the latest activity, across every contact merged into them.
 * Asked by the family's contact ids, named outright (read here when the caller does not have them): a
 * join from the person's contacts left the plan to the statistics, and PostgreSQL without them (a young
 * store, before autovacuum's first ANALYZE) read every open conversation of the workspace for it, even
 * through conversations_contact_open (1,600 rows a message in bench (h)). One probe per id (eachId): with
 * `contact_id IN (two ids)` SQLite chose the (workspace, status) index instead and read every open
 * conversation of the workspace for each merged person's message. The latest is picked here
 * rather than by ORDER BY ... LIMIT 1, which tempted both planners to walk an index of the whole
 * workspace backwards.
 */
export async function openConversation(db: SqlExecutor, workspace: string, rootId: string, knownIds?: readonly string[]): Promise<ConversationRow | undefined> {
  const ids = knownIds ?? (await familyContactIds(db, workspace, rootId));
  if (!ids.length) return undefined;
  const query = eachId(ids, "SELECT * FROM conversations WHERE workspace = ? AND status = 'open' AND contact_id = ?", [workspace]);
  const rows = await db.all<ConversationRow>(query.sql, query.params);
  return rows.sort(newestFirst)[0];
}

export async function getConversationRow(db: SqlExecutor, workspace: string, id: string): Promise<(ConversationRow & { root_id: string }) | undefined> {
  return db.get<ConversationRow & { root_id: string }>(
    `SELECT cv.*, c.root_id FROM conversations cv JOIN contacts c ON c.workspace = cv.workspace AND c.id = cv.contact_id
      WHERE cv.workspace = ? AND cv.id = ?`,
    [workspace, id],
  );
}

export async function createConversation(db: SqlTransaction, workspace: string, contactId: string, at: number, now: number): Promise<ConversationRow> {
  const row: ConversationRow = {
    id: newId('cv', now),
    contact_id: contactId,
    status: 'open',
    channels: '[]',
    last_channel: null,
    message_count: 0,
    opened_at: at,
    last_activity_at: at,
    closed_at: null,
  };
  await db.defer(
    `INSERT INTO conversations (workspace, id, contact_id, status, channels, last_channel, message_count, opened_at, last_activity_at, closed_at)
     VALUES (?, ?, ?, 'open', '[]', NULL, 0, ?, ?, NULL)`,
    [workspace, row.id, contactId, at, at],
  );
  return row;
}

export async function closeConversation(db: SqlTransaction, workspace: string, id: string, status: 'resolved' | 'idle', at: number): Promise<void> {
  await db.defer(`UPDATE conversations SET status = ?, closed_at = ? WHERE workspace = ? AND id = ? AND status = 'open'`, [status, at, workspace, id]);
}

/**
 * Counts a message into the conversation: its channels, last channel and activity time. An interaction (a
 * button pressed) is activity but not a message: `countMessage` false. The customer's words (inbound) start
 * the wait the desk shows, unless it already runs; ours (outbound) end it.
 */
export async function touchConversation(
  db: SqlExecutor,
  workspace: string,
  row: ConversationRow,
  channel: string,
  at: number,
  /** `neutral`: a message nobody needs to answer (a CSAT score): the wait is left as it is. */
  options: { countMessage?: boolean; direction: 'inbound' | 'outbound' | 'neutral' },
): Promise<ConversationRow> {
  const { sql, params } = touchStatement(workspace, row, channel, at, options);
  return touchedRow(row, await db.get<ConversationRow>(sql, params));
}

/** touchConversation's UPDATE, which returns the conversation as it now stands: nobody has to read it again. */
export function touchStatement(
  workspace: string,
  row: ConversationRow,
  channel: string,
  at: number,
  options: { countMessage?: boolean; direction: 'inbound' | 'outbound' | 'neutral' },
): Statement {
  const channels = JSON.parse(row.channels) as string[];
  if (!channels.includes(channel)) channels.push(channel);
  const waiting = options.direction === 'inbound' ? 'COALESCE(waiting_since, ?)' : options.direction === 'outbound' ? 'NULL' : 'waiting_since';
  return {
    sql: `UPDATE conversations SET channels = ?, last_channel = ?, message_count = message_count + ${options.countMessage === false ? 0 : 1},
            last_activity_at = CASE WHEN last_activity_at > ? THEN last_activity_at ELSE ? END, waiting_since = ${waiting}
      WHERE workspace = ? AND id = ? RETURNING *`,
    params: [JSON.stringify(channels), channel, at, at, ...(options.direction === 'inbound' ? [at] : []), workspace, row.id],
  };
}

export function touchedRow(row: ConversationRow, updated: Row | undefined): ConversationRow {
  if (!updated) throw new Error(`Conversation ${row.id} is gone`);
  return updated as ConversationRow;
}

export type { ConversationRow };
