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
  /** Per channel, the newest inbound message or call among the person's latest 200. */
  lastInbound: Map<string, number>;
  /** The handoff events of each open conversation, oldest first. */
  openHandoffs: Map<string, TimelineEvent[]>;
}

export function personSnapshot(ctx: FacadeContext, rootId: string, options: { before?: string; limit: number }): Promise<PersonSnapshot> {
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
    return {
      contact,
      merges: await mergesOfFamily(db, ctx.workspace, ids),
      suggestions: await listSuggestions(db, ctx.workspace, { status: 'open', contactIds: ids, limit: 100 }),
      conversations,
      page: await queryTimeline(db, ctx.workspace, contact.id, filter),
      lastInbound: await lastInboundIn(db, ctx.workspace, contact.id, 200),
      openHandoffs: new Map(openIds.map((id) => [id, digests.get(id)?.handoffEvents ?? []] as const)),
    };
  });
}
