/**
 * Reading a person's history (the timeline, conversations, transcript, newest inbound messages), and the
 * privacy operations over all of it: export (a data subject access request) and erasure.
 */
import { notFound } from '../errors';
import { Conversation, TimelineEvent, parseInput } from '../model';
import { contactFromRow, familyHandles, familyRows, handleOwners, listSuggestions, mergesOfFamily } from '../identity/contacts';
import { SqlExecutor, inList } from '../store/driver';
import {
  TimelineFilter,
  TimelineFilterSchema,
  TimelinePage,
  closeConversation,
  conversationFromRow,
  familyConversations,
  getConversationRow,
  getEvent as readEvent,
  queryTimeline,
  recentInbound as newestInbound,
} from '../timeline/events';
import { Transcript, TranscriptOptions, buildTranscript } from '../timeline/transcript';
import { FacadeContext, contactView, lockFor, rootOf } from './context';
import { needlesFor, scrubValues } from './scrub';
import type { ContactExport, EraseReport } from './types';

/** The person's events across every channel and every contact merged into them, one page at a time. */
export async function timeline(ctx: FacadeContext, contactId: string, filter: TimelineFilter = {}): Promise<TimelinePage> {
  const parsed = parseInput(TimelineFilterSchema, filter, 'timeline filter');
  return ctx.driver.read(async (db) => queryTimeline(db, ctx.workspace, await rootOf(ctx, db, contactId), parsed));
}

export async function conversations(ctx: FacadeContext, contactId: string): Promise<Conversation[]> {
  return ctx.driver.read(async (db) => familyConversations(db, ctx.workspace, await rootOf(ctx, db, contactId)));
}

/** One conversation by id, with the person (root contact) it belongs to; NOT_FOUND when it is not in this workspace. */
export async function getConversation(ctx: FacadeContext, conversationId: string): Promise<{ conversation: Conversation; contactId: string }> {
  const row = await ctx.driver.read((db) => getConversationRow(db, ctx.workspace, conversationId));
  if (!row) throw notFound('Conversation', conversationId);
  return { conversation: conversationFromRow(ctx.workspace, row), contactId: row.root_id };
}

/** One timeline event by id (any kind), or undefined. */
export async function getEvent(ctx: FacadeContext, eventId: string): Promise<TimelineEvent | undefined> {
  return ctx.driver.read((db) => readEvent(db, ctx.workspace, eventId));
}

/** Marks a conversation resolved: the episode ends and the next message opens a new one. */
export async function resolveConversation(ctx: FacadeContext, conversationId: string): Promise<Conversation> {
  const now = ctx.clock();
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'shared');
    const row = await getConversationRow(tx, ctx.workspace, conversationId);
    if (!row) throw notFound('Conversation', conversationId);
    await closeConversation(tx, ctx.workspace, conversationId, 'resolved', now);
    return conversationFromRow(ctx.workspace, (await getConversationRow(tx, ctx.workspace, conversationId))!);
  });
}

/** The history as text for a person or an LLM prompt, within a token budget. */
export async function transcript(ctx: FacadeContext, contactId: string, options: TranscriptOptions = {}): Promise<Transcript> {
  return ctx.driver.read(async (db) => {
    const rootId = await rootOf(ctx, db, contactId);
    return buildTranscript(await contactView(ctx, db, rootId), await familyConversations(db, ctx.workspace, rootId), await allEvents(ctx, db, rootId), options);
  });
}

/** The person's newest inbound messages and calls across every channel, newest first. */
export async function recentInbound(ctx: FacadeContext, contactId: string, limit = 200): Promise<TimelineEvent[]> {
  return ctx.driver.read(async (db) => newestInbound(db, ctx.workspace, await rootOf(ctx, db, contactId), limit));
}

async function allEvents(ctx: FacadeContext, db: SqlExecutor, rootId: string): Promise<TimelineEvent[]> {
  const events: TimelineEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await queryTimeline(db, ctx.workspace, rootId, TimelineFilterSchema.parse({ limit: 1000, cursor }));
    events.push(...page.events);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return events;
}

/** Everything we hold about a person, as JSON (a data subject access request). */
export async function exportContact(ctx: FacadeContext, contactId: string): Promise<ContactExport> {
  return ctx.driver.read(async (db) => {
    const rootId = await rootOf(ctx, db, contactId);
    const rows = await familyRows(db, ctx.workspace, rootId);
    const ids = rows.map((r) => r.id);
    return {
      exportedAt: new Date(ctx.clock()).toISOString(),
      workspace: ctx.workspace,
      contact: await contactView(ctx, db, rootId),
      records: rows.map((r) => contactFromRow(ctx.workspace, r)),
      conversations: await familyConversations(db, ctx.workspace, rootId),
      events: await allEvents(ctx, db, rootId),
      merges: await mergesOfFamily(db, ctx.workspace, ids),
      suggestions: await listSuggestions(db, ctx.workspace, { contactIds: ids, limit: 10_000 }),
    };
  });
}

/**
 * Erases a person (right to be forgotten): the contact, everyone merged into it, their identities,
 * conversations, events, merge log entries and suggestions, and their values where another contact
 * merely claimed them (an asserted handle: someone typed this person's email); their values are then
 * scrubbed from every other row (facade/scrub.ts). Delivery records keep only a hash of the provider
 * message id, so a late redelivery is recognised and does not bring the person back. Last, the store
 * purges the deleted bytes from its files (report.purge says whether it could finish).
 */
/** The tables an erase deletes from or scrubs: what the store's purge works on. */
const ERASE_TABLES = ['events', 'conversations', 'handles', 'merges', 'merge_suggestions', 'contacts', 'deliveries'];

export async function eraseContact(ctx: FacadeContext, contactId: string): Promise<EraseReport> {
  const report = await ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'exclusive');
    const rootId = await rootOf(ctx, tx, contactId);
    const ids = (await familyRows(tx, ctx.workspace, rootId)).map((r) => r.id);
    const list = inList(ids);
    const ws = ctx.workspace;
    await tx.run(
      `UPDATE deliveries SET event_id = NULL WHERE workspace = ? AND event_id IN (SELECT id FROM events WHERE workspace = ? AND contact_id IN (${list}))`,
      [ws, ws, ...ids],
    );
    // Their values held by other contacts: claims (asserted) go, values those people use themselves stay.
    const ownValues = await familyHandles(tx, ws, rootId);
    const holders = [...(await handleOwners(tx, ws, ownValues)).values()].flat().filter((h) => !ids.includes(h.contact_id));
    const claims = holders.filter((h) => h.trust === 'asserted');
    // Their values everywhere else (someone typed their email, a group payload names them), except values
    // other people use as their own (a shared family phone): those identify them too.
    const keptAsOwn = new Set(holders.filter((h) => h.trust !== 'asserted').map((h) => `${h.kind}\u0000${h.value}`));
    const scrubbed = await scrubValues(
      tx,
      ws,
      ids,
      needlesFor(ownValues.filter((h) => !keptAsOwn.has(`${h.kind}\u0000${h.value}`))),
    );
    for (const claim of claims) {
      await tx.run('DELETE FROM handles WHERE workspace = ? AND kind = ? AND scope = ? AND value = ? AND contact_id = ?', [ws, claim.kind, claim.scope, claim.value, claim.contact_id]);
    }
    const deleted = {
      claimsByOthers: claims.length,
      events: await tx.run(`DELETE FROM events WHERE workspace = ? AND contact_id IN (${list})`, [ws, ...ids]),
      conversations: await tx.run(`DELETE FROM conversations WHERE workspace = ? AND contact_id IN (${list})`, [ws, ...ids]),
      handles: await tx.run(`DELETE FROM handles WHERE workspace = ? AND contact_id IN (${list})`, [ws, ...ids]),
      merges: await tx.run(`DELETE FROM merges WHERE workspace = ? AND (survivor_id IN (${list}) OR merged_id IN (${list}))`, [ws, ...ids, ...ids]),
      suggestions: await tx.run(`DELETE FROM merge_suggestions WHERE workspace = ? AND (contact_a IN (${list}) OR contact_b IN (${list}))`, [ws, ...ids, ...ids]),
      contacts: await tx.run(`DELETE FROM contacts WHERE workspace = ? AND id IN (${list})`, [ws, ...ids]),
    };
    return { contactId: rootId, erasedContactIds: ids, deleted, scrubbed, sharedHandlesKept: holders.length - claims.length };
  });
  return { ...report, purge: await ctx.driver.purgeDeleted({ tables: ERASE_TABLES, waitMs: ctx.purgeWaitMs }) };
}

/**
 * Durable cursors for pollers (an IMAP mailbox's UIDVALIDITY and last UID, say), kept in the store so a
 * restart, or another worker on the same PostgreSQL store, continues where the last poll stopped.
 * Values are JSON.
 */
export function cursors(ctx: FacadeContext): { load<T>(key: string): Promise<T | undefined>; save<T>(key: string, value: T): Promise<void> } {
  return {
    load: async <T>(key: string) => {
      const row = await ctx.driver.read((db) => db.get<{ value: string }>('SELECT value FROM cursors WHERE workspace = ? AND key = ?', [ctx.workspace, key]));
      return row ? (JSON.parse(row.value) as T) : undefined;
    },
    save: async <T>(key: string, value: T) => {
      const now = ctx.clock();
      await ctx.driver.transaction((tx) =>
        tx.run(
          `INSERT INTO cursors (workspace, key, value, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (workspace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
          [ctx.workspace, key, JSON.stringify(value), now],
        ),
      );
    },
  };
}
