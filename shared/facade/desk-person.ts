/**
 * Everything the desk's person page reads, on one read snapshot: the person with every identity, the merge
 * log, open suggestions, conversations with their assignment, a page of the timeline (newest first), the
 * newest inbound time per channel (reply windows) and the handoff events of the open conversations. One
 * snapshot is both faster (one transaction, not ten) and consistent: no merge or message landing between
 * two reads can make the page contradict itself.
 */
import type { ContactView, TimelineEvent } from '../model';
import { parseInput } from '../model';
import { familyRows, listSuggestions, mergesOfFamily } from '../identity/contacts';
import type { MergeRecord, MergeSuggestion } from '../identity/contacts';
import { FAMILY_IDS } from '../store/driver';
import { ConversationRow, TimelineFilterSchema, TimelinePage, queryTimeline } from '../timeline/events';
import { FacadeContext, assignedFromRow, contactView } from './context';
import { digestsIn, lastInboundIn } from './desk-reads';
import type { AssignedConversation } from './types';

export interface PersonSnapshot {
  contact: ContactView;
  merges: MergeRecord[];
  suggestions: MergeSuggestion[];
  /** Latest activity first. */
  conversations: AssignedConversation[];
  page: TimelinePage;
  /** Per channel, the newest inbound message or call: exact for every channel heard from within the longest reply window. */
  lastInbound: Map<string, number>;
  /** The handoff events of each open conversation, oldest first. */
  openHandoffs: Map<string, TimelineEvent[]>;
}

/**
 * The newest inbound time per channel, from the first page alone when that is enough to judge every reply
 * window: the page is the whole history, or it reaches back past the longest window (a channel missing from
 * it was last heard from before that, so its window is closed either way). Otherwise undefined: read it.
 */
function windowsFromPage(page: TimelinePage, now: number, windowMs: number): Map<string, number> | undefined {
  const oldest = page.events[page.events.length - 1];
  if (page.nextCursor && oldest && Date.parse(oldest.occurredAt) > now - windowMs) return undefined;
  const newest = new Map<string, number>();
  for (const e of page.events) {
    if (e.direction !== 'inbound' || (e.kind !== 'message' && e.kind !== 'call') || !e.channel) continue;
    const at = Date.parse(e.occurredAt);
    if (at > (newest.get(e.channel) ?? -Infinity)) newest.set(e.channel, at);
  }
  return newest;
}

export function personSnapshot(ctx: FacadeContext, rootId: string, options: { before?: string; limit: number; windowMs: number }): Promise<PersonSnapshot> {
  const filter = parseInput(TimelineFilterSchema, { order: 'newest-first', limit: options.limit, ...(options.before ? { cursor: options.before } : {}) }, 'timeline page');
  return ctx.driver.read(async (db) => {
    const contact = await contactView(ctx, db, rootId);
    const ids = (await familyRows(db, ctx.workspace, contact.id)).map((r) => r.id);
    const rows = await db.all<ConversationRow>(
      `SELECT * FROM conversations WHERE workspace = ? AND contact_id IN (${FAMILY_IDS}) ORDER BY last_activity_at DESC, id DESC`,
      [ctx.workspace, ctx.workspace, contact.id],
    );
    const conversations = rows.map((row) => assignedFromRow(ctx.workspace, row));
    const openIds = conversations.filter((c) => c.status === 'open').map((c) => c.id);
    const digests = await digestsIn(db, ctx.workspace, openIds);
    const page = await queryTimeline(db, ctx.workspace, contact.id, filter);
    return {
      contact,
      merges: await mergesOfFamily(db, ctx.workspace, ids),
      suggestions: await listSuggestions(db, ctx.workspace, { status: 'open', contactIds: ids, limit: 100 }),
      conversations,
      page,
      lastInbound: (!options.before && windowsFromPage(page, ctx.clock(), options.windowMs)) || (await lastInboundIn(db, ctx.workspace, contact.id, ctx.clock() - options.windowMs)),
      openHandoffs: new Map(openIds.map((id) => [id, digests.get(id)?.handoffEvents ?? []] as const)),
    };
  });
}
