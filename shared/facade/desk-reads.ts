/**
 * Reads the desk's inbox and person page share, on a snapshot the caller holds (facade/desk.ts and
 * facade/desk-person.ts open it): a page of conversations' digests, and the newest inbound time per channel.
 */
import { FAMILY_IDS, SqlExecutor, inList } from '../store/driver';
import { HANDOFF_EVENT_KINDS, TimelineEvent } from '../model';
import { eventFromRow } from '../timeline/events';


export interface ConversationDigest {
  lastMessage: TimelineEvent | null;
  lastRoute: TimelineEvent | null;
  handoffEvents: TimelineEvent[];
}

export async function digestsIn(db: SqlExecutor, workspace: string, conversationIds: readonly string[]): Promise<Map<string, ConversationDigest>> {
  const digests = new Map<string, ConversationDigest>();
  const ids = [...new Set(conversationIds)];
  if (!ids.length) return digests;
  type Row = Parameters<typeof eventFromRow>[1];
  const newest = (kinds: string) =>
    `(SELECT e.seq FROM events e WHERE e.workspace = cv.workspace AND e.conversation_id = cv.id AND e.kind IN (${kinds}) ORDER BY e.occurred_at DESC, e.seq DESC LIMIT 1)`;
  const latest = await db.all<{ id: string; message_seq: number | null; route_seq: number | null }>(
    `SELECT cv.id, ${newest(`'message', 'call'`)} AS message_seq, ${newest(`'route_decision'`)} AS route_seq
       FROM conversations cv WHERE cv.workspace = ? AND cv.id IN (${inList(ids)})`,
    [workspace, ...ids],
  );
  const seqs = latest.flatMap((l) => [l.message_seq, l.route_seq]).filter((s): s is number => s !== null && s !== undefined).map(Number);
  const bySeq = new Map<number, TimelineEvent>();
  if (seqs.length) {
    const rows = await db.all<Row>(`SELECT * FROM events WHERE workspace = ? AND seq IN (${inList(seqs)})`, [workspace, ...seqs]);
    for (const row of rows) bySeq.set(Number(row.seq), eventFromRow(workspace, row));
  }
  // Sorted here, not in SQL: an ORDER BY occurred_at makes the planner walk each conversation's events in
  // time order (events_conversation) past thousands of messages; without it, it seeks each handoff kind
  // in events_conversation_kind and reads only the handoff rows.
  const handoffs = (
    await db.all<Row>(`SELECT * FROM events WHERE workspace = ? AND conversation_id IN (${inList(ids)}) AND kind IN (${inList(HANDOFF_EVENT_KINDS)})`, [
      workspace,
      ...ids,
      ...HANDOFF_EVENT_KINDS,
    ])
  ).sort((a, b) => Number(a.occurred_at) - Number(b.occurred_at) || Number(a.seq) - Number(b.seq));
  for (const id of ids) digests.set(id, { lastMessage: null, lastRoute: null, handoffEvents: [] });
  for (const l of latest) {
    const digest = digests.get(l.id)!;
    digest.lastMessage = l.message_seq === null || l.message_seq === undefined ? null : (bySeq.get(Number(l.message_seq)) ?? null);
    digest.lastRoute = l.route_seq === null || l.route_seq === undefined ? null : (bySeq.get(Number(l.route_seq)) ?? null);
  }
  for (const h of handoffs) digests.get(h.conversation_id as string)?.handoffEvents.push(eventFromRow(workspace, h));
  return digests;
}

/**
 * Per channel, the newest inbound message or call since `since` (the start of the longest reply window):
 * exact however many messages came in meanwhile, and a range scan of the person's events of that window only.
 */
export async function lastInboundIn(db: SqlExecutor, workspace: string, rootId: string, since: number): Promise<Map<string, number>> {
  const rows = await db.all<{ channel: string | null; at: number }>(
    `SELECT channel, MAX(occurred_at) AS at FROM events
      WHERE workspace = ? AND contact_id IN (${FAMILY_IDS}) AND occurred_at >= ? AND direction = 'inbound' AND kind IN ('message', 'call')
      GROUP BY channel`,
    [workspace, workspace, rootId, since],
  );
  return new Map(rows.filter((r) => r.channel !== null).map((r) => [r.channel as string, Number(r.at)] as const));
}
