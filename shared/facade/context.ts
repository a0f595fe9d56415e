/**
 * What every part of the facade shares: the workspace it works in, its rules, its store and its clock,
 * and the few steps every write repeats (locking, finding a person's survivor, the person as callers see
 * them, the delivery log that makes writes idempotent). The facade (../omnithread.ts) owns one context and
 * hands it to the modules of this folder, one per concern.
 */
import { createHash } from 'node:crypto';
import { notFound } from '../errors';
import { ContactView, Identity, handleKey, trustRank } from '../model';
import { Family, HandleRow, contactFromRow, familyWithHandles, getContactRow, identityFromRow } from '../identity/contacts';
import { IdentityRules, sharedReason } from '../identity/rules';
import { SqlDriver, SqlExecutor, SqlTransaction } from '../store/driver';
import { ConversationRow, conversationFromRow, getConversationRow } from '../timeline/events';
import type { AssignedConversation } from './types';

export interface FacadeContext {
  readonly workspace: string;
  readonly rules: IdentityRules;
  readonly driver: SqlDriver;
  /** A conversation with no message for this long ends; the next message opens a new one. */
  readonly idleTimeoutMs: number;
  /** Who automatic actions are logged as in the merge log. */
  readonly actor: string;
  /** The most bytes of a provider's raw payload kept with a message (0: none). */
  readonly rawPayloadLimitBytes: number;
  /** How long an erase waits for the store to purge the deleted bytes before it reports that it could not yet. */
  readonly purgeWaitMs: number;
  /** Milliseconds since the epoch: what writes are stamped with. */
  readonly clock: () => number;
}

export const digest = (...parts: string[]): string => createHash('sha256').update(parts.join('\n')).digest('hex');

/**
 * The raw payload as it is kept: once, and bounded. A payload over the limit is replaced by a note of its
 * size (the parsed message keeps what Omnithread reads of it); with a limit of 0 none is kept.
 */
export function keptRaw(ctx: FacadeContext, raw: unknown): { raw?: unknown } {
  if (raw === undefined || ctx.rawPayloadLimitBytes === 0) return {};
  const json = JSON.stringify(raw);
  if (json === undefined) return {};
  const bytes = Buffer.byteLength(json);
  return bytes <= ctx.rawPayloadLimitBytes ? { raw } : { raw: { omitted: true, bytes, reason: `larger than the raw payload limit of ${ctx.rawPayloadLimitBytes} bytes` } };
}

/**
 * Every write takes the workspace lock: shared for everyday work, exclusive for merges, unmerges and
 * erasure, which rewrite who belongs to whom. Then the keys the work is about.
 */
export async function lockFor(ctx: FacadeContext, tx: SqlTransaction, mode: 'shared' | 'exclusive', keys: readonly string[] = []): Promise<void> {
  await tx.lockScoped(`ws:${ctx.workspace}`, mode, keys.map((k) => `${ctx.workspace}:${k}`));
}

/** The survivor a contact resolves to; NOT_FOUND when there is no such contact. */
export async function rootOf(ctx: FacadeContext, db: SqlExecutor, contactId: string): Promise<string> {
  const row = await getContactRow(db, ctx.workspace, contactId);
  if (!row) throw notFound('Contact', contactId);
  return row.root_id;
}

/**
 * One identity per value: when several records of a merged person hold the same handle, the view shows
 * it once, with the best trust and the whole span it was seen over (the export keeps every record). A
 * value the rules call shared (a landline, a role mailbox) says so.
 */
function foldIdentities(rows: readonly HandleRow[], rules: IdentityRules): Identity[] {
  const byKey = new Map<string, HandleRow>();
  for (const row of rows) {
    const key = handleKey(row);
    const had = byKey.get(key);
    if (!had) {
      byKey.set(key, row);
      continue;
    }
    const best = trustRank(row.trust) > trustRank(had.trust) ? row : had;
    byKey.set(key, {
      ...best,
      first_seen_at: Math.min(had.first_seen_at, row.first_seen_at),
      last_seen_at: Math.max(had.last_seen_at, row.last_seen_at),
    });
  }
  return [...byKey.values()].map((row) => {
    const shared = sharedReason(rules, row.kind, row.value);
    return shared ? { ...identityFromRow(row), shared } : identityFromRow(row);
  });
}

/** A person as callers see them: the survivor, with every identity of every contact merged into it. */
export async function contactView(ctx: FacadeContext, db: SqlExecutor, rootId: string): Promise<ContactView> {
  return contactViewOf(ctx, await familyWithHandles(db, ctx.workspace, rootId), rootId);
}

/** contactView from a family read (with familyWithHandlesStatement) among other statements. */
export function contactViewOf(ctx: FacadeContext, { contacts, handles }: Family, rootId: string): ContactView {
  if (!contacts.length) throw notFound('Contact', rootId);
  const [root, ...merged] = contacts;
  return {
    ...contactFromRow(ctx.workspace, root),
    name: root.name ?? merged.find((m) => m.name)?.name ?? null,
    identities: foldIdentities(handles, ctx.rules),
    mergedContactIds: merged.map((m) => m.id),
  };
}

/** The delivery log: what a dedupe key recorded before (its event may since have been erased: null). */
export function delivery(ctx: FacadeContext, db: SqlExecutor | SqlDriver, dedupeKey: string): Promise<{ event_id: string | null } | undefined> {
  const sql = 'SELECT event_id FROM deliveries WHERE workspace = ? AND dedupe_key = ?';
  return 'readOne' in db ? db.readOne(sql, [ctx.workspace, dedupeKey]) : db.get(sql, [ctx.workspace, dedupeKey]);
}

/**
 * Records a delivery for the event about to be written, unless it was recorded before: then nothing is
 * written and what it recorded is returned. (On PostgreSQL a concurrent claim of the same key waits for
 * the first transaction to end.)
 */
export async function claimDelivery(ctx: FacadeContext, tx: SqlExecutor, dedupeKey: string, eventId: string, now: number): Promise<{ event_id: string | null } | undefined> {
  const claimed = await tx.run('INSERT INTO deliveries (workspace, dedupe_key, event_id, recorded_at) VALUES (?, ?, ?, ?) ON CONFLICT (workspace, dedupe_key) DO NOTHING', [
    ctx.workspace,
    dedupeKey,
    eventId,
    now,
  ]);
  return claimed ? undefined : ((await delivery(ctx, tx, dedupeKey)) ?? { event_id: null });
}

/** A claimed delivery turned out to be a message recorded under another event: the log points at that one. */
export async function pointDelivery(ctx: FacadeContext, tx: SqlTransaction, dedupeKey: string, eventId: string): Promise<void> {
  await tx.defer('UPDATE deliveries SET event_id = ? WHERE workspace = ? AND dedupe_key = ?', [eventId, ctx.workspace, dedupeKey]);
}

export async function remember(ctx: FacadeContext, tx: SqlExecutor, dedupeKey: string, eventId: string, now: number): Promise<void> {
  await tx.run('INSERT INTO deliveries (workspace, dedupe_key, event_id, recorded_at) VALUES (?, ?, ?, ?)', [ctx.workspace, dedupeKey, eventId, now]);
}

/** A conversation of this person; NOT_FOUND when it is someone else's or does not exist. */
export async function conversationOf(ctx: FacadeContext, db: SqlExecutor, rootId: string, conversationId: string): Promise<ConversationRow & { root_id: string }> {
  const row = await getConversationRow(db, ctx.workspace, conversationId);
  if (!row || row.root_id !== rootId) throw notFound('Conversation of this contact', conversationId);
  return row;
}

export const assignedFromRow = (workspace: string, row: ConversationRow): AssignedConversation => {
  const at = row.assigned_at === null || row.assigned_at === undefined ? null : new Date(Number(row.assigned_at)).toISOString();
  return { ...conversationFromRow(workspace, row), assignedAgentId: (row.assigned_agent_id as string | null) ?? null, assignedAt: at };
};
