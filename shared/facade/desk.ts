/**
 * What the desk (../desk/) keeps and reads in the store: agents' desk access (role, password hash),
 * session and sign-in link tokens (hashes only), sign-in attempts for rate limiting, the inbox's
 * conversation lists and counts, and the change cursor live updates follow. Kept in the store, not in a
 * process, so several n8n workers or Node-RED instances behind one desk URL agree on all of it.
 */
import { FAMILY_IDS, SqlExecutor, inList } from '../store/driver';
import { ConversationRow } from '../timeline/events';
import { type FacadeContext, rootOf } from './context';
import { personSnapshot } from './desk-person';
import { type ConversationDigest, digestsIn } from './desk-reads';

export type { ConversationDigest } from './desk-reads';

export type DeskRole = 'agent' | 'admin';
export type TokenKind = 'session' | 'link';
export type InboxQueue = 'waiting' | 'mine' | 'open' | 'resolved';

export interface DeskAccess {
  agentId: string;
  role: DeskRole;
  passwordHash: string | null;
  updatedAt: number;
}

export interface DeskToken {
  agentId: string;
  kind: TokenKind;
  createdAt: number;
  expiresAt: number;
}

/** Who is asking: an admin sees everything; an agent the unassigned, their own and the AI agents' conversations. */
export interface Viewer {
  agentId: string;
  role: DeskRole;
}

export interface InboxRow {
  conversation: ConversationRow & { assigned_agent_id: string | null; waiting_since: number | null };
  rootId: string;
}


/** Resolved conversations stay in the "recently resolved" queue this long. */
export const RECENTLY_RESOLVED_MS = 7 * 24 * 3600 * 1000;

// Access -------------------------------------------------------------------------------------

interface AccessRow {
  [column: string]: unknown;
  agent_id: string;
  role: DeskRole;
  password_hash: string | null;
  updated_at: number;
}
const accessFromRow = (r: AccessRow): DeskAccess => ({ agentId: r.agent_id, role: r.role, passwordHash: r.password_hash, updatedAt: Number(r.updated_at) });

export function getAccess(ctx: FacadeContext, agentId: string): Promise<DeskAccess | undefined> {
  return ctx.driver.read(async (db) => {
    const row = await db.get<AccessRow>('SELECT * FROM desk_access WHERE workspace = ? AND agent_id = ?', [ctx.workspace, agentId]);
    return row && accessFromRow(row);
  });
}

export function listAccess(ctx: FacadeContext, now: number): Promise<(DeskAccess & { activeSessions: number })[]> {
  return ctx.driver.read(async (db) => {
    const rows = await db.all<AccessRow & { sessions: number }>(
      `SELECT a.*, (SELECT COUNT(*) FROM desk_tokens t WHERE t.workspace = a.workspace AND t.agent_id = a.agent_id AND t.kind = 'session' AND t.expires_at > ?) AS sessions
         FROM desk_access a WHERE a.workspace = ? ORDER BY a.agent_id`,
      [now, ctx.workspace],
    );
    return rows.map((r) => ({ ...accessFromRow(r), activeSessions: Number(r.sessions) }));
  });
}

/** Grants or changes desk access; a password hash of undefined keeps the one set before. */
export function setAccess(ctx: FacadeContext, agentId: string, role: DeskRole, passwordHash: string | undefined, now: number): Promise<void> {
  return ctx.driver.transaction(async (tx) => {
    const had = await tx.get('SELECT 1 AS x FROM desk_access WHERE workspace = ? AND agent_id = ?', [ctx.workspace, agentId]);
    if (had) {
      await tx.run(`UPDATE desk_access SET role = ?, updated_at = ?${passwordHash === undefined ? '' : ', password_hash = ?'} WHERE workspace = ? AND agent_id = ?`, [
        role,
        now,
        ...(passwordHash === undefined ? [] : [passwordHash]),
        ctx.workspace,
        agentId,
      ]);
    } else {
      await tx.run('INSERT INTO desk_access (workspace, agent_id, role, password_hash, updated_at) VALUES (?, ?, ?, ?, ?)', [ctx.workspace, agentId, role, passwordHash ?? null, now]);
    }
  });
}

/** Removes an agent's desk access with every session and unused link of theirs; true when they had access. */
export function revokeAccess(ctx: FacadeContext, agentId: string): Promise<boolean> {
  return ctx.driver.transaction(async (tx) => {
    await tx.run('DELETE FROM desk_tokens WHERE workspace = ? AND agent_id = ?', [ctx.workspace, agentId]);
    return (await tx.run('DELETE FROM desk_access WHERE workspace = ? AND agent_id = ?', [ctx.workspace, agentId])) > 0;
  });
}

// Tokens -------------------------------------------------------------------------------------

export function createToken(ctx: FacadeContext, tokenHash: string, token: DeskToken): Promise<void> {
  return ctx.driver.transaction(async (tx) => {
    // Expired tokens go as new ones come: the table holds live sessions and links only.
    await tx.run('DELETE FROM desk_tokens WHERE workspace = ? AND agent_id = ? AND expires_at < ?', [ctx.workspace, token.agentId, token.createdAt]);
    await tx.run('INSERT INTO desk_tokens (workspace, token_hash, kind, agent_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, NULL)', [
      ctx.workspace,
      tokenHash,
      token.kind,
      token.agentId,
      token.createdAt,
      token.expiresAt,
    ]);
  });
}


/**
 * A live session with its agent's current desk role and roster name, in one statement: every desk request
 * reads it, so a revoked agent, a changed role or an agent gone from the roster takes effect at once.
 */
export function liveSession(ctx: FacadeContext, tokenHash: string, now: number): Promise<{ agentId: string; role: DeskRole; name: string; expiresAt: number } | undefined> {
  return ctx.driver.read(async (db) => {
    const row = await db.get<{ agent_id: string; role: DeskRole; name: string; expires_at: number }>(
      `SELECT t.agent_id, a.role, g.name, t.expires_at FROM desk_tokens t
         JOIN desk_access a ON a.workspace = t.workspace AND a.agent_id = t.agent_id
         JOIN agents g ON g.workspace = t.workspace AND g.id = t.agent_id
        WHERE t.workspace = ? AND t.token_hash = ? AND t.kind = 'session' AND t.expires_at > ? AND t.used_at IS NULL`,
      [ctx.workspace, tokenHash, now],
    );
    return row && { agentId: row.agent_id, role: row.role, name: row.name, expiresAt: Number(row.expires_at) };
  });
}

/** Uses a sign-in link once: the agent it was issued for, or undefined when unknown, expired or used before. */
export function useLink(ctx: FacadeContext, tokenHash: string, now: number): Promise<string | undefined> {
  return ctx.driver.transaction(async (tx) => {
    const row = await tx.get<{ agent_id: string }>(
      `SELECT agent_id FROM desk_tokens WHERE workspace = ? AND token_hash = ? AND kind = 'link' AND expires_at > ? AND used_at IS NULL`,
      [ctx.workspace, tokenHash, now],
    );
    if (!row) return undefined;
    const used = await tx.run('UPDATE desk_tokens SET used_at = ? WHERE workspace = ? AND token_hash = ? AND used_at IS NULL', [now, ctx.workspace, tokenHash]);
    return used === 1 ? row.agent_id : undefined;
  });
}

export function deleteToken(ctx: FacadeContext, tokenHash: string): Promise<void> {
  return ctx.driver.transaction(async (tx) => {
    await tx.run('DELETE FROM desk_tokens WHERE workspace = ? AND token_hash = ?', [ctx.workspace, tokenHash]);
  });
}

// Sign-in attempts ---------------------------------------------------------------------------

/** Failures recorded under a key in the current window (0 when the window has passed). */
export function failures(ctx: FacadeContext, key: string, windowMs: number, now: number): Promise<{ failures: number; retryAt: number }> {
  return ctx.driver.read(async (db) => {
    const row = await db.get<{ window_start: number; failures: number }>('SELECT window_start, failures FROM desk_attempts WHERE workspace = ? AND key = ?', [ctx.workspace, key]);
    if (!row || Number(row.window_start) + windowMs <= now) return { failures: 0, retryAt: now };
    return { failures: Number(row.failures), retryAt: Number(row.window_start) + windowMs };
  });
}

export function recordFailure(ctx: FacadeContext, keys: readonly string[], windowMs: number, now: number): Promise<void> {
  return ctx.driver.transaction(async (tx) => {
    for (const key of keys) {
      await tx.lock([`${ctx.workspace}:desk-attempt:${key}`]);
      const row = await tx.get<{ window_start: number }>('SELECT window_start FROM desk_attempts WHERE workspace = ? AND key = ?', [ctx.workspace, key]);
      if (!row) await tx.run('INSERT INTO desk_attempts (workspace, key, window_start, failures) VALUES (?, ?, ?, 1)', [ctx.workspace, key, now]);
      else if (Number(row.window_start) + windowMs <= now) await tx.run('UPDATE desk_attempts SET window_start = ?, failures = 1 WHERE workspace = ? AND key = ?', [now, ctx.workspace, key]);
      else await tx.run('UPDATE desk_attempts SET failures = failures + 1 WHERE workspace = ? AND key = ?', [ctx.workspace, key]);
    }
  });
}

export function clearFailures(ctx: FacadeContext, key: string): Promise<void> {
  return ctx.driver.transaction(async (tx) => {
    await tx.run('DELETE FROM desk_attempts WHERE workspace = ? AND key = ?', [ctx.workspace, key]);
  });
}

// Inbox --------------------------------------------------------------------------------------

/** The part of a WHERE clause a queue adds, with its parameters (conversations are `cv`). */
/**
 * The conversations (`cv`) an agent may see: unassigned, their own, or an AI agent's (a bot's conversation
 * a human may need to take over). Admins see all: no condition.
 */
function visibleTo(ctx: FacadeContext, viewer: Viewer): { sql: string; params: string[] } {
  if (viewer.role === 'admin') return { sql: '', params: [] };
  return {
    sql: ` AND (cv.assigned_agent_id IS NULL OR cv.assigned_agent_id = ? OR cv.assigned_agent_id IN (SELECT id FROM agents WHERE workspace = ? AND kind = 'ai'))`,
    params: [viewer.agentId, ctx.workspace],
  };
}

function queueClause(ctx: FacadeContext, queue: InboxQueue, viewer: Viewer, now: number): { sql: string; params: (string | number)[] } {
  const visible = visibleTo(ctx, viewer);
  switch (queue) {
    case 'waiting':
      return { sql: `cv.status = 'open' AND cv.assigned_agent_id IS NULL`, params: [] };
    case 'mine':
      return { sql: `cv.status = 'open' AND cv.assigned_agent_id = ?`, params: [viewer.agentId] };
    case 'open':
      return { sql: `cv.status = 'open'${visible.sql}`, params: visible.params };
    case 'resolved':
      return { sql: `cv.status = 'resolved' AND cv.closed_at > ?${visible.sql}`, params: [now - RECENTLY_RESOLVED_MS, ...visible.params] };
  }
}

const ORDER: Record<InboxQueue, string> = {
  // Longest wait first: the customer who has waited longest is answered first.
  waiting: 'COALESCE(cv.waiting_since, cv.last_activity_at) ASC, cv.id ASC',
  mine: 'cv.last_activity_at DESC, cv.id DESC',
  open: 'cv.last_activity_at DESC, cv.id DESC',
  resolved: 'cv.closed_at DESC, cv.id DESC',
};

/** People matching a search: by name, or any handle's value (an email, a phone's digits, a channel id). */
async function matchingRoots(db: SqlExecutor, workspace: string, q: string): Promise<string[]> {
  const text = q.trim().toLowerCase();
  const digits = text.replace(/[^0-9]/g, '');
  const like = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const params: string[] = [workspace, like, workspace, like];
  let phone = '';
  if (digits.length >= 5 && /^[+0-9 ().-]+$/.test(text)) {
    phone = ` OR h.value LIKE ? ESCAPE '\\'`;
    params.push(`%${digits}%`);
  }
  const rows = await db.all<{ root_id: string }>(
    `SELECT DISTINCT root_id FROM (
       SELECT c.root_id FROM contacts c WHERE c.workspace = ? AND LOWER(COALESCE(c.name, '')) LIKE ? ESCAPE '\\'
       UNION
       SELECT c.root_id FROM handles h JOIN contacts c ON c.workspace = h.workspace AND c.id = h.contact_id
        WHERE h.workspace = ? AND (LOWER(h.value) LIKE ? ESCAPE '\\'${phone})
     ) m LIMIT 500`,
    params,
  );
  return rows.map((r) => r.root_id);
}

export function inboxPage(
  ctx: FacadeContext,
  request: { queue: InboxQueue; viewer: Viewer; q?: string; offset: number; limit: number; now: number },
): Promise<{ rows: InboxRow[]; more: boolean; counts: Record<InboxQueue, number>; seq: number }> {
  return ctx.driver.read(async (db) => {
    let search = { sql: '', params: [] as string[] };
    if (request.q?.trim()) {
      const roots = await matchingRoots(db, ctx.workspace, request.q);
      search = roots.length
        ? { sql: ` AND cv.contact_id IN (SELECT id FROM contacts WHERE workspace = ? AND root_id IN (${inList(roots)}))`, params: [ctx.workspace, ...roots] }
        : { sql: ' AND 1 = 0', params: [] };
    }
    const counts = {} as Record<InboxQueue, number>;
    for (const queue of ['waiting', 'mine', 'open', 'resolved'] as const) {
      const clause = queueClause(ctx, queue, request.viewer, request.now);
      const row = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM conversations cv WHERE cv.workspace = ? AND ${clause.sql}${search.sql}`, [
        ctx.workspace,
        ...clause.params,
        ...search.params,
      ]);
      counts[queue] = Number(row?.n ?? 0);
    }
    const clause = queueClause(ctx, request.queue, request.viewer, request.now);
    const rows = await db.all<InboxRow['conversation'] & { root_id: string }>(
      `SELECT cv.*, c.root_id FROM conversations cv JOIN contacts c ON c.workspace = cv.workspace AND c.id = cv.contact_id
        WHERE cv.workspace = ? AND ${clause.sql}${search.sql}
        ORDER BY ${ORDER[request.queue]} LIMIT ? OFFSET ?`,
      [ctx.workspace, ...clause.params, ...search.params, request.limit + 1, request.offset],
    );
    const seq = await maxSeq(db, ctx.workspace);
    return {
      rows: rows.slice(0, request.limit).map((r) => ({ conversation: r, rootId: r.root_id })),
      more: rows.length > request.limit,
      counts,
      seq,
    };
  });
}

/**
 * For each conversation: its newest message or call, its newest route decision, and its handoff events (oldest
 * first). Three statements for the whole page, not three per row: the newest of each kind is still found
 * through the events_conversation index, one LIMIT 1 lookup per conversation inside the statement.
 */
export function conversationDigests(ctx: FacadeContext, conversationIds: readonly string[]): Promise<Map<string, ConversationDigest>> {
  return ctx.driver.read((db) => digestsIn(db, ctx.workspace, conversationIds));
}


/**
 * What an inbox row shows of each person, for a page of them in two statements: the name (the survivor's, else
 * the first merged contact's with one) and one handle (the first email, else the first phone, else the first
 * identity, in the order getContact lists identities).
 */
export function inboxPeople(ctx: FacadeContext, rootIds: readonly string[]): Promise<Map<string, { name: string | null; handle: string | null }>> {
  return ctx.driver.read(async (db) => {
    const people = new Map<string, { name: string | null; handle: string | null }>();
    const roots = [...new Set(rootIds)];
    if (!roots.length) return people;
    const contacts = await db.all<{ id: string; root_id: string; name: string | null }>(
      `SELECT id, root_id, name FROM contacts WHERE workspace = ? AND root_id IN (${inList(roots)}) ORDER BY created_at, id`,
      [ctx.workspace, ...roots],
    );
    // contact_id IN (...), as familyHandles reads them: a join here is planned, with no statistics yet, as a walk
    // over every handle of the workspace (7.7 ms instead of 0.3 at 10,000 people).
    const rootOfContact = new Map(contacts.map((c) => [c.id, c.root_id] as const));
    if (!rootOfContact.size) return people;
    const handles = (
      await db.all<{ contact_id: string; kind: string; scope: string; value: string; first_seen_at: number }>(
        `SELECT contact_id, kind, scope, value, first_seen_at FROM handles WHERE workspace = ? AND contact_id IN (${inList([...rootOfContact.keys()])})`,
        [ctx.workspace, ...rootOfContact.keys()],
      )
    ).map((h) => ({ ...h, root_id: rootOfContact.get(h.contact_id)! }));
    // The order of familyHandles (identity/contacts.ts), so the handle is the one getContact would list first.
    const order = (r: (typeof handles)[number]) => `${r.kind}\u0000${r.scope}\u0000${r.value}\u0000${String(r.first_seen_at).padStart(16, '0')}`;
    const sorted = handles.map((h) => [order(h), h] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const root of roots) {
      const family = contacts.filter((c) => c.root_id === root);
      if (!family.length) continue;
      const own = family.find((c) => c.id === root);
      const name = own?.name ?? family.find((c) => c.id !== root && c.name)?.name ?? null;
      people.set(root, { name, handle: null });
    }
    const first = new Map<string, { any?: string; reachable?: string }>();
    for (const [, h] of sorted) {
      const f = first.get(h.root_id) ?? {};
      f.any ??= h.value;
      if (h.kind === 'email' || h.kind === 'phone') f.reachable ??= h.value;
      first.set(h.root_id, f);
    }
    for (const [root, person] of people) person.handle = first.get(root)?.reachable ?? first.get(root)?.any ?? null;
    return people;
  });
}



/** Whether the viewer may see this person: admins always; agents when the person has a conversation visible to them. */
export function canSeePerson(ctx: FacadeContext, viewer: Viewer, rootId: string): Promise<boolean> {
  if (viewer.role === 'admin') return Promise.resolve(true);
  const visible = visibleTo(ctx, viewer);
  return ctx.driver.read(async (db) => {
    const row = await db.get(`SELECT 1 AS x FROM conversations cv WHERE cv.workspace = ? AND cv.contact_id IN (${FAMILY_IDS})${visible.sql} LIMIT 1`, [
      ctx.workspace,
      ctx.workspace,
      rootId,
      ...visible.params,
    ]);
    return Boolean(row);
  });
}

/** Who each of a person's conversations is assigned to (one small read; the person view needs no more of routing). */
export function assignments(ctx: FacadeContext, rootId: string): Promise<Map<string, string | null>> {
  return ctx.driver.read(async (db) => {
    const rows = await db.all<{ id: string; assigned_agent_id: string | null }>(
      `SELECT id, assigned_agent_id FROM conversations WHERE workspace = ? AND contact_id IN (${FAMILY_IDS})`,
      [ctx.workspace, ctx.workspace, rootId],
    );
    return new Map(rows.map((r) => [r.id, r.assigned_agent_id ?? null] as const));
  });
}

// Changes ------------------------------------------------------------------------------------

async function maxSeq(db: SqlExecutor, workspace: string): Promise<number> {
  const row = await db.get<{ s: number | null }>('SELECT MAX(seq) AS s FROM events WHERE workspace = ?', [workspace]);
  return Number(row?.s ?? 0);
}

/** The people whose timelines changed after `since` (a seq), up to `limit`, and the newest seq. */
export function changesSince(ctx: FacadeContext, since: number, limit: number): Promise<{ seq: number; rootIds: string[]; many: boolean }> {
  return ctx.driver.read(async (db) => {
    const seq = await maxSeq(db, ctx.workspace);
    if (seq <= since) return { seq, rootIds: [], many: false };
    const rows = await db.all<{ root_id: string }>(
      `SELECT DISTINCT c.root_id FROM events e JOIN contacts c ON c.workspace = e.workspace AND c.id = e.contact_id
        WHERE e.workspace = ? AND e.seq > ? LIMIT ?`,
      [ctx.workspace, since, limit + 1],
    );
    return { seq, rootIds: rows.slice(0, limit).map((r) => r.root_id), many: rows.length > limit };
  });
}

/** The desk's store operations bound to one facade's workspace and clock; what Omnithread.deskData() returns. */
export function deskData(ctx: FacadeContext) {
  return {
    now: () => ctx.clock(),
    getAccess: (agentId: string) => getAccess(ctx, agentId),
    listAccess: () => listAccess(ctx, ctx.clock()),
    setAccess: (agentId: string, role: DeskRole, passwordHash?: string) => setAccess(ctx, agentId, role, passwordHash, ctx.clock()),
    revokeAccess: (agentId: string) => revokeAccess(ctx, agentId),
    createToken: (tokenHash: string, token: DeskToken) => createToken(ctx, tokenHash, token),
    useLink: (tokenHash: string) => useLink(ctx, tokenHash, ctx.clock()),
    liveSession: (tokenHash: string) => liveSession(ctx, tokenHash, ctx.clock()),
    deleteToken: (tokenHash: string) => deleteToken(ctx, tokenHash),
    failures: (key: string, windowMs: number) => failures(ctx, key, windowMs, ctx.clock()),
    recordFailure: (keys: readonly string[], windowMs: number) => recordFailure(ctx, keys, windowMs, ctx.clock()),
    clearFailures: (key: string) => clearFailures(ctx, key),
    inboxPage: (request: { queue: InboxQueue; viewer: Viewer; q?: string; offset: number; limit: number }) => inboxPage(ctx, { ...request, now: ctx.clock() }),
    conversationDigests: (ids: readonly string[]) => conversationDigests(ctx, ids),
    inboxPeople: (rootIds: readonly string[]) => inboxPeople(ctx, rootIds),
    canSeePerson: (viewer: Viewer, rootId: string) => canSeePerson(ctx, viewer, rootId),
    assignments: (rootId: string) => assignments(ctx, rootId),
    /** The survivor a contact id resolves to (NOT_FOUND when this workspace has no such contact). */
    rootOf: (contactId: string) => ctx.driver.read((db) => rootOf(ctx, db, contactId)),
    personSnapshot: (rootId: string, options: { before?: string; limit: number; windowMs: number }) => personSnapshot(ctx, rootId, options),
    changesSince: (since: number, limit: number) => changesSince(ctx, since, limit),
  };
}
export type DeskData = ReturnType<typeof deskData>;
