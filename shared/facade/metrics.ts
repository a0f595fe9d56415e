/**
 * The continuity metrics' reading side: on one read snapshot, the conversations that can hold a figure of
 * the period, their events in batches, the previous conversation of each person who opened one in the
 * period (to tell a channel switch that lost the thread) and the roster's kinds. The figures themselves are
 * computed by ../timeline/metrics.ts, the same for both stores.
 *
 * The statements are written once for SQLite and PostgreSQL and lean on migration 6's indexes:
 * conversations_closed and conversations_status_activity find the conversations, events_conversation
 * reads each batch's events in time order.
 */
import { z } from 'zod';
import { ChannelSchema, TimestampSchema, TimelineEvent, parseInput, toMs } from '../model';
import { AgentIdSchema } from '../routing/roster';
import { SqlExecutor, inList } from '../store/driver';
import { ConversationRow, eventFromRow } from '../timeline/events';
import { MetricsAccumulator, MetricsReport, PreviousConversation } from '../timeline/metrics';
import { LATE_EVENT_WINDOW_MS } from '../timeline/metrics-definitions';
import { FacadeContext, assignedFromRow } from './context';

const DAY = 86_400_000;
/** Conversations whose events are read per statement: a few hundred keeps each IN list and each batch small. */
const BATCH = 400;

export const MetricsQueryInputSchema = z
  .object({
    /** Start of the period (included), ISO-8601 or epoch ms. Default: `to` minus 7 days. */
    from: TimestampSchema.optional(),
    /** End of the period (excluded). Default: now, by the facade's clock. */
    to: TimestampSchema.optional(),
    bucket: z.enum(['hour', 'day', 'week']).default('day'),
    /** Only conversations that started on this channel. */
    channel: ChannelSchema.optional(),
    /** Only conversations this agent is responsible for. */
    agentId: AgentIdSchema.optional(),
  })
  .strict();
export type MetricsQueryInput = z.input<typeof MetricsQueryInputSchema>;

type Row = ConversationRow & { root_id: string };
type EventRow = Parameters<typeof eventFromRow>[1];

const SELECT_CONVERSATIONS = `SELECT cv.*, c.root_id FROM conversations cv JOIN contacts c ON c.workspace = cv.workspace AND c.id = cv.contact_id`;

export async function metrics(ctx: FacadeContext, input: MetricsQueryInput = {}): Promise<MetricsReport> {
  const query = parseInput(MetricsQueryInputSchema, input, 'metrics query');
  const now = ctx.clock();
  const to = toMs(query.to, now);
  const from = toMs(query.from, to - 7 * DAY);
  const agentKinds = new Map<string, 'human' | 'ai'>();
  // Validates the period and the number of buckets before anything is read.
  const accumulator = new MetricsAccumulator({ from, to, bucket: query.bucket, channel: query.channel, agentId: query.agentId }, { idleTimeoutMs: ctx.idleTimeoutMs, agentKinds });

  await ctx.driver.read(async (db) => {
    const ws = ctx.workspace;
    // A figure of the period needs a conversation opened before `to` that was still going at `from`; a
    // late CSAT answer can come after it ended, so ended ones are read from LATE_EVENT_WINDOW_MS earlier.
    // An open row that saw nothing for that long has ended in all but name (closed lazily at the next message).
    const since = from - LATE_EVENT_WINDOW_MS;
    const rows = [
      ...(await db.all<Row>(`${SELECT_CONVERSATIONS} WHERE cv.workspace = ? AND cv.closed_at IS NOT NULL AND cv.closed_at >= ? AND cv.opened_at < ?`, [ws, since, to])),
      ...(await db.all<Row>(`${SELECT_CONVERSATIONS} WHERE cv.workspace = ? AND cv.status = 'open' AND cv.last_activity_at >= ? AND cv.opened_at < ?`, [ws, since, to])),
    ].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const agent of await db.all<{ id: string; kind: string }>('SELECT id, kind FROM agents WHERE workspace = ?', [ws])) {
      agentKinds.set(agent.id, agent.kind === 'ai' ? 'ai' : 'human');
    }

    for (let i = 0; i < rows.length; i += BATCH) {
      const batch = rows.slice(i, i + BATCH);
      const events = await eventsOf(db, ws, batch, to);
      const previous = await previousConversations(db, ws, batch.filter((r) => r.opened_at >= from), from - ctx.idleTimeoutMs, to);
      for (const row of batch) {
        accumulator.add({ conversation: assignedFromRow(ws, row), events: events.get(row.id) ?? [], previous: previous.get(row.id) ?? null });
      }
    }
  });
  return accumulator.report(now);
}

/**
 * The batch's events before `to`, by conversation, in time order; and its reopenings after `to`, which
 * keep when a conversation had been resolved (the row forgets it when it reopens).
 */
async function eventsOf(db: SqlExecutor, workspace: string, batch: readonly Row[], to: number): Promise<Map<string, TimelineEvent[]>> {
  const ids = batch.map((r) => r.id);
  const rows = [
    ...(await db.all<EventRow>(`SELECT * FROM events WHERE workspace = ? AND conversation_id IN (${inList(ids)}) AND occurred_at < ? ORDER BY conversation_id, occurred_at, seq`, [
      workspace,
      ...ids,
      to,
    ])),
    ...(await db.all<EventRow>(`SELECT * FROM events WHERE workspace = ? AND conversation_id IN (${inList(ids)}) AND occurred_at >= ? AND kind = 'conversation_reopened'`, [
      workspace,
      ...ids,
      to,
    ])),
  ];
  const byConversation = new Map<string, TimelineEvent[]>();
  for (const row of rows) {
    const event = eventFromRow(workspace, row);
    const list = byConversation.get(event.conversationId!) ?? [];
    list.push(event);
    byConversation.set(event.conversationId!, list);
  }
  return byConversation;
}

/**
 * For each conversation opened in the period, the same person's conversation that ended last before it
 * opened (ended since `endedSince`, the idle timeout before the period): see channelSwitches.
 */
async function previousConversations(db: SqlExecutor, workspace: string, opened: readonly Row[], endedSince: number, to: number): Promise<Map<string, PreviousConversation>> {
  const result = new Map<string, PreviousConversation>();
  const roots = [...new Set(opened.map((r) => r.root_id))];
  if (!roots.length) return result;
  const ended = await db.all<{ id: string; root_id: string; closed_at: number; last_channel: string | null }>(
    `SELECT cv.id, c.root_id, cv.closed_at, cv.last_channel FROM conversations cv JOIN contacts c ON c.workspace = cv.workspace AND c.id = cv.contact_id
      WHERE cv.workspace = ? AND c.root_id IN (${inList(roots)}) AND cv.closed_at IS NOT NULL AND cv.closed_at >= ? AND cv.closed_at < ?`,
    [workspace, ...roots, endedSince, to],
  );
  for (const row of opened) {
    let best: PreviousConversation | undefined;
    for (const p of ended) {
      if (p.root_id !== row.root_id || p.id === row.id || p.closed_at > row.opened_at) continue;
      if (!best || p.closed_at > best.closedAt) best = { id: p.id, closedAt: p.closed_at, lastChannel: p.last_channel };
    }
    if (best) result.set(row.id, best);
  }
  return result;
}
