'use strict';
/**
 * (i) n8n throughput: the Omnithread flow (Omnithread Trigger -> Identity Resolve -> Timeline Lookup ->
 * Respond to Webhook) against a bare Webhook -> Respond to Webhook, both published in the SAME n8n and
 * measured side by side: blocks of requests alternating between the two flows (which goes first alternates
 * too), many rounds, a fixed number of keep-alive connections. Every Omnithread request is a new message
 * (people write several times, so lookups read growing timelines); the bare flow gets the same bodies.
 *
 * Run twice, in turn:
 *   regular mode: one `n8n start` process, n8n's SQLite database, the Omnithread store its embedded SQLite
 *                 file (no credential: the default);
 *   queue mode:   main + webhook processor + workers (`n8n worker`), Redis, PostgreSQL for n8n's database
 *                 and, through an Omnithread Store credential, for the Omnithread store; requests go to
 *                 the webhook processor, which waits for the worker's Respond to Webhook answer.
 * The n8n processes are started by test-e2e/queue-cluster.js (the queue-mode e2e's startup), with the
 * packed package installed in each nodes folder; n8n itself is the one the e2e caches (npm run test:e2e).
 * After each mode the store is checked: every answered Omnithread request recorded once.
 *
 * Respond to Webhook is at version 1 on both sides: from 1.1 on it refuses to run unless a node of n8n's
 * own webhook types (Webhook, Form, Chat, Wait) precedes it ("No Webhook node found in the workflow"), so
 * behind the Omnithread Trigger only version 1 answers.
 */
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { pack } = require('../test-e2e/lib');
const { cachedN8n, startRegular, startQueueCluster, startRedis, startPostgresWith, waitForWebhook, stopper } = require('../test-e2e/queue-cluster');

const OMNI_HOOK = '6a1f3c2e-0b4d-4e5f-9a8b-7c6d5e4f3a21';
const BARE_HOOK = '6a1f3c2e-0b4d-4e5f-9a8b-7c6d5e4f3a22';
const STORE_CRED = { id: 'benchStorePg0001', name: 'Bench Store (PostgreSQL)' };

/** The two flows; the Omnithread nodes on the PostgreSQL store credential when one is given. */
function workflows(storeCredential) {
  const ours = (type) => `@omnithread/n8n-nodes-omnithread.${type}`;
  const cred = storeCredential ? { credentials: { omnithreadStoreApi: STORE_CRED } } : {};
  const omnithread = {
    id: 'OmniBenchFlow001',
    name: 'Bench: Omnithread flow',
    nodes: [
      { id: 'b1', name: 'Omnithread Trigger', type: ours('omnithreadTrigger'), typeVersion: 1, position: [0, 0], webhookId: OMNI_HOOK, parameters: { channel: 'generic', responseMode: 'responseNode' }, ...cred },
      { id: 'b2', name: 'Identity Resolve', type: ours('omnithreadIdentityResolve'), typeVersion: 1, position: [220, 0], parameters: { resource: 'contact', operation: 'resolve', message: '={{ $json.message }}' }, ...cred },
      { id: 'b3', name: 'Timeline Lookup', type: ours('omnithreadTimelineLookup'), typeVersion: 1, position: [440, 0], parameters: { operation: 'getTimeline', contactId: '={{ $json.contact.id }}', order: 'newest-first', limit: 20 }, ...cred },
      { id: 'b4', name: 'Respond to Webhook', type: 'n8n-nodes-base.respondToWebhook', typeVersion: 1, position: [660, 0], parameters: { respondWith: 'json', responseBody: '={{ { contact: $json.contact.id, events: $json.events.length } }}' } },
    ],
    connections: {
      'Omnithread Trigger': { main: [[{ node: 'Identity Resolve', type: 'main', index: 0 }]] },
      'Identity Resolve': { main: [[{ node: 'Timeline Lookup', type: 'main', index: 0 }]] },
      'Timeline Lookup': { main: [[{ node: 'Respond to Webhook', type: 'main', index: 0 }]] },
    },
    settings: { executionOrder: 'v1' },
  };
  const bare = {
    id: 'OmniBenchBare001',
    name: 'Bench: bare webhook',
    nodes: [
      { id: 'c1', name: 'Webhook', type: 'n8n-nodes-base.webhook', typeVersion: 2, position: [0, 0], webhookId: BARE_HOOK, parameters: { httpMethod: 'POST', path: 'bench-bare', responseMode: 'responseNode', options: {} } },
      { id: 'c2', name: 'Respond to Webhook', type: 'n8n-nodes-base.respondToWebhook', typeVersion: 1, position: [220, 0], parameters: { respondWith: 'json', responseBody: '={{ { ok: true, id: $json.body.messageId } }}' } },
    ],
    connections: { Webhook: { main: [[{ node: 'Respond to Webhook', type: 'main', index: 0 }]] } },
    settings: { executionOrder: 'v1' },
  };
  return [omnithread, bare];
}

/** The i-th message: person i % people, as the Generic JSON channel takes it. */
function body(mode, i, people) {
  const p = typeof i === 'number' ? i % people : 'probe';
  return JSON.stringify({
    messageId: `bench-${mode}-${i}`,
    channel: 'email',
    account: 'support@bench-shop.io',
    from: { name: `Bench Person ${p}`, email: `bench.person${p}@bench-mail.io` },
    text: `Hello, where is my order ${10000 + i}? It has not arrived yet.`,
  });
}

function post(agent, url, payload) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (d) => (text += d));
      response.on('end', () => resolve({ status: response.statusCode, ns: process.hrtime.bigint() - started, text }));
    });
    request.setTimeout(60000, () => request.destroy(new Error('no answer within 60 s')));
    request.on('error', (error) => resolve({ status: 0, ns: process.hrtime.bigint() - started, text: String(error.message) }));
    request.end(payload);
  });
}

/** One block: `count` requests over `concurrency` connections; returns its wall time and latencies. */
async function block(side, count, concurrency, pids = []) {
  const latencies = [];
  const failures = [];
  let next = 0;
  const cpuBefore = cpuMs(pids);
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const i = side.sent++;
        const answer = await post(side.agent, side.url, body(side.mode, i, side.people));
        latencies.push(Number(answer.ns) / 1e6);
        if (answer.status !== 200) failures.push(`${answer.status} ${answer.text.slice(0, 200)}`);
        else side.answered++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, cpuMs: cpuMs(pids) - cpuBefore, latencies, failures };
}

/**
 * CPU time (user + system, ms) of process trees, from /proc: each root and every descendant alive now,
 * plus what their reaped children used. On a shared machine wall-clock rates fall with other load; the
 * CPU each execution costs does much less.
 */
const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux
function cpuMs(rootPids) {
  const stats = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
      stats.set(Number(entry), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {
      // gone meanwhile
    }
  }
  const children = new Map();
  for (const [pid, st] of stats) children.set(st.ppid, [...(children.get(st.ppid) || []), pid]);
  let ticks = 0;
  const seen = new Set();
  const walk = (pid) => {
    if (seen.has(pid) || !stats.has(pid)) return;
    seen.add(pid);
    ticks += stats.get(pid).ticks;
    for (const child of children.get(pid) || []) walk(child);
  };
  for (const pid of rootPids) walk(pid);
  return ticks * TICK_MS;
}

/** The postmaster of a PostgreSQL data dir (its backends are its children). */
function postmasterPid(dataDir) {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (/\/postgres$/.test(argv[0]) && argv.includes(dataDir)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

const percentile = (sorted, p) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
function summary(blocks) {
  const latencies = Float64Array.from(blocks.flatMap((b) => b.latencies)).sort();
  const seconds = blocks.reduce((s, b) => s + b.seconds, 0);
  const perBlock = blocks.map((b) => b.latencies.length / b.seconds).sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    perSecondByBlock: { min: perBlock[0], median: perBlock[Math.floor(perBlock.length / 2)], max: perBlock[perBlock.length - 1] },
    p50: percentile(latencies, 0.5),
    p90: percentile(latencies, 0.9),
    p99: percentile(latencies, 0.99),
    max: latencies[latencies.length - 1],
    cpuMsPerExecution: blocks.reduce((s, b) => s + b.cpuMs, 0) / latencies.length,
    failures: blocks.reduce((s, b) => s + b.failures.length, 0),
    firstFailures: blocks.flatMap((b) => b.failures).slice(0, 3),
  };
}

/** Every answered Omnithread request on the timeline once: inbound message events by provider id. */
async function storeCheck(config, answered) {
  const { openStore } = require('../dist/shared');
  const store = await openStore(config);
  try {
    return await store.driver.read(async (db) => {
      const row = await db.get(
        "SELECT COUNT(*) AS events, COUNT(DISTINCT provider_message_id) AS ids FROM events WHERE workspace = 'default' AND kind = 'message' AND direction = 'inbound'",
      );
      const events = Number(row.events);
      const ids = Number(row.ids);
      return { answered, events, distinctMessages: ids, duplicated: events - ids, lost: Math.max(0, answered - ids), ok: events === ids && ids >= answered };
    });
  } finally {
    await store.close();
  }
}

async function measure(cluster, mode, c, log, pids) {
  const url = (hook) => `${cluster.webhookBase}/webhook/${hook}`;
  const sides = {
    omnithread: { mode, url: url(`${OMNI_HOOK}/webhook`), sent: 0, answered: 0, people: Math.max(1, Math.round((c.rounds * c.block + c.warmup) / c.messagesPerPerson)) },
    bare: { mode: `${mode}-bare`, url: url('bench-bare'), sent: 0, answered: 0, people: 1 },
  };
  // Registered webhooks answer something else than 404: a malformed body gets the trigger's 400 (nothing
  // recorded); the bare flow answers its own.
  await waitForWebhook(sides.omnithread.url, cluster, 90000, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  await waitForWebhook(sides.bare.url, cluster, 90000, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const warm = await post(undefined, sides.omnithread.url, body(mode, 'probe', 1));
  if (warm.status !== 200 || !/"contact"/.test(warm.text)) throw new Error(`the Omnithread flow answered ${warm.status}: ${warm.text.slice(0, 300)}\n${cluster.tail()}`);
  sides.omnithread.answered++;
  for (const side of Object.values(sides)) side.agent = new http.Agent({ keepAlive: true, maxSockets: c.concurrency });
  for (const side of Object.values(sides)) await block(side, c.warmup, c.concurrency); // warm-up, not counted
  const blocks = { omnithread: [], bare: [] };
  for (let r = 0; r < c.rounds; r++) {
    const order = r % 2 === 0 ? ['omnithread', 'bare'] : ['bare', 'omnithread'];
    for (const name of order) blocks[name].push(await block(sides[name], c.block, c.concurrency, pids));
    log(`  ${mode} round ${r + 1}/${c.rounds}: Omnithread ${(c.block / blocks.omnithread[r].seconds).toFixed(1)}/s, bare ${(c.block / blocks.bare[r].seconds).toFixed(1)}/s`);
  }
  for (const side of Object.values(sides)) side.agent.destroy();
  const omnithread = summary(blocks.omnithread);
  const bare = summary(blocks.bare);
  return {
    omnithread,
    bare,
    ratio: { perSecond: omnithread.perSecond / bare.perSecond, p50: omnithread.p50 / bare.p50, p99: omnithread.p99 / bare.p99, cpuMsPerExecution: omnithread.cpuMsPerExecution / bare.cpuMsPerExecution },
    people: sides.omnithread.people,
    omnithreadAnswered: sides.omnithread.answered,
  };
}

async function main(options) {
  const c = options;
  const log = (line) => process.stderr.write(`${line}\n`);
  const dir = path.join(c.dir, 'n8n');
  fs.mkdirSync(dir, { recursive: true });
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir);
  const bin = cachedN8n();
  const n8nVersion = JSON.parse(fs.readFileSync(path.join(path.dirname(path.dirname(bin)), 'package.json'), 'utf8')).version;
  const tgz = pack(dir);
  const result = { config: { ...c, dir: undefined }, n8nVersion, modes: {} };
  const cleanup = stopper();
  try {
    for (const mode of c.modes) {
      log(`(i) n8n ${mode} mode: starting...`);
      let cluster;
      let storeConfig;
      let servers = [];
      if (mode === 'regular') {
        cluster = await startRegular({ bin, tgz, logDir, credentials: [], workflows: workflows(false), publish: ['OmniBenchFlow001', 'OmniBenchBare001'] });
        cleanup.add(cluster.stop);
        storeConfig = { type: 'sqlite', path: path.join(cluster.folders.main, '.n8n', 'omnithread', 'omnithread.db') };
      } else if (mode === 'queue') {
        const redis = await startRedis({ logDir });
        cleanup.add(redis.stop);
        const pg = await startPostgresWith(['n8n', 'omnithread']);
        cleanup.add(pg.stop);
        const credentials = [{ ...STORE_CRED, type: 'omnithreadStoreApi', data: { storeType: 'postgres', postgresUrl: pg.urlOf('omnithread'), workspace: 'default', poolSize: 10 } }];
        cluster = await startQueueCluster({ bin, tgz, logDir, pg, redis, credentials, workflows: workflows(true), publish: ['OmniBenchFlow001', 'OmniBenchBare001'], workers: c.workers });
        cleanup.add(cluster.stop);
        storeConfig = { type: 'postgres', connectionString: pg.urlOf('omnithread') };
        servers = [redis.pid, postmasterPid(pg.dataDir)].filter(Boolean);
      } else {
        throw new Error(`unknown n8n mode "${mode}" (regular, queue)`);
      }
      const loadBefore = os.loadavg()[0];
      const figures = await measure(cluster, mode, c, log, [...Object.values(cluster.processes).map((p) => p.pid), ...servers]);
      figures.loadAverage = { before: loadBefore, after: os.loadavg()[0] };
      figures.cpuCounts = mode === 'queue' ? 'n8n main, webhook processor and workers (with their children), PostgreSQL (postmaster and backends), Redis' : 'the n8n process (with its children)';
      figures.readySeconds = cluster.readySeconds;
      figures.store = await storeCheck(storeConfig, figures.omnithreadAnswered);
      result.modes[mode] = figures;
      await cleanup.run();
    }
  } finally {
    await cleanup.run();
  }
  return result;
}

/** Lines for the console and results.report. */
function report(r, { int, ms }) {
  const c = r.config;
  const out = [];
  out.push(`(i) n8n ${r.n8nVersion} throughput: the Omnithread flow (Omnithread Trigger -> Identity Resolve -> Timeline Lookup -> Respond to Webhook)`);
  out.push(`    against a bare Webhook -> Respond to Webhook in the same n8n, ${c.concurrency} keep-alive connections; blocks of ${c.block} requests alternating between`);
  out.push(`    the two flows, ${c.rounds} rounds (${int(c.rounds * c.block)} requests a flow and mode) after a ${c.warmup}-request warm-up each; every Omnithread request a new message`);
  out.push(`                                            exec/s  (blocks min-max)   p50 ms   p99 ms   CPU ms/exec  failed`);
  const names = { regular: 'regular mode: 1 process, SQLite (n8n and store)', queue: `queue mode: main + webhook processor + ${c.workers} workers, PostgreSQL, Redis` };
  for (const [mode, m] of Object.entries(r.modes)) {
    out.push(`    ${names[mode] || mode} (ready in ${m.readySeconds.toFixed(0)} s; ${int(m.people)} people; load average ${m.loadAverage.before.toFixed(1)} -> ${m.loadAverage.after.toFixed(1)})`);
    for (const [label, s] of [
      ['bare Webhook -> Respond to Webhook', m.bare],
      ['Omnithread flow', m.omnithread],
    ]) {
      const range = `${s.perSecondByBlock.min.toFixed(1)}-${s.perSecondByBlock.max.toFixed(1)}`;
      out.push(`      ${label.padEnd(36)} ${s.perSecond.toFixed(1).padStart(7)}  (${range.padStart(11)})  ${ms(s.p50).padStart(7)}  ${ms(s.p99).padStart(7)}  ${s.cpuMsPerExecution.toFixed(1).padStart(11)}  ${String(s.failures).padStart(6)}`);
    }
    out.push(`      Omnithread / bare: exec/s ${m.ratio.perSecond.toFixed(2)}, p50 ${m.ratio.p50.toFixed(2)}x, p99 ${m.ratio.p99.toFixed(2)}x, CPU per execution ${m.ratio.cpuMsPerExecution.toFixed(2)}x`);
    out.push(`      CPU counted: ${m.cpuCounts}`);
    const st = m.store;
    out.push(`      store: ${int(st.events)} inbound events for ${int(st.answered)} answered Omnithread requests (${int(st.distinctMessages)} distinct messages): ${st.lost} lost, ${st.duplicated} duplicated${st.ok ? '' : '  <-- NOT OK'}`);
    for (const f of [...m.omnithread.firstFailures, ...m.bare.firstFailures]) out.push(`      failure: ${f}`);
  }
  return out;
}

module.exports = { main, report, workflows };
