/**
 * Every statement the API sends, asked of SQLite's planner on a store that looks like a real one: 1,200
 * people over email, WhatsApp and web chat, one in five starting on two channels and merged when a
 * message carries both handles, agent replies, suggestions, a resolved conversation. Each statement must
 * find its rows through an index, by something narrower than the workspace, unless reading the workspace
 * is its job (the desk's inbox lists and search, the change feed, the metrics).
 *
 * Why a sweep and not a test per query: the plans that hurt were found in benchmarks, one at a time. A
 * merged person's open conversation was asked with `contact_id IN (two ids)` and SQLite chose the
 * (workspace, status) index, reading every open conversation of the workspace on each of their messages;
 * `a IN (...) OR b IN (...)` read every merge and every suggestion. Each passed every functional test.
 */
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createOmnithread, openStore, type Store } from '../shared';
import type { Row, SqlExecutor, SqlParam, SqlTransaction, Statement } from '../shared/store/driver';
import { runningClock } from './support/clock';

type Seen = Map<string, { params: readonly SqlParam[]; caller: string }>;

/** The store's driver with every statement noted once (its first parameters and which API call sent it). */
function noting(store: Store, seen: Seen, caller: { name: string }): Store {
  const note = (sql: string, params: readonly SqlParam[] = []) => {
    const key = sql.replace(/\s+/g, ' ').trim();
    if (!seen.has(key)) seen.set(key, { params, caller: caller.name });
  };
  const wrap = <T extends SqlExecutor>(executor: T): T =>
    new Proxy(executor, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (property === 'all' || property === 'get' || property === 'run' || property === 'defer') {
          return (sql: string, params?: readonly SqlParam[]) => (note(sql, params), (value as (s: string, p?: readonly SqlParam[]) => unknown).call(target, sql, params));
        }
        if (property === 'many') {
          return (statements: readonly Statement[], options?: { commit?: boolean }) => {
            statements.forEach((s) => note(s.sql, s.params));
            return (value as (s: readonly Statement[], o?: { commit?: boolean }) => Promise<Row[][]>).call(target, statements, options);
          };
        }
        return (value as (...args: unknown[]) => unknown).bind(target);
      },
    });
  const driver = store.driver;
  return {
    ...store,
    driver: new Proxy(driver, {
      get(target, property, receiver) {
        if (property === 'transaction') return <T>(fn: (tx: SqlTransaction) => Promise<T>) => target.transaction((tx) => fn(wrap(tx)));
        if (property === 'read') return <T>(fn: (db: SqlExecutor) => Promise<T>) => target.read((db) => fn(wrap(db)));
        if (property === 'readOne') return (sql: string, params?: readonly SqlParam[]) => (note(sql, params), target.readOne(sql, params));
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }),
  };
}

// Statements whose job is the whole workspace, matched on their text, with why.
const WORKSPACE_WIDE: { pattern: RegExp; why: string }[] = [
  { pattern: /cv\.status = 'open'.*ORDER BY/, why: 'an inbox list: open conversations of the workspace, newest first, paged' },
  { pattern: /LIKE \?/, why: 'the desk search: a name or handle containing the words' },
  { pattern: /SELECT MAX\(seq\) AS s FROM events/, why: 'the change feed\'s high-water mark (a covering index, one row)' },
  { pattern: /FROM agents WHERE workspace = \?/, why: 'the roster: a workspace has tens of agents' },
  { pattern: /FROM desk_access WHERE workspace = \?/, why: 'the desk\'s access list' },
];

const SCRATCH = mkdtempSync(join(tmpdir(), 'omnithread-plan-audit-'));
afterAll(() => rmSync(SCRATCH, { recursive: true, force: true }));

test('every statement the API sends reads through an index narrower than the workspace (SQLite)', async () => {
  const path = join(SCRATCH, 'audit.sqlite');
  const base = await openStore({ type: 'sqlite', path });
  const seen: Seen = new Map();
  const caller = { name: 'ingest' };
  const ot = createOmnithread({ store: noting(base, seen, caller), workspace: 'audit', clock: runningClock('2026-03-02T09:00:00Z') });
  const start = Date.parse('2026-01-05T08:00:00Z');
  const accounts: Record<string, string> = { email: 'support@shop.example', whatsapp: 'waba-1', webchat: 'shop.example' };
  const people = 1200;
  const contactOf: string[] = [];
  for (let k = 0; k < 3; k++) {
    for (let p = 0; p < people; p++) {
      // One in five writes by email, then on WhatsApp (a second contact), then on web chat with both (a merge).
      const channel = p % 5 === 0 ? (['email', 'whatsapp', 'webchat'] as const)[k] : (['webchat', 'email', 'whatsapp'] as const)[k];
      const email = `person${p}@posteo.de`;
      const phone = `+4479111${String(p).padStart(5, '0')}`;
      const handles = [
        ...(channel !== 'whatsapp' ? [{ kind: 'email' as const, value: email, trust: 'channel' as const }] : []),
        ...(channel !== 'email' ? [{ kind: 'phone' as const, value: phone, trust: 'channel' as const }] : []),
      ];
      const result = await ot.ingest({
        channel,
        channelAccount: accounts[channel]!,
        providerMessageId: `${channel}-${p}-${k}`,
        ...(channel === 'email' ? { threadKey: `<t-${p}@posteo.de>` } : {}),
        from: { handles, name: `Person ${p}` },
        text: `message ${k} from person ${p}`,
        sentAt: start + (k * people + p) * 60_000,
      });
      contactOf[p] = result.contact.id;
    }
  }
  const merged = contactOf[0]!;
  const single = contactOf[1]!;
  expect((await ot.getContact(merged)).mergedContactIds.length).toBeGreaterThan(0);

  // Every read and write the nodes and the desk make, for a merged person and a single-contact one.
  const calls: Record<string, (id: string) => Promise<unknown>> = {
    recordOutbound: (id) => ot.recordOutbound(id, { channel: 'email', channelAccount: accounts.email!, text: 'On its way', providerMessageId: `out-${id}` }),
    recordStatus: () => ot.recordStatus({ channel: 'email', providerMessageId: `out-${merged}`, status: 'read', at: start + 400 * 86_400_000 }),
    timeline: (id) => ot.timeline(id, { limit: 20 }),
    timelineNewest: (id) => ot.timeline(id, { limit: 20, order: 'newest-first' }),
    conversations: (id) => ot.conversations(id),
    transcript: (id) => ot.transcript(id),
    routingContext: (id) => ot.routingContext(id),
    mergeLog: (id) => ot.mergeLog(id),
    suggestions: (id) => ot.suggestions({ contactId: id }),
    exportContact: (id) => ot.exportContact(id),
    recentInbound: (id) => ot.recentInbound(id),
    resolveConversation: async (id) => {
      const [open] = (await ot.conversations(id)).filter((c) => c.status === 'open');
      if (open) await ot.resolveConversation(open.id);
    },
    metrics: () => ot.metrics({}),
    desk: async (id) => {
      const desk = ot.deskData();
      const viewer = { agentId: 'agent-1', role: 'admin' as const };
      for (const queue of ['waiting', 'mine', 'open', 'resolved'] as const) await desk.inboxPage({ queue, viewer, offset: 0, limit: 25 });
      await desk.inboxPage({ queue: 'open', viewer, q: 'person 1', offset: 0, limit: 25 });
      await desk.personSnapshot(id, { limit: 50, windowMs: 86_400_000 });
      await desk.assignments(id);
      await desk.changesSince(0, 100);
      await desk.canSeePerson({ agentId: 'agent-1', role: 'agent' }, id);
    },
  };
  for (const [name, call] of Object.entries(calls)) {
    caller.name = name;
    for (const id of [merged, single]) await call(id);
  }
  await base.close();

  const db = new DatabaseSync(path);
  const findings: string[] = [];
  let audited = 0;
  try {
    for (const [sql, { params, caller: by }] of seen) {
      if (/^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)\b/i.test(sql) || (/^INSERT\b/i.test(sql) && !/\bSELECT\b/i.test(sql))) continue;
      audited++;
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(params as SqlParam[])) as { detail: string }[]).map((r) => r.detail);
      // A full scan of a table, or a search that names only the workspace: it reads the whole workspace.
      const wide = plan.filter((step) => /^SCAN (?!CONSTANT ROW)\w+$|^SCAN \w+ USING|\(workspace=\?\)$/.test(step) && !/^SCAN (recent|n|m)\b/.test(step));
      if (wide.length && !WORKSPACE_WIDE.some((w) => w.pattern.test(sql))) findings.push(`[${by}] ${sql}\n    ${plan.join('\n    ')}`);
    }
  } finally {
    db.close();
  }
  expect(audited).toBeGreaterThan(50);
  expect(findings).toEqual([]);
}, 120_000);
