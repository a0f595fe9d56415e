import { startPostgres } from './postgres-server';

/** One PostgreSQL server for the whole run; each test file makes its own database on it. */
export default async function globalSetup(): Promise<void> {
  if (process.env.OMNITHREAD_TEST_PG_URL) return; // an existing server was given
  const server = await startPostgres();
  process.env.OMNITHREAD_TEST_PG_URL = server.url;
  // Its data directory, for tests that check what is left on disk after an erase (only for a server we started).
  process.env.OMNITHREAD_TEST_PG_DATA = server.dataDir;
  (globalThis as { __omnithreadPostgres?: typeof server }).__omnithreadPostgres = server;
}
