'use strict';
/**
 * Part (c): route-decision latency with a roster of 200 agents over a store of 100k contacts, beside a
 * raw baseline measured in the same process on the same file.
 *
 * The store is seeded by bench/seed.js (the same bulk node:sqlite load into the migrated schema as
 * part (b): 100k contacts, 1M events). Then:
 *   roster     200 agents (160 humans, 40 AI) through ot.roster().import(): skills, languages, channels,
 *              capacities, statuses; the real API, one transaction
 *   history    direct SQL on the store's schema, one transaction: a quarter of the closed (idle or
 *              resolved) conversations get the human who handled them (assigned_agent_id / assigned_at,
 *              as assignConversation writes them), and open conversations are assigned to agents
 *              while their capacity lasts, so each agent starts part-loaded
 * Measured, one call at a time, after a warm-up on other contacts:
 *   classify   classifyWithRules(text, rules) alone (pure: no store)
 *   route      routeMessage(ot, { contactId, channel, text, classification }) for random contacts: reads
 *              the routing context, then one write transaction (roster, loads, assignment, decision
 *              event). Every assignment a decision makes is put back right after the timed call (raw
 *              SQL, untimed), so agents' loads stay as seeded and nobody saturates over the run.
 *   baseline   the one query every decision runs at least: the workspace's open assignments (the exact
 *              SQL of routeConversation), with node:sqlite directly; run up to 500 times before the calls,
 *              then again right after each decision. Also timed: the same query forced through the
 *              conversations_assigned index (INDEXED BY).
 *   diagnostic when SQLite plans that query as a full scan of conversations (BENCH_DIAGNOSE auto), the
 *              baseline and the decisions are measured again with an index led by status, added to this
 *              temporary file only (not part of the store's schema).
 */
const { join } = require('node:path');
const { DatabaseSync } = require('node:sqlite');
const { openStore, createOmnithread, classifyWithRules, routeMessage, DEFAULT_CHANNEL_COSTS } = require('../dist/shared');
const { rng, messageText, storePragmas, summarize, rssMiB, BUSY_TIMEOUT_MS } = require('./common');
const seed = require('./seed');

const WORKSPACE = 'bench';
const DAY = 86_400_000;
const BASELINE_SQL = "SELECT id, assigned_agent_id, last_channel FROM conversations WHERE workspace = ? AND status = 'open' AND assigned_agent_id IS NOT NULL";
const DIAGNOSTIC_INDEX = 'CREATE INDEX bench_conversations_open_assigned ON conversations (workspace, status, assigned_agent_id)';
const CHANNELS = ['email', 'whatsapp', 'sms', 'webchat', 'voice'];
const LANGUAGES = ['en', 'es', 'de', 'fr', 'pt'];

/** Classifier rules of a web shop: the intents are also the roster's skills. */
const RULES = {
  intents: [
    { name: 'order_status', keywords: ['order', 'tracking', 'arrived', 'parcel', 'delivery'], patterns: ['where is my (order|parcel)'] },
    { name: 'billing', keywords: ['charged', 'invoice', 'refund', 'card', 'subscription', 'discount code'], urgency: 'high' },
    { name: 'returns', keywords: ['return', 'too small', 'damaged', 'broken', 'exchange'] },
    { name: 'technical', keywords: ['app', 'logging me out', 'cache', 'error', 'login'] },
    { name: 'sales', keywords: ['in stock', 'ship to', 'price', 'standing desk'] },
    { name: 'address_change', keywords: ['delivery address', 'change the address', 'address'] },
  ],
  urgentKeywords: ['urgent', 'asap', 'immediately'],
  negativeWords: ['broken', 'damaged', 'twice', 'not accepted', 'never received'],
};
const SKILLS = RULES.intents.map((i) => i.name);

/** 200 agents: 160 humans, 40 AI; a spread of skills, languages, channels, capacities and statuses. */
function makeRoster(r, count = 200) {
  const agents = [];
  for (let i = 0; i < count; i++) {
    const ai = i % 5 === 4;
    const skills = {};
    const nSkills = ai ? r.int(3, SKILLS.length) : r.int(1, 3);
    while (Object.keys(skills).length < nSkills) skills[r.pick(SKILLS)] = r.int(1, 5);
    const languages = ai ? [...LANGUAGES] : ['en', ...(r() < 0.4 ? [r.pick(LANGUAGES.slice(1))] : [])];
    const channels = ai ? (r() < 0.5 ? [] : ['webchat', 'whatsapp', 'email', 'sms']) : r() < 0.3 ? [] : [...new Set([r.pick(CHANNELS), r.pick(CHANNELS), r.pick(CHANNELS)])];
    const x = r();
    agents.push({
      id: `${ai ? 'ai' : 'agent'}-${String(i).padStart(3, '0')}`,
      name: ai ? `Assistant ${i}` : `Agent ${i}`,
      kind: ai ? 'ai' : 'human',
      status: ai ? 'available' : x < 0.8 ? 'available' : x < 0.93 ? 'away' : 'offline',
      skills,
      languages: [...new Set(languages)],
      channels,
      capacity: ai ? 1000 : r.pick([100, 100, 100, 150, 200]),
      ...(ai ? { aiConfidenceThreshold: r.pick([0.6, 0.7, 0.8]) } : {}),
    });
  }
  return agents;
}

const costOf = (channel) => DEFAULT_CHANNEL_COSTS[channel ?? 'generic'] ?? DEFAULT_CHANNEL_COSTS.generic;

/** Assigned history and open load, by direct SQL on the store's schema in one transaction. */
function seedAssignments(raw, agents, r, log) {
  const humans = agents.filter((a) => a.kind === 'human');
  const closed = raw.prepare("SELECT id, opened_at FROM conversations WHERE workspace = ? AND status <> 'open'").all(WORKSPACE);
  const open = raw.prepare("SELECT id, opened_at, last_channel FROM conversations WHERE workspace = ? AND status = 'open'").all(WORKSPACE);
  const assign = raw.prepare('UPDATE conversations SET assigned_agent_id = ?, assigned_at = ? WHERE workspace = ? AND id = ?');
  const used = new Map(agents.map((a) => [a.id, 0]));
  let history = 0;
  let openAssigned = 0;
  raw.exec('BEGIN');
  for (const c of closed) {
    if (r() >= 0.25) continue;
    assign.run(r.pick(humans).id, Math.floor(c.opened_at + r.int(1, 30) * 60_000), WORKSPACE, c.id);
    history++;
  }
  // Open conversations: each agent gets some while it has room (about a third of its capacity on average).
  for (const a of agents) {
    const target = a.capacity * (a.kind === 'ai' ? 0.2 : r() * 0.7);
    for (let tries = 0; tries < 10 && used.get(a.id) < target; tries++) {
      const c = open[Math.floor(r() * open.length)];
      if (c.assigned) continue;
      const channel = a.channels.length ? (a.channels.includes(c.last_channel) ? c.last_channel : undefined) : c.last_channel;
      if (!channel || used.get(a.id) + costOf(channel) > a.capacity) continue;
      assign.run(a.id, Math.floor(c.opened_at + r.int(1, 30) * 60_000), WORKSPACE, c.id);
      c.assigned = a.id;
      used.set(a.id, used.get(a.id) + costOf(channel));
      openAssigned++;
    }
  }
  raw.exec('COMMIT');
  log(`assigned ${history.toLocaleString('en-US')} closed conversations (history) and ${openAssigned.toLocaleString('en-US')} open ones (load)`);
  return { closedAssigned: history, closedConversations: closed.length, openAssigned, openConversations: open.length };
}

/** Random live (not merged-away) contacts, each with its family's open conversations as seeded. */
function drawContacts(raw, count, r) {
  const ids = raw.prepare('SELECT id FROM contacts WHERE workspace = ? AND merged_into IS NULL ORDER BY id').all(WORKSPACE).map((row) => row.id);
  const openOf = raw.prepare(
    "SELECT id, assigned_agent_id, assigned_at, last_channel FROM conversations WHERE workspace = ? AND status = 'open' AND contact_id IN (SELECT id FROM contacts WHERE workspace = ? AND root_id = ?)",
  );
  const chosen = new Set();
  const out = [];
  while (out.length < count) {
    const id = ids[Math.floor(r() * ids.length)];
    if (chosen.has(id)) continue;
    chosen.add(id);
    out.push({ id, open: openOf.all(WORKSPACE, WORKSPACE, id) });
  }
  return out;
}

/** What each decision is asked: a customer text, classified by rules, on the channel of the open conversation. */
function makeAsk(c, r) {
  const channel = c.open[0]?.last_channel ?? r.pick(CHANNELS);
  let text = messageText(r, true, channel === 'email');
  const extra = r();
  if (extra < 0.08) text += ' I want to talk to a human.';
  else if (extra < 0.14) text += ' This is urgent.';
  const language = r() < 0.85 ? 'en' : r.pick(LANGUAGES);
  return { channel, text, language };
}

async function main({ dir, contacts = 100_000, events = 1_000_000, families = 300, decisions = 2000, warmup = 100, budgetSeconds: cap = 20, diagnose = 'auto', seed: seedNumber = 11 }) {
  const budgetSeconds = cap > 0 ? cap : 1e9;
  const log = (line) => process.stderr.write(`  [route] ${line}\n`);
  const path = join(dir, 'route.sqlite');
  const seeded = await seed.main({ path, sampleFile: join(dir, 'route-seed-sample.json'), contacts, events, families, sample: 10, warmup: 0 });
  log(`seeded ${seeded.rows.contacts.toLocaleString('en-US')} contacts, ${seeded.rows.events.toLocaleString('en-US')} events in ${seeded.seconds.toFixed(1)} s`);

  const r = rng(seedNumber);
  const t0 = process.hrtime.bigint();
  const store = await openStore({ type: 'sqlite', path });
  const ot = createOmnithread({ store, workspace: WORKSPACE });
  const roster = makeRoster(r);
  await ot.roster().import({ agents: roster });
  const raw = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
  storePragmas(raw);
  const assignments = seedAssignments(raw, roster, r, log);
  const people = drawContacts(raw, decisions + warmup, r);
  const sample = people.slice(0, decisions).map((c) => ({ ...c, ...makeAsk(c, r) }));
  const warm = people.slice(decisions).map((c) => ({ ...c, ...makeAsk(c, r) }));
  const setupSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const loads = await ot.roster().loads();
  const available = roster.filter((a) => a.status === 'available');

  const restore = raw.prepare('UPDATE conversations SET assigned_agent_id = ?, assigned_at = ? WHERE workspace = ? AND id = ?');
  const planOf = (sql) => raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(WORKSPACE).map((row) => row.detail);
  const scans = (plan) => plan.some((d) => /^SCAN /.test(d.trim()));
  const baselineRows = raw.prepare(BASELINE_SQL).all(WORKSPACE).length;

  // (a) classifyWithRules alone
  const classification = new Map();
  for (const c of warm) classification.set(c, classifyWithRules(c.text, RULES, { language: c.language }));
  const classifyTimes = [];
  for (const c of sample) {
    const a0 = process.hrtime.bigint();
    const result = classifyWithRules(c.text, RULES, { language: c.language });
    classifyTimes.push(process.hrtime.bigint() - a0);
    classification.set(c, result);
  }

  // (b) routeMessage, with the assignment put back after each decision (untimed); (c) the baseline
  const putBack = (c, result) => {
    if (!result.assigned) return;
    const before = c.open.find((o) => o.id === result.conversationId);
    if (!before) throw new Error(`decision assigned ${result.conversationId}, not an open conversation of ${c.id}`);
    restore.run(before.assigned_agent_id, before.assigned_at, WORKSPACE, before.id);
  };
  async function measure(ot, tag) {
    const statement = raw.prepare(BASELINE_SQL);
    const runBaseline = () => {
      const b0 = process.hrtime.bigint();
      const rows = statement.all(WORKSPACE);
      const b1 = process.hrtime.bigint();
      if (rows.length !== baselineRows) throw new Error(`open assignments changed: ${rows.length}, expected ${baselineRows}`);
      return b1 - b0;
    };
    const baseline = [];
    for (let i = 0; i < 50; i++) runBaseline();
    for (let i = 0; i < Math.min(sample.length, 500); i++) baseline.push(runBaseline());
    const route = (c) => routeMessage(ot, { contactId: c.id, channel: c.channel, text: c.text, classification: classification.get(c) });
    for (const c of warm) putBack(c, await route(c));
    const outcomes = {};
    const routeTimes = [];
    const start = process.hrtime.bigint();
    const stopAt = start + BigInt(Math.round(budgetSeconds * 1e9));
    for (const c of sample) {
      const t1 = process.hrtime.bigint();
      const result = await route(c);
      const t2 = process.hrtime.bigint();
      routeTimes.push(t2 - t1);
      putBack(c, result);
      baseline.push(runBaseline()); // the baseline right after each decision, same file, same caches
      const key = `${result.step}${result.target.kind === 'queue' ? '' : ` -> ${result.target.kind}`}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      if (process.hrtime.bigint() > stopAt) break;
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const base = summarize(baseline);
    const dec = summarize(routeTimes);
    log(`${tag}: route p50 ${dec.p50.toFixed(3)} ms p99 ${dec.p99.toFixed(3)} ms; baseline p50 ${base.p50.toFixed(3)} ms p99 ${base.p99.toFixed(3)} ms`);
    return {
      baseline: { label: 'raw open-assignments query', sql: BASELINE_SQL, rows: baselineRows, plan: planOf(BASELINE_SQL), ...base },
      route: { ...dec, p50xBaseline: dec.p50 / base.p50, p99xBaseline: dec.p99 / base.p99, complete: routeTimes.length === sample.length, seconds },
      outcomes,
    };
  }
  const asShipped = await measure(ot, 'measure');
  const cls = summarize(classifyTimes);
  const classify = { ...cls, p50xBaseline: cls.p50 / asShipped.baseline.p50, p99xBaseline: cls.p99 / asShipped.baseline.p99 };
  let store2 = store;
  // Diagnostic, when the baseline's plan reads the whole table: the same with an index that leads with
  // status (not in the store's schema; added to this temporary file only), so only open rows are read.
  let withIndex;
  if (diagnose === true || (diagnose === 'auto' && scans(asShipped.baseline.plan))) {
    await store.close();
    const a0 = process.hrtime.bigint();
    raw.exec(DIAGNOSTIC_INDEX);
    const indexSeconds = Number(process.hrtime.bigint() - a0) / 1e9;
    store2 = await openStore({ type: 'sqlite', path });
    withIndex = { index: DIAGNOSTIC_INDEX, indexSeconds, ...(await measure(createOmnithread({ store: store2, workspace: WORKSPACE }), 'with a status-first index')) };
  }
  const indexedSql = BASELINE_SQL.replace('FROM conversations', 'FROM conversations INDEXED BY conversations_assigned');
  const indexed = raw.prepare(indexedSql);
  for (let i = 0; i < 50; i++) indexed.all(WORKSPACE);
  const indexedTimes = [];
  for (let i = 0; i < sample.length; i++) {
    const b0 = process.hrtime.bigint();
    indexed.all(WORKSPACE);
    indexedTimes.push(process.hrtime.bigint() - b0);
  }
  const forcedIndex = { sql: indexedSql, plan: planOf(indexedSql), ...summarize(indexedTimes) };
  const decisionEvents = raw.prepare("SELECT COUNT(*) AS n FROM events WHERE workspace = ? AND kind = 'route_decision'").get(WORKSPACE).n;
  const memory = rssMiB();
  await store2.close();
  raw.close();
  const result = {
    seed: seeded,
    setupSeconds,
    roster: {
      agents: roster.length,
      humans: roster.filter((a) => a.kind === 'human').length,
      ai: roster.filter((a) => a.kind === 'ai').length,
      available: available.length,
      skills: SKILLS,
      languages: LANGUAGES,
      meanShareAvailable: loads.filter((l) => l.status === 'available').reduce((s, l) => s + l.share, 0) / available.length,
      full: loads.filter((l) => l.share >= 1).length,
    },
    assignments,
    ...asShipped,
    classify,
    forcedIndex,
    withIndex,
    decisions: sample.length,
    warmup: warm.length,
    budgetSecondsPerCall: cap,
    decisionEvents,
    memory,
  };
  log(`classify p50 ${cls.p50.toFixed(3)} ms p99 ${cls.p99.toFixed(3)} ms`);
  return result;
}

/** The report lines of this part, in the style of run.js. */
function report(c, { int, ms, times: timesOf }) {
  const times = (x) => (x < 0.1 ? `${x.toFixed(3)}x` : timesOf(x));
  const out = [];
  const s = c.seed.rows;
  out.push(`(c) Route decisions on SQLite: ${c.roster.agents} agents (${c.roster.humans} humans, ${c.roster.ai} AI; ${c.roster.available} available), ${int(s.contacts)} contacts, ${int(s.events)} events,`);
  out.push(`    ${int(s.conversations)} conversations; seeded as in (b) in ${c.seed.seconds.toFixed(1)} s, then roster via ot.roster().import() and assignments by direct SQL (${c.setupSeconds.toFixed(1)} s):`);
  out.push(`    ${int(c.assignments.closedAssigned)} closed conversations carry the human who handled them, ${int(c.assignments.openAssigned)} open ones are assigned`);
  out.push(`    (available agents ${(c.roster.meanShareAvailable * 100).toFixed(0)}% loaded on average, ${c.roster.full} full); skills ${c.roster.skills.join('/')}, languages ${c.roster.languages.join('/')}`);
  out.push(`    ${int(c.route.n)} decisions for random contacts, one at a time after a ${int(c.warmup)}-decision warm-up; each assignment is put back right after`);
  out.push(`    its decision (untimed), so loads stay as seeded. Baseline, same process and file: ${c.baseline.sql}`);
  out.push(`    (${int(c.baseline.rows)} rows; ${c.baseline.plan.join(' | ')}), run for up to 500 sampled contacts before the calls, then right after each decision`);
  const table = (x, classify) => {
    const b = x.baseline;
    out.push(`    call                                   n    p50 ms    p99 ms    max ms   p50 x base  p99 x base`);
    out.push(`    baseline: raw open-assignments query ${String(b.n).padStart(5)} ${ms(b.p50).padStart(9)} ${ms(b.p99).padStart(9)} ${ms(b.max).padStart(9)}`);
    for (const [label, r] of [...(classify ? [['classifyWithRules(text) (no store)', classify]] : []), ['routeMessage (read + write txn)', x.route]]) {
      const n = `${r.n}${r.complete === false ? '*' : ''}`;
      out.push(`    ${label.padEnd(35)} ${n.padStart(6)} ${ms(r.p50).padStart(9)} ${ms(r.p99).padStart(9)} ${ms(r.max).padStart(9)} ${times(r.p50xBaseline).padStart(12)} ${times(r.p99xBaseline).padStart(11)}`);
    }
    if (x.route.complete === false) out.push(`    * stopped by the ${c.budgetSecondsPerCall} s time cap (BENCH_BUDGET_S=0 lifts it)`);
    out.push(`    decisions by step: ${Object.entries(x.outcomes).sort((p, q) => q[1] - p[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  };
  table(c, c.classify);
  const f = c.forcedIndex;
  out.push(`    same query forced through the index (INDEXED BY conversations_assigned; ${f.plan.join(' | ')}):`);
  out.push(`    n ${f.n}, p50 ${ms(f.p50)} ms, p99 ${ms(f.p99)} ms, max ${ms(f.max)} ms`);
  if (c.withIndex) {
    const d = c.withIndex;
    out.push(`    diagnostic (the baseline's plan reads the whole table): the same with ${d.index}`);
    out.push(`    added to this temporary file only (${ms(d.indexSeconds * 1000)} ms); baseline plan then: ${d.baseline.plan.join(' | ')}`);
    table(d);
  }
  out.push(`    memory (RSS, after GC) of this part's process at the end, which also ran the seeder: ${c.memory.rss} MiB`);
  return out;
}

module.exports = { main, report };
