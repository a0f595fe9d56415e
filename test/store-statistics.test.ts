/**
 * The PostgreSQL driver analyzes its young or fast-growing tables itself (shared/store/pg-statistics.ts):
 * autovacuum looks once a minute at best, and until a table has statistics PostgreSQL plans it blind. In
 * bench (h) that made every message's conversation UPDATE by primary key walk another index by workspace
 * alone (850 conversation rows read per message over a 48-second load).
 *
 * Autovacuum is switched off for these tables, so whatever statistics appear are the driver's.
 */
import { Client } from 'pg';
import { createOmnithread, openStore } from '../shared';
import { storeTables } from '../shared/store/migrations';
import { stale } from '../shared/store/pg-statistics';
import { createTestStoreConfig } from './support/stores';
import { runningClock } from './support/clock';

const DAY = 86_400_000;

async function withStore(keepStatistics: boolean, body: (ctx: { client: Client; ingest: (n: number) => Promise<void> }) => Promise<void>) {
  const { config, cleanup } = await createTestStoreConfig('postgres');
  const store = await openStore({ ...(config as { type: 'postgres'; connectionString: string }), keepStatistics });
  const client = new Client({ connectionString: (config as { connectionString: string }).connectionString });
  await client.connect();
  try {
    for (const table of storeTables()) await client.query(`ALTER TABLE ${client.escapeIdentifier(table)} SET (autovacuum_enabled = off)`);
    const ot = createOmnithread({ store, workspace: 'young', clock: runningClock('2026-05-04T10:00:00Z') });
    let sent = 0;
    const ingest = async (n: number) => {
      for (const end = sent + n; sent < end; sent++) {
        const phone = `+4479112${String(sent).padStart(5, '0')}`;
        await ot.ingest({
          channel: 'whatsapp',
          channelAccount: '106540352242922',
          providerMessageId: `wamid.young-${sent}`,
          from: { handles: [{ kind: 'phone', value: phone, trust: 'channel' }], name: `Customer ${sent}` },
          text: `order ${sent} has not arrived`,
          sentAt: Date.parse('2026-05-04T09:00:00Z') - DAY + sent * 1000,
        });
      }
    };
    await body({ client, ingest });
  } finally {
    await client.end();
    await store.close();
    await cleanup();
  }
}

const analyzedTables = async (client: Client): Promise<Record<string, number>> =>
  Object.fromEntries(
    (await client.query<{ relname: string; analyze_count: string }>('SELECT relname, analyze_count FROM pg_stat_user_tables')).rows.map((r) => [r.relname, Number(r.analyze_count)]),
  );

async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

test('a young store is analyzed after its first hundred or so messages, and again as it grows; an update by id then probes the id', async () => {
  await withStore(true, async ({ client, ingest }) => {
    await ingest(200);
    const analyzed = await until(async () => {
      const counts = await analyzedTables(client);
      return ['contacts', 'handles', 'conversations', 'events'].every((t) => (counts[t] ?? 0) > 0);
    }, 10_000);
    expect(analyzed).toBe(true);
    // Growing on: analyzed again once a table has changed by half, not on every check.
    const before = (await analyzedTables(client)).conversations!;
    await ingest(1000);
    expect(await until(async () => (await analyzedTables(client)).conversations! > before, 10_000)).toBe(true);
    expect((await analyzedTables(client)).conversations! - before).toBeLessThanOrEqual(6); // 200 -> 1,200 rows: about log1.5(6) analyses
    const { rows } = await client.query<{ id: string }>("SELECT id FROM conversations WHERE workspace = 'young' ORDER BY id LIMIT 1 OFFSET 600");
    const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN UPDATE conversations SET message_count = message_count + 1 WHERE workspace = 'young' AND id = '${rows[0]!.id}'`)).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    expect(plan).toMatch(/Index Cond: \(\(workspace = 'young'::text\) AND \(id = /);
  });
}, 60_000);

test('keepStatistics: false leaves the statistics to autovacuum', async () => {
  await withStore(false, async ({ client, ingest }) => {
    await ingest(200);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const counts = await analyzedTables(client);
    expect(storeTables().map((t) => counts[t] ?? 0)).toEqual(storeTables().map(() => 0));
  });
}, 60_000);

test('which tables are worth an ANALYZE', () => {
  const table = { name: 'events', analyzed: 0 };
  // Never analyzed: as soon as it is past its first page or has 50 changes (the counters lag, the file does not).
  expect(stale({ ...table, rows: -1, changed: 0, pages: 1 })).toBe(false);
  expect(stale({ ...table, rows: -1, changed: 0, pages: 2 })).toBe(true);
  expect(stale({ ...table, rows: -1, changed: 50, pages: 1 })).toBe(true);
  // Analyzed: when it changed by half since, and by 50 rows at least.
  expect(stale({ ...table, rows: 0, changed: 49, pages: 1 })).toBe(false);
  expect(stale({ ...table, rows: 0, changed: 50, pages: 1 })).toBe(true);
  expect(stale({ ...table, rows: 10_000, changed: 4_999, pages: 300 })).toBe(false);
  expect(stale({ ...table, rows: 10_000, changed: 5_000, pages: 300 })).toBe(true);
});
