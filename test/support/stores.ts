/**
 * Runs a suite against both stores: SQLite (a temp file) and a real PostgreSQL (a database of its own
 * per test file, on the server the global setup started). Each test gets a workspace of its own, so
 * tests in one file never see each other's data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { Omnithread, OmnithreadOptions, Store, StoreConfig, createOmnithread, openStore } from '../../shared';

export type StoreKind = 'sqlite' | 'postgres';
export const STORE_KINDS: StoreKind[] = ['sqlite', 'postgres'];

export interface TestStore {
  kind: StoreKind;
  store: Store;
  config: StoreConfig;
  /** A fresh Omnithread on its own workspace. */
  omnithread(options?: Omit<OmnithreadOptions, 'store'>): Omnithread;
  /** Opens one more connection (pool) to the same store, as another process would. */
  reopen(extra?: Partial<{ poolSize: number }>): Promise<Store>;
}

let counter = 0;
export const uniqueWorkspace = (): string => `ws-${process.pid}-${Date.now().toString(36)}-${++counter}`;

export async function createTestStoreConfig(kind: StoreKind): Promise<{ config: StoreConfig; cleanup: () => Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'omnithread-sqlite-'));
    return { config: { type: 'sqlite', path: join(dir, 'omnithread.db') }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const base = process.env.OMNITHREAD_TEST_PG_URL;
  if (!base) throw new Error('OMNITHREAD_TEST_PG_URL is not set: the jest global setup starts PostgreSQL and sets it');
  const database = `omni_${process.pid}_${Date.now().toString(36)}_${++counter}`;
  const admin = new Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  return {
    config: { type: 'postgres', connectionString: `${base}/${database}`, poolSize: 10 },
    cleanup: async () => {
      const client = new Client({ connectionString: `${base}/postgres` });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** describe() once per store kind, with a store opened before the tests and closed after. */
export function describeStores(name: string, body: (ctx: () => TestStore) => void): void {
  describe.each(STORE_KINDS)(`${name} [%s]`, (kind) => {
    let ctx: TestStore | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    const extra: Store[] = [];
    beforeAll(async () => {
      const created = await createTestStoreConfig(kind);
      cleanup = created.cleanup;
      const store = await openStore(created.config);
      ctx = {
        kind,
        store,
        config: created.config,
        omnithread: (options = {}) => createOmnithread({ workspace: uniqueWorkspace(), ...options, store }),
        reopen: async (more = {}) => {
          const another = await openStore({ ...created.config, ...more } as StoreConfig);
          extra.push(another);
          return another;
        },
      };
    });
    afterAll(async () => {
      for (const s of extra) await s.close();
      await ctx?.store.close();
      await cleanup?.();
    });
    body(() => {
      if (!ctx) throw new Error('store not ready');
      return ctx;
    });
  });
}

/** Every row of every Omnithread table, as text: used to prove what is and is not stored. */
export async function dumpAllRows(store: Store): Promise<{ table: string; text: string }[]> {
  return store.driver.read(async (db) => {
    const tables =
      store.driver.dialect === 'sqlite'
        ? await db.all<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
        : await db.all<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`);
    const out: { table: string; text: string }[] = [];
    for (const { name } of tables) {
      const rows = await db.all(`SELECT * FROM ${name}`);
      for (const row of rows) out.push({ table: name, text: JSON.stringify(row) });
    }
    return out;
  });
}

/** Row counts per table, to show that a rejected input wrote nothing. */
export async function countRows(store: Store): Promise<Record<string, number>> {
  const rows = await dumpAllRows(store);
  const counts: Record<string, number> = {};
  for (const { table } of rows) counts[table] = (counts[table] ?? 0) + 1;
  return counts;
}
