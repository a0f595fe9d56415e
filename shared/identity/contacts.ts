/**
 * Contacts, their handles, the merge log and merge suggestions in SQL. A merged contact keeps its own
 * rows and points at its survivor (merged_into); root_id caches the end of that chain so that "everything
 * of this person" is one indexed lookup, and unmerging only has to reset pointers.
 */
import { Contact, Handle, HandleKind, Identity, Trust, handleKey, toIso } from '../model';
import { newId } from '../ids';
import { notFound } from '../errors';
import { FAMILY_IDS, Row, SqlExecutor, SqlParam, SqlTransaction, Statement, inList } from '../store/driver';
import { insertEvent } from '../timeline/events';

export interface ContactRow {
  [column: string]: unknown;
  id: string;
  root_id: string;
  merged_into: string | null;
  name: string | null;
  attributes: string;
  created_at: number;
  updated_at: number;
}

export interface HandleRow {
  [column: string]: unknown;
  kind: HandleKind;
  scope: string;
  value: string;
  contact_id: string;
  trust: Trust;
  first_seen_at: number;
  last_seen_at: number;
}

/** A handle row together with the survivor its contact currently resolves to. */
export interface OwnedHandleRow extends HandleRow {
  root_id: string;
}

export const contactFromRow = (workspace: string, row: ContactRow): Contact => ({
  id: row.id,
  workspace,
  name: row.name,
  attributes: JSON.parse(row.attributes) as Record<string, unknown>,
  mergedInto: row.merged_into,
  createdAt: toIso(row.created_at),
  updatedAt: toIso(row.updated_at),
});

export const identityFromRow = (row: HandleRow): Identity => ({
  kind: row.kind,
  value: row.value,
  scope: row.scope || null,
  trust: row.trust,
  contactId: row.contact_id,
  firstSeenAt: toIso(row.first_seen_at),
  lastSeenAt: toIso(row.last_seen_at),
});

export async function createContact(db: SqlTransaction, workspace: string, name: string | undefined, now: number): Promise<string> {
  const id = newId('ct', now);
  await db.defer(
    'INSERT INTO contacts (workspace, id, root_id, merged_into, name, attributes, created_at, updated_at) VALUES (?, ?, ?, NULL, ?, ?, ?, ?)',
    [workspace, id, id, name ?? null, '{}', now, now],
  );
  return id;
}

export function getContactRow(db: SqlExecutor, workspace: string, id: string): Promise<ContactRow | undefined> {
  return db.get<ContactRow>('SELECT * FROM contacts WHERE workspace = ? AND id = ?', [workspace, id]);
}

/**
 * Locks the survivor a contact resolves to, so that nobody merges it away or into something else until
 * this transaction ends, and returns it. The lock comes before the read: a contact read as its own
 * survivor under its lock stays one until commit, and a merge that committed before the lock was granted
 * is seen and followed to its new survivor. Callers mostly pass a survivor already (what handleOwners
 * found), so this is one lock and one read. (The lock is a no-op on SQLite, whose write transactions are
 * serial anyway.)
 */
export async function lockRoot(db: SqlTransaction, workspace: string, contactId: string): Promise<string> {
  return (await lockedRoot(db, workspace, contactId, async (id) => [await getContactRow(db, workspace, id), undefined])).root;
}

/**
 * lockRoot, with the survivor's family (its contacts and their handles) read by the same statement: a
 * survivor is the first contact of its own family, so its row comes with it. Only a contact merged away
 * since the caller saw it (its family is empty) costs a read of its row, to follow it to its survivor.
 */
export async function lockRootWithFamily(db: SqlTransaction, workspace: string, contactId: string): Promise<{ root: string; family: Family }> {
  const { root, extra } = await lockedRoot(db, workspace, contactId, async (id) => {
    const family = await familyWithHandles(db, workspace, id);
    const own = family.contacts[0]?.id === id ? family.contacts[0] : await getContactRow(db, workspace, id);
    return [own, family];
  });
  return { root, family: extra };
}

async function lockedRoot<T>(
  db: SqlTransaction,
  workspace: string,
  contactId: string,
  read: (id: string) => Promise<[ContactRow | undefined, T]>,
): Promise<{ root: string; extra: T }> {
  let id = contactId;
  for (;;) {
    await db.lock([`${workspace}:root:${id}`]);
    const [row, extra] = await read(id);
    if (!row) throw notFound('Contact', contactId);
    if (row.root_id === row.id) return { root: row.id, extra };
    id = row.root_id;
  }
}

/** Merges attributes into a contact's (a null value removes that attribute). */
export async function mergeAttributes(db: SqlExecutor, workspace: string, contactId: string, patch: Record<string, unknown>, now: number): Promise<void> {
  const row = await getContactRow(db, workspace, contactId);
  if (!row) throw notFound('Contact', contactId);
  const merged: Record<string, unknown> = { ...(JSON.parse(row.attributes) as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  await db.run('UPDATE contacts SET attributes = ?, updated_at = ? WHERE workspace = ? AND id = ?', [JSON.stringify(merged), now, workspace, contactId]);
}

/** [survivor, merged] for two contacts about to be merged: the older one survives (ties: the smaller id). */
export async function survivorFirst(db: SqlExecutor, workspace: string, a: string, b: string): Promise<[string, string]> {
  const [rowA, rowB] = [await getContactRow(db, workspace, a), await getContactRow(db, workspace, b)];
  const aFirst = rowA!.created_at < rowB!.created_at || (rowA!.created_at === rowB!.created_at && rowA!.id < rowB!.id);
  return aFirst ? [a, b] : [b, a];
}

/** Every contact that resolves to this survivor, the survivor first. */
export async function familyRows(db: SqlExecutor, workspace: string, rootId: string): Promise<ContactRow[]> {
  return familyOrder(await db.all<ContactRow>('SELECT * FROM contacts WHERE workspace = ? AND root_id = ?', [workspace, rootId]), rootId);
}

/** The survivor first, then the contacts merged into it, oldest first (ties: the smaller id). */
const familyOrder = (rows: ContactRow[], rootId: string): ContactRow[] =>
  rows.sort((a, b) => Number(b.id === rootId) - Number(a.id === rootId) || Number(a.created_at) - Number(b.created_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** Handle rows in one order whatever the plan: a person's identities read the same on both stores. */
const byHandle = (rows: HandleRow[]): HandleRow[] => {
  // Sorted here, not in SQL: an ORDER BY would tempt SQLite into walking the whole primary key instead.
  const order = (r: HandleRow) => `${r.kind}\u0000${r.scope}\u0000${r.value}\u0000${String(r.first_seen_at).padStart(16, '0')}`;
  return rows.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
};

/**
 * familyRows and familyHandles in one statement: every contact of the survivor joined with its handles
 * (a contact with none comes once, with null handle columns). Read it with familyFromJoined.
 */
export const familyWithHandlesStatement = (workspace: string, rootId: string): Statement => familyJoinedStatement(workspace, '?', [rootId]);

/** familyWithHandlesStatement for a survivor given as an SQL expression (a subquery) and its parameters. */
export const familyJoinedStatement = (workspace: string, root: string, rootParams: readonly SqlParam[]): Statement => ({
  sql: `SELECT c.id, c.root_id, c.merged_into, c.name, c.attributes, c.created_at, c.updated_at,
            h.kind AS h_kind, h.scope AS h_scope, h.value AS h_value, h.trust AS h_trust, h.first_seen_at AS h_first_seen_at, h.last_seen_at AS h_last_seen_at
       FROM contacts c LEFT JOIN handles h ON h.workspace = c.workspace AND h.contact_id = c.id
      WHERE c.workspace = ? AND c.root_id = ${root}`,
  params: [workspace, ...rootParams],
});

export interface Family {
  /** The survivor first, then the contacts merged into it, oldest first. */
  contacts: ContactRow[];
  handles: HandleRow[];
}

/** The family a familyJoinedStatement read (no rows: no such survivor). */
export function familyFromJoined(rows: readonly Row[]): Family {
  type Joined = ContactRow & { h_kind: HandleKind | null; h_scope: string; h_value: string; h_trust: Trust; h_first_seen_at: number; h_last_seen_at: number };
  const contacts = new Map<string, ContactRow>();
  const handles: HandleRow[] = [];
  for (const row of rows as Joined[]) {
    if (!contacts.has(row.id)) {
      const { id, root_id, merged_into, name, attributes, created_at, updated_at } = row;
      contacts.set(row.id, { id, root_id, merged_into, name, attributes, created_at: Number(created_at), updated_at: Number(updated_at) });
    }
    if (row.h_kind !== null) {
      handles.push({
        kind: row.h_kind,
        scope: row.h_scope,
        value: row.h_value,
        contact_id: row.id,
        trust: row.h_trust,
        first_seen_at: Number(row.h_first_seen_at),
        last_seen_at: Number(row.h_last_seen_at),
      });
    }
  }
  const rootId = (rows[0] as Joined | undefined)?.root_id ?? '';
  return { contacts: familyOrder([...contacts.values()], rootId), handles: byHandle(handles) };
}

export async function familyWithHandles(db: SqlExecutor, workspace: string, rootId: string): Promise<Family> {
  const { sql, params } = familyWithHandlesStatement(workspace, rootId);
  return familyFromJoined(await db.all(sql, params));
}

export async function familyHandles(db: SqlExecutor, workspace: string, rootId: string): Promise<HandleRow[]> {
  const rows = await db.all<HandleRow>(
    `SELECT kind, scope, value, contact_id, trust, first_seen_at, last_seen_at FROM handles WHERE workspace = ? AND contact_id IN (${FAMILY_IDS})`,
    [workspace, workspace, rootId],
  );
  return byHandle(rows);
}

/** Who holds each of these handles now (any number of contacts may hold one value). */
export async function handleOwners(db: SqlExecutor, workspace: string, handles: readonly Handle[]): Promise<Map<string, OwnedHandleRow[]>> {
  const owners = new Map<string, OwnedHandleRow[]>();
  if (!handles.length) return owners;
  // One primary-key probe per handle, as a UNION ALL of equalities: both databases plan each branch as an
  // index probe whatever their statistics. A row-value IN (VALUES ...) list did that on SQLite, but on a
  // young PostgreSQL store (before its first ANALYZE) it compared every handle with every contact: 120 ms
  // at 1,000 handles, against 0.26 ms once analysed.
  const params: SqlParam[] = [];
  const branch = `SELECT h.kind, h.scope, h.value, h.contact_id, h.trust, h.first_seen_at, h.last_seen_at, c.root_id
       FROM handles h JOIN contacts c ON c.workspace = h.workspace AND c.id = h.contact_id
      WHERE h.workspace = ? AND h.kind = ? AND h.scope = ? AND h.value = ?`;
  const distinct = [...new Map(handles.map((h) => [handleKey(h), h])).values()];
  const branches = distinct.map((h) => {
    params.push(workspace, h.kind, h.scope, h.value);
    return branch;
  });
  const rows = await db.all<OwnedHandleRow>(branches.join('\n UNION ALL\n'), params);
  for (const row of rows) {
    const key = handleKey(row);
    owners.set(key, [...(owners.get(key) ?? []), row]);
  }
  return owners;
}

/** Adds a handle to a contact, or refreshes it: last seen moves on and trust only ever goes up. */
export async function upsertHandle(db: SqlTransaction, workspace: string, contactId: string, handle: Handle, now: number): Promise<void> {
  await upsertHandles(db, workspace, [{ contactId, handle }], now);
}

/** upsertHandle for several (contact, handle) pairs in one statement. */
export async function upsertHandles(db: SqlTransaction, workspace: string, pairs: readonly { contactId: string; handle: Handle }[], now: number): Promise<void> {
  // One row per (handle, contact): PostgreSQL refuses an upsert that would touch a row twice.
  const distinct = [...new Map(pairs.map((p) => [`${handleKey(p.handle)}\u0000${p.contactId}`, p])).values()];
  if (!distinct.length) return;
  await db.defer(
    `INSERT INTO handles (workspace, kind, scope, value, contact_id, trust, first_seen_at, last_seen_at)
     VALUES ${distinct.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
     ON CONFLICT (workspace, kind, scope, value, contact_id) DO UPDATE SET
       last_seen_at = CASE WHEN excluded.last_seen_at > handles.last_seen_at THEN excluded.last_seen_at ELSE handles.last_seen_at END,
       trust = CASE WHEN excluded.trust = 'verified' OR (excluded.trust = 'channel' AND handles.trust = 'asserted') THEN excluded.trust ELSE handles.trust END`,
    distinct.flatMap(({ contactId, handle }) => [workspace, handle.kind, handle.scope, handle.value, contactId, handle.trust, now, now]),
  );
}

export interface MergeRecord {
  id: string;
  survivorId: string;
  mergedId: string;
  rule: string;
  evidence: Record<string, unknown>;
  actor: string;
  createdAt: string;
  undoneAt: string | null;
  undoneBy: string | null;
}

interface MergeRow {
  [column: string]: unknown;
  id: string;
  survivor_id: string;
  merged_id: string;
  rule: string;
  evidence: string;
  actor: string;
  created_at: number;
  undone_at: number | null;
  undone_by: string | null;
}

export const mergeFromRow = (row: MergeRow): MergeRecord => ({
  id: row.id,
  survivorId: row.survivor_id,
  mergedId: row.merged_id,
  rule: row.rule,
  evidence: JSON.parse(row.evidence) as Record<string, unknown>,
  actor: row.actor,
  createdAt: toIso(row.created_at),
  undoneAt: row.undone_at === null ? null : toIso(row.undone_at),
  undoneBy: row.undone_by,
});

/**
 * Soft-merges one survivor into another: nothing is moved or rewritten, the merged contact (and
 * everything already merged into it) now resolves to the survivor. Logged with rule, evidence and actor.
 */
export async function mergeRoots(
  db: SqlExecutor,
  workspace: string,
  survivorId: string,
  mergedId: string,
  log: { rule: string; evidence: Record<string, unknown>; actor: string },
  now: number,
): Promise<MergeRecord> {
  const id = newId('mg', now);
  await db.run('UPDATE contacts SET merged_into = ?, updated_at = ? WHERE workspace = ? AND id = ?', [survivorId, now, workspace, mergedId]);
  await db.run('UPDATE contacts SET root_id = ? WHERE workspace = ? AND root_id = ?', [survivorId, workspace, mergedId]);
  await db.run(
    'INSERT INTO merges (workspace, id, survivor_id, merged_id, rule, evidence, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [workspace, id, survivorId, mergedId, log.rule, JSON.stringify(log.evidence), log.actor, now],
  );
  // The merge shows on the survivor's timeline; an unmerge removes it again (the merge log keeps the history).
  await insertEvent(
    db,
    workspace,
    {
      id: mergeEventId(id),
      contactId: survivorId,
      conversationId: null,
      kind: 'merge',
      text: `${mergedId} was merged into ${survivorId}`,
      occurredAt: now,
      data: { mergeId: id, mergedContactId: mergedId, rule: log.rule },
    },
    now,
  );
  // A suggestion about these two is answered by the merge.
  await db.run(
    `UPDATE merge_suggestions SET status = 'accepted', updated_at = ?
      WHERE workspace = ? AND status = 'open' AND contact_a IN (?, ?) AND contact_b IN (?, ?)`,
    // Both orders of the pair (a suggestion never pairs a contact with itself), as two IN lists that seek
    // suggestions_open_pair: an OR of the two orders made SQLite read every open suggestion of the workspace.
    [now, workspace, survivorId, mergedId, survivorId, mergedId],
  );
  return { id, survivorId, mergedId, rule: log.rule, evidence: log.evidence, actor: log.actor, createdAt: toIso(now), undoneAt: null, undoneBy: null };
}

const mergeEventId = (mergeId: string): string => `ev_${mergeId}`;

export async function getMerge(db: SqlExecutor, workspace: string, id: string): Promise<MergeRecord | undefined> {
  const row = await db.get<MergeRow>('SELECT * FROM merges WHERE workspace = ? AND id = ?', [workspace, id]);
  return row && mergeFromRow(row);
}

/** The merge that folded this contact into another and has not been undone. */
export async function activeMergeOf(db: SqlExecutor, workspace: string, mergedId: string): Promise<MergeRecord | undefined> {
  const row = await db.get<MergeRow>(
    'SELECT * FROM merges WHERE workspace = ? AND merged_id = ? AND undone_at IS NULL ORDER BY created_at DESC LIMIT 1',
    [workspace, mergedId],
  );
  return row && mergeFromRow(row);
}

export async function mergesOfFamily(db: SqlExecutor, workspace: string, ids: readonly string[]): Promise<MergeRecord[]> {
  if (!ids.length) return [];
  // Two indexed halves: `survivor_id IN (...) OR merged_id IN (...)` made SQLite read every merge of the workspace.
  const rows = await db.all<MergeRow>(
    `SELECT * FROM merges WHERE workspace = ? AND survivor_id IN (${inList(ids)})
     UNION SELECT * FROM merges WHERE workspace = ? AND merged_id IN (${inList(ids)}) ORDER BY created_at, id`,
    [workspace, ...ids, workspace, ...ids],
  );
  return rows.map(mergeFromRow);
}

/**
 * Undoes a merge exactly: the merged contact (with whatever had been merged into it) becomes its own
 * survivor again, with the handles and events it had; nothing else changes.
 */
export async function undoMerge(db: SqlExecutor, workspace: string, merge: MergeRecord, actor: string, now: number): Promise<void> {
  await db.run('UPDATE contacts SET merged_into = NULL, root_id = ?, updated_at = ? WHERE workspace = ? AND id = ?', [
    merge.mergedId,
    now,
    workspace,
    merge.mergedId,
  ]);
  // Contacts merged into the merged one (directly or not) follow it back out.
  let frontier = [merge.mergedId];
  while (frontier.length) {
    const children = await db.all<{ id: string }>(
      `SELECT id FROM contacts WHERE workspace = ? AND merged_into IN (${inList(frontier)})`,
      [workspace, ...frontier],
    );
    frontier = children.map((c) => c.id);
    if (frontier.length) {
      await db.run(`UPDATE contacts SET root_id = ? WHERE workspace = ? AND id IN (${inList(frontier)})`, [merge.mergedId, workspace, ...frontier]);
    }
  }
  await db.run('UPDATE merges SET undone_at = ?, undone_by = ? WHERE workspace = ? AND id = ?', [now, actor, workspace, merge.id]);
  await db.run('DELETE FROM events WHERE workspace = ? AND id = ?', [workspace, mergeEventId(merge.id)]);
}

// ---------------------------------------------------------------------------------------------
// Merge suggestions
// ---------------------------------------------------------------------------------------------

export interface MergeSuggestion {
  id: string;
  /** The two contacts as recorded, and the survivors they resolve to now. */
  contactIds: [string, string];
  reason: string;
  evidence: Record<string, unknown>;
  status: 'open' | 'accepted' | 'dismissed';
  createdAt: string;
  updatedAt: string;
}

interface SuggestionRow {
  [column: string]: unknown;
  id: string;
  contact_a: string;
  contact_b: string;
  reason: string;
  evidence: string;
  status: MergeSuggestion['status'];
  created_at: number;
  updated_at: number;
}

export const suggestionFromRow = (row: SuggestionRow): MergeSuggestion => ({
  id: row.id,
  contactIds: [row.contact_a, row.contact_b],
  reason: row.reason,
  evidence: JSON.parse(row.evidence) as Record<string, unknown>,
  status: row.status,
  createdAt: toIso(row.created_at),
  updatedAt: toIso(row.updated_at),
});

/**
 * Records a suggestion to merge two contacts, once per pair: an open one is returned as it is, and a pair
 * a person already dismissed is not suggested again (status 'dismissed', nothing written).
 */
export async function suggestMerge(
  db: SqlExecutor,
  workspace: string,
  a: string,
  b: string,
  reason: string,
  evidence: Record<string, unknown>,
  now: number,
): Promise<{ id: string; status: 'open' | 'dismissed' }> {
  const [first, second] = a < b ? [a, b] : [b, a];
  const dismissed = await db.get<{ id: string }>(
    `SELECT id FROM merge_suggestions WHERE workspace = ? AND contact_a = ? AND contact_b = ? AND status = 'dismissed' LIMIT 1`,
    [workspace, first, second],
  );
  if (dismissed) return { id: dismissed.id, status: 'dismissed' };
  const id = newId('sg', now);
  await db.run(
    `INSERT INTO merge_suggestions (workspace, id, contact_a, contact_b, reason, evidence, status, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)
     ON CONFLICT (workspace, contact_a, contact_b) WHERE status = 'open' DO NOTHING`,
    [workspace, id, first, second, reason, JSON.stringify(evidence), now, now],
  );
  const row = await db.get<{ id: string }>(
    `SELECT id FROM merge_suggestions WHERE workspace = ? AND contact_a = ? AND contact_b = ? AND status = 'open'`,
    [workspace, first, second],
  );
  return { id: row?.id ?? id, status: 'open' };
}

export async function listSuggestions(
  db: SqlExecutor,
  workspace: string,
  filter: { status?: MergeSuggestion['status']; contactIds?: readonly string[]; limit: number },
): Promise<MergeSuggestion[]> {
  const base: SqlParam[] = [workspace];
  let where = 'workspace = ?';
  if (filter.status) {
    where += ' AND status = ?';
    base.push(filter.status);
  }
  const ids = filter.contactIds ?? [];
  // A person's suggestions in two indexed halves (suggestions_a, suggestions_b): `contact_a IN (...) OR
  // contact_b IN (...)` made SQLite read every suggestion of the workspace.
  const { sql, params } = ids.length
    ? {
        sql: `SELECT * FROM merge_suggestions WHERE ${where} AND contact_a IN (${inList(ids)})
              UNION SELECT * FROM merge_suggestions WHERE ${where} AND contact_b IN (${inList(ids)})`,
        params: [...base, ...ids, ...base, ...ids],
      }
    : { sql: `SELECT * FROM merge_suggestions WHERE ${where}`, params: base };
  const rows = await db.all<SuggestionRow>(`${sql} ORDER BY created_at DESC, id DESC LIMIT ?`, [...params, filter.limit]);
  return rows.map(suggestionFromRow);
}

export async function getSuggestion(db: SqlExecutor, workspace: string, id: string): Promise<MergeSuggestion | undefined> {
  const row = await db.get<SuggestionRow>('SELECT * FROM merge_suggestions WHERE workspace = ? AND id = ?', [workspace, id]);
  return row && suggestionFromRow(row);
}

export async function setSuggestionStatus(db: SqlExecutor, workspace: string, id: string, status: MergeSuggestion['status'], now: number): Promise<void> {
  await db.run('UPDATE merge_suggestions SET status = ?, updated_at = ? WHERE workspace = ? AND id = ?', [status, now, workspace, id]);
}
