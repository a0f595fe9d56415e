'use strict';
/**
 * Part (b): latency of the everyday calls on a seeded store (100k contacts, 1M events), each beside a
 * baseline measured in the same process on the same file: the raw node:sqlite indexed point query on
 * handles. Each call is timed alone (one awaited call at a time), on a sample of contacts drawn by the
 * seeder; after a warm-up on other contacts. A per-call time budget keeps the run short when a call
 * is slow; the report gives how many calls were measured.
 */
const { readFileSync, statSync } = require('node:fs');
const { DatabaseSync } = require('node:sqlite');
const { openStore, createOmnithread } = require('../dist/shared');
const { tracedStore, storePragmas, schemaStatements, summarize, rssMiB, MiB, BUSY_TIMEOUT_MS } = require('./common');

const WORKSPACE = 'bench';
const BASELINE_SQL = "SELECT * FROM handles WHERE workspace = ? AND kind = 'email' AND scope = '' AND value = ?";

function check(ok, what, failures) {
  if (!ok) failures[what] = (failures[what] ?? 0) + 1;
}

/** The calls measured. Each checks that it found the seeded person (the survivor, for merged contacts). */
function operations(ot, failures, tag) {
  const handles = (c) => [
    { kind: 'email', value: c.email, trust: 'channel' },
    { kind: 'phone', value: c.phone, trust: 'channel' },
  ];
  let n = 0;
  return {
    findContact: async (c) => {
      const found = await ot.findContact({ kind: 'email', value: c.email });
      check(found?.id === c.root, 'findContact', failures);
    },
    timeline: async (c) => {
      const page = await ot.timeline(c.id, { limit: 50 });
      check(page.contactId === c.root && page.events.length > 0, 'timeline', failures);
    },
    transcript: async (c) => {
      const transcript = await ot.transcript(c.id, { maxTokens: 2000 });
      check(transcript.contactId === c.root && transcript.text.length > 0, 'transcript', failures);
    },
    resolve: async (c) => {
      const resolution = await ot.resolve(handles(c));
      check(resolution.contactId === c.root && !resolution.created && !resolution.merges.length, 'resolve', failures);
    },
    ingest: async (c) => {
      const result = await ot.ingest({
        channel: 'whatsapp',
        channelAccount: 'waba-104233',
        providerMessageId: `wamid.${tag}.${++n}.${c.id.slice(3)}`,
        from: { handles: handles(c), name: c.name },
        text: 'Hi, any news about my order? I wrote last week as well.',
        sentAt: Date.now(),
      });
      check(!result.duplicate && result.identity.contactId === c.root && !result.identity.created, 'ingest', failures);
    },
  };
}

const LABELS = {
  findContact: 'findContact(email)',
  timeline: 'timeline(id, limit 50)',
  transcript: 'transcript(id, 2000 tokens)',
  resolve: 'resolve([email, phone])',
  ingest: 'ingest(new message)',
};

/**
 * Runs every call once through a driver that records the SQL it sends, then asks SQLite for each
 * statement's plan, twice: on the real file (with whatever statistics the store has gathered) and on
 * an empty copy of the schema, which has none. A plan step that finds rows by the workspace column
 * alone reads every row of the workspace: that is what makes a call grow with the size of the store.
 */
async function queryPlans(store, raw, person) {
  const seen = new Map(); // sql -> the parameters of its first run
  const usedBy = new Map(); // sql -> the calls that ran it
  let current;
  const record = (sql, params) => {
    if (!seen.has(sql)) seen.set(sql, params ?? []);
    if (!usedBy.has(sql)) usedBy.set(sql, new Set());
    usedBy.get(sql).add(current);
  };
  const ot = createOmnithread({ store: tracedStore(store.driver, record), workspace: WORKSPACE });
  for (const [name, op] of Object.entries(operations(ot, {}, `plan${Date.now()}`))) {
    current = name;
    await op(person);
  }
  const bare = new DatabaseSync(':memory:');
  for (const statement of schemaStatements()) bare.exec(statement);
  const explain = (db, sql, params) => {
    try {
      return db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((row) => row.detail);
    } catch (error) {
      return [`(no plan: ${error.message})`];
    }
  };
  const scans = (detail) => detail.some((d) => /^SCAN \w+$|^SCAN \w+ USING|\(workspace=\?\)$/.test(d.trim()));
  const plans = [];
  for (const [sql, params] of seen) {
    if (!/^\s*(SELECT|UPDATE|DELETE)\b/i.test(sql)) continue;
    const plan = explain(raw, sql, params);
    const planWithoutStats = explain(bare, sql, params);
    plans.push({
      sql: sql.replace(/\s+/g, ' ').trim(),
      usedBy: [...usedBy.get(sql)],
      plan,
      scansWorkspace: scans(plan),
      planWithoutStats,
      scansWorkspaceWithoutStats: scans(planWithoutStats),
    });
  }
  bare.close();
  return plans;
}

async function measure(ot, raw, sample, warmup, { budgetSeconds, warmupSeconds, failures, tag, log }) {
  const point = raw.prepare(BASELINE_SQL);
  const ops = operations(ot, failures, tag);
  const results = {};
  // The baseline: the point query for every sampled person in one pass first, then again right after
  // each measured call (so it also sees whatever state the calls leave the caches in).
  const baseline = [];
  for (const c of warmup) point.get(WORKSPACE, c.email);
  for (const c of sample) {
    const t0 = process.hrtime.bigint();
    const row = point.get(WORKSPACE, c.email);
    baseline.push(process.hrtime.bigint() - t0);
    if (!row) failures.baseline = (failures.baseline ?? 0) + 1;
  }
  for (const [name, op] of Object.entries(ops)) {
    // Warm-up on other contacts: compiled code, prepared statements and the page cache.
    const warmUntil = process.hrtime.bigint() + BigInt(Math.round(warmupSeconds * 1e9));
    for (const c of warmup) {
      await op(c);
      point.get(WORKSPACE, c.email);
      if (process.hrtime.bigint() > warmUntil) break;
    }
    const times = [];
    const start = process.hrtime.bigint();
    const stopAt = start + BigInt(Math.round(budgetSeconds * 1e9));
    for (const c of sample) {
      const t0 = process.hrtime.bigint();
      await op(c);
      const t1 = process.hrtime.bigint();
      const row = point.get(WORKSPACE, c.email); // the baseline, same person, same file, right after
      const t2 = process.hrtime.bigint();
      if (!row) failures.baseline = (failures.baseline ?? 0) + 1;
      times.push(t1 - t0);
      baseline.push(t2 - t1);
      if (t2 > stopAt) break;
    }
    results[name] = { label: LABELS[name], ...summarize(times), seconds: Number(process.hrtime.bigint() - start) / 1e9, complete: times.length === sample.length };
    log(`${tag}: ${LABELS[name].padEnd(28)} n=${String(times.length).padStart(4)} p50 ${results[name].p50.toFixed(3)} ms  p99 ${results[name].p99.toFixed(3)} ms`);
  }
  const base = summarize(baseline);
  for (const r of Object.values(results)) {
    r.p50xBaseline = r.p50 / base.p50;
    r.p99xBaseline = r.p99 / base.p99;
  }
  return { baseline: { label: 'raw indexed handle query', sql: BASELINE_SQL, ...base }, operations: results };
}

function fileMiB(path) {
  let bytes = 0;
  for (const suffix of ['', '-wal']) {
    try {
      bytes += statSync(path + suffix).size;
    } catch {
      // no WAL file
    }
  }
  return MiB(bytes);
}

async function main({ path, sampleFile, budgetSeconds: cap = 20, warmupSeconds = 3, diagnose = 'auto' }) {
  const budgetSeconds = cap > 0 ? cap : 1e9; // 0: no cap, the whole sample
  const log = (line) => process.stderr.write(`  [scale] ${line}\n`);
  const { sample, warmup } = JSON.parse(readFileSync(sampleFile, 'utf8'));
  const memory = { beforeOpen: rssMiB() };
  const t0 = process.hrtime.bigint();
  let store = await openStore({ type: 'sqlite', path }); // the first open of the seeded file
  const openSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  let ot = createOmnithread({ store, workspace: WORKSPACE });
  const raw = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
  storePragmas(raw);
  memory.afterOpen = rssMiB();
  const journalMode = raw.prepare('PRAGMA journal_mode').get().journal_mode;
  const cacheSize = raw.prepare('PRAGMA cache_size').get().cache_size; // the store sets none: SQLite's default
  const hasStats = raw.prepare("SELECT COUNT(*) AS n FROM sqlite_schema WHERE name = 'sqlite_stat1'").get().n > 0;
  const statRows = hasStats ? raw.prepare('SELECT COUNT(*) AS n FROM sqlite_stat1').get().n : 0;

  const failures = {};
  const plans = await queryPlans(store, raw, warmup[0]);
  const asShipped = await measure(ot, raw, sample, warmup.slice(1), { budgetSeconds, warmupSeconds, failures, tag: 'measure', log });
  memory.afterMeasurements = rssMiB();
  const dbMiB = fileMiB(path);

  // Diagnostic, when some plan reads a whole workspace: the same calls once SQLite has full statistics.
  let afterAnalyze;
  if (diagnose === true || (diagnose === 'auto' && plans.some((p) => p.scansWorkspace))) {
    await store.close();
    const t1 = process.hrtime.bigint();
    raw.exec('ANALYZE');
    const analyzeSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
    store = await openStore({ type: 'sqlite', path });
    ot = createOmnithread({ store, workspace: WORKSPACE });
    const result = await measure(ot, raw, sample, warmup.slice(1), { budgetSeconds, warmupSeconds, failures, tag: 'after ANALYZE', log });
    afterAnalyze = { analyzeSeconds, ...result, plans: (await queryPlans(store, raw, warmup[0])).filter((p) => p.scansWorkspace) };
  }
  await store.close();
  raw.close();
  return {
    sampleSize: sample.length,
    sampleFromMergedFamilies: sample.filter((c) => c.family).length,
    budgetSecondsPerCall: cap,
    journalMode,
    cacheSize,
    openSeconds,
    statisticsAfterOpen: { sqliteStat1: hasStats, rows: statRows },
    ...asShipped,
    plans,
    failures,
    memory,
    dbMiB,
    afterAnalyze,
  };
}

module.exports = { main };
