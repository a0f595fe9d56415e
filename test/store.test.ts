import { fork } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS, OmnithreadError, createOmnithread, openStore, StoreConfig } from '../shared';
import { createTestStoreConfig, STORE_KINDS } from './support/stores';

describe.each(STORE_KINDS)('store [%s]', (kind) => {
  test('migrations are versioned and applied once, even by several processes opening a new store at once', async () => {
    const { config, cleanup } = await createTestStoreConfig(kind);
    try {
      // Four OS processes open the brand-new store at the same moment.
      const script = `
        const { openStore } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'shared'))});
        process.once('message', async () => {
          try { const s = await openStore(JSON.parse(process.env.CFG)); await s.close(); process.send('ok'); }
          catch (e) { process.send(String(e.stack)); }
        });
        process.send('ready');`;
      const file = join(mkdtempSync(join(tmpdir(), 'omnithread-open-')), 'open.js');
      writeFileSync(file, script);
      const children = Array.from({ length: 4 }, () => fork(file, [], { env: { ...process.env, CFG: JSON.stringify(config) } }));
      await Promise.all(children.map((c) => new Promise((resolve) => c.once('message', resolve))));
      const outcomes = children.map((c) => new Promise((resolve) => c.once('message', resolve)));
      for (const c of children) c.send('go');
      expect(await Promise.all(outcomes)).toEqual(['ok', 'ok', 'ok', 'ok']);

      const store = await openStore(config);
      const applied = await store.driver.read((db) => db.all<{ version: number; name: string }>('SELECT version, name FROM omnithread_migrations ORDER BY version'));
      expect(applied.map((m) => Number(m.version))).toEqual(MIGRATIONS.map((m) => m.version));
      await store.close();
    } finally {
      await cleanup();
    }
  });
});

describe.each(STORE_KINDS)('poller cursors [%s]', (kind) => {
  test('are saved, overwritten and read back per workspace, and survive reopening the store', async () => {
    const { config, cleanup } = await createTestStoreConfig(kind);
    try {
      const store = await openStore(config);
      const a = createOmnithread({ store, workspace: 'a' }).cursors();
      const b = createOmnithread({ store, workspace: 'b' }).cursors();
      expect(await a.load('imap:support@mail.example/INBOX')).toBeUndefined();
      await a.save('imap:support@mail.example/INBOX', { uidValidity: 7, lastUid: 41 });
      await a.save('imap:support@mail.example/INBOX', { uidValidity: 7, lastUid: 42 });
      expect(await b.load('imap:support@mail.example/INBOX')).toBeUndefined();
      await store.close();
      const reopened = await openStore(config);
      expect(await createOmnithread({ store: reopened, workspace: 'a' }).cursors().load('imap:support@mail.example/INBOX')).toEqual({ uidValidity: 7, lastUid: 42 });
      await reopened.close();
    } finally {
      await cleanup();
    }
  });
});

describe('store configuration', () => {
  async function failure(config: unknown): Promise<OmnithreadError> {
    try {
      const store = await openStore(config as StoreConfig);
      await store.close();
    } catch (error) {
      return error as OmnithreadError;
    }
    throw new Error('expected openStore to fail');
  }

  test.each([
    [{ type: 'mysql' }, 'type'],
    [{ type: 'sqlite' }, 'path'],
    [{ type: 'sqlite', path: '' }, 'path'],
    [{ type: 'postgres' }, 'connectionString'],
    [{ type: 'postgres', host: 'db', port: 99999 }, 'port'],
    [{ type: 'postgres', host: 'db', poolSize: 0 }, 'poolSize'],
  ])('%j is refused, naming %s', async (config, field) => {
    const error = await failure(config);
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.field).toBe(field);
  });

  test('an unreachable PostgreSQL server is a clear STORE_UNAVAILABLE error', async () => {
    const error = await failure({ type: 'postgres', connectionString: 'postgres://nobody:x@127.0.0.1:1/none' });
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error.message).toMatch(/Could not connect to the PostgreSQL store: .*ECONNREFUSED/);
  });

  test('an SQLite path that can not be created is a clear STORE_UNAVAILABLE error', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'omnithread-bad-')), 'a-file');
    writeFileSync(file, 'not a folder');
    const error = await failure({ type: 'sqlite', path: join(file, 'store.db') });
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error.message).toContain('Could not open the SQLite store');
  });
});
