/**
 * SQLite group commit and background checkpoints (shared/store/sqlite.ts, shared/store/checkpointer.ts).
 * - Concurrent write transactions of one process share one SQLite transaction, each in its own savepoint:
 *   one that fails is rolled back alone and its caller gets its error; the others commit.
 * - A caller is answered only once its work is committed: another connection (as another process would)
 *   already sees it when the promise settles.
 * - The automatic checkpoint is off on the store's connection; a worker thread checkpoints, and the
 *   write-ahead log stays bounded while a writer keeps writing.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createOmnithread, openStore } from '../shared';
import { SqliteDriver } from '../shared/store';
import { Checkpointer } from '../shared/store/checkpointer';
import { email, message, phone } from './support/messages';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'omnithread-group-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const at = Date.parse('2026-11-30T09:00:00Z');

test('16 concurrent ingests share commits, and every message is recorded once', async () => {
  const store = await openStore({ type: 'sqlite', path: join(dir, 'o.db') });
  const driver = store.driver as SqliteDriver;
  const ot = createOmnithread({ store, workspace: 'w', clock: () => at });
  const before = { ...driver.commitStats };
  const inputs = Array.from({ length: 64 }, (_, i) =>
    message([email(`person${i % 16}@mail.test`), phone(`+1415555${String(2000 + (i % 16)).padStart(4, '0')}`)], {
      channel: 'webchat',
      channelAccount: 'shop.test',
      providerMessageId: `m-${i}`,
      text: `message ${i}`,
    }),
  );
  const results = await Promise.all(inputs.map((input) => ot.ingest(input)));
  expect(results.every((r) => r.effect === 'recorded')).toBe(true);
  const commits = driver.commitStats.commits - before.commits;
  const transactions = driver.commitStats.transactions - before.transactions;
  expect(transactions).toBe(64);
  expect(commits).toBeLessThan(transactions); // they were grouped
  expect(driver.commitStats.largestGroup).toBeGreaterThan(1);
  // One contact per person, one event per message.
  expect(new Set(results.map((r) => r.contact.id)).size).toBe(16);
  const raw = new DatabaseSync(join(dir, 'o.db'));
  expect((raw.prepare("SELECT COUNT(*) AS n FROM events WHERE workspace = 'w'").get() as { n: number }).n).toBe(64);
  raw.close();
  await store.close();
});

test('a transaction that fails inside a group is rolled back alone; the others commit', async () => {
  const store = await openStore({ type: 'sqlite', path: join(dir, 'o.db') });
  const driver = store.driver;
  await driver.transaction((tx) => tx.run('CREATE TABLE scratch (k TEXT PRIMARY KEY, v TEXT)'));
  const insert = (k: string, fail: boolean) =>
    driver.transaction(async (tx) => {
      await tx.run('INSERT INTO scratch (k, v) VALUES (?, ?)', [k, 'first']);
      await tx.run('INSERT INTO scratch (k, v) VALUES (?, ?)', [`${k}-2`, 'second']);
      if (fail) throw new Error(`bad message ${k}`);
      return k;
    });
  // Queued while the connection is busy with the first, so the rest run as one group.
  const outcomes = await Promise.allSettled([insert('a', false), insert('b', false), insert('c', true), insert('d', false), insert('e', true), insert('f', false)]);
  expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
  expect((outcomes[2] as PromiseRejectedResult).reason.message).toBe('bad message c');
  expect((driver as SqliteDriver).commitStats.largestGroup).toBeGreaterThan(1);
  const rows = await driver.read((db) => db.all<{ k: string }>('SELECT k FROM scratch ORDER BY k'));
  expect(rows.map((r) => r.k)).toEqual(['a', 'a-2', 'b', 'b-2', 'd', 'd-2', 'f', 'f-2']);
  // A unique-key violation in one transaction of a group is that transaction's error alone.
  const clash = await Promise.allSettled([insert('g', false), insert('a', false), insert('h', false)]);
  expect(clash.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  await store.close();
});

test('a caller is answered only after the commit that holds its work', async () => {
  const path = join(dir, 'o.db');
  const store = await openStore({ type: 'sqlite', path });
  const driver = store.driver;
  await driver.transaction((tx) => tx.run('CREATE TABLE scratch (k TEXT PRIMARY KEY)'));
  const other = new DatabaseSync(path); // another connection sees only committed rows
  const seen: boolean[] = [];
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      driver
        .transaction((tx) => tx.run('INSERT INTO scratch (k) VALUES (?)', [`k${i}`]))
        .then(() => seen.push(other.prepare('SELECT 1 AS one FROM scratch WHERE k = ?').get(`k${i}`) !== undefined)),
    ),
  );
  other.close();
  expect(seen).toEqual(Array(20).fill(true));
  await store.close();
});

test("the store's connection never checkpoints on a commit; the worker keeps the log bounded", async () => {
  const path = join(dir, 'o.db');
  const store = await openStore({ type: 'sqlite', path });
  const driver = store.driver as SqliteDriver;
  try {
    await driver.transaction((tx) => tx.run('CREATE TABLE scratch (k INTEGER PRIMARY KEY, v TEXT)'));
    const autocheckpoint = await driver.read((db) => db.get<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint'));
    expect(autocheckpoint?.wal_autocheckpoint).toBe(0);
    // ~120 MB of rows, 8 KB a transaction, in waves of 64 concurrent writers with a breath between waves
    // (as traffic has): far past the 4 MB threshold and the 64 MB bound.
    const blob = 'x'.repeat(8 * 1024);
    let largestWal = 0;
    const waves = 240;
    for (let wave = 0; wave < waves; wave++) {
      await Promise.all(Array.from({ length: 64 }, (_, i) => driver.transaction((tx) => tx.run('INSERT INTO scratch (k, v) VALUES (?, ?)', [wave * 64 + i, blob]))));
      largestWal = Math.max(largestWal, statSync(`${path}-wal`).size);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const stats = driver.checkpointStats!;
    for (let i = 0; i < 500 && stats.passive + stats.truncate === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(stats.passive + stats.truncate).toBeGreaterThan(0);
    expect(stats.failed).toBe(0);
    // Without checkpoints the log would hold all ~120 MB. The worker runs beside the writer, so the log
    // passes the 4 MB threshold by what is written meanwhile; past 64 MB a truncating checkpoint holds the
    // writers back until it is done.
    expect(largestWal).toBeLessThan(90 * 1024 * 1024);
    const count = await driver.read((db) => db.get<{ n: number }>('SELECT COUNT(*) AS n FROM scratch'));
    expect(count?.n).toBe(waves * 64);
  } finally {
    await store.close();
  }
});

test('a Checkpointer truncates the log when it passes the bound', async () => {
  const path = join(dir, 'c.db');
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (v TEXT)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < 300; i++) insert.run('y'.repeat(8 * 1024));
  expect(statSync(`${path}-wal`).size).toBeGreaterThan(2 * 1024 * 1024);
  const checkpointer = new Checkpointer({ path, busyTimeoutMs: 5_000, thresholdBytes: 256 * 1024, boundBytes: 1024 * 1024, commitsPerLook: 1 });
  checkpointer.committed();
  for (let i = 0; i < 200 && checkpointer.stats.truncate === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(checkpointer.stats.truncate).toBe(1);
  expect(statSync(`${path}-wal`).size).toBe(0);
  await checkpointer.close();
  db.close();
});

test("the durability setting reaches SQLite: 'normal' by default, 'full' when asked", async () => {
  for (const [synchronous, expected] of [[undefined, 1], ['full', 2]] as const) {
    const store = await openStore({ type: 'sqlite', path: join(dir, `s-${synchronous ?? 'default'}.db`), ...(synchronous ? { synchronous } : {}) });
    try {
      const row = await store.driver.read((db) => db.get<{ synchronous: number }>('PRAGMA synchronous'));
      expect(row?.synchronous).toBe(expected); // 1 = NORMAL, 2 = FULL
    } finally {
      await store.close();
    }
  }
});
