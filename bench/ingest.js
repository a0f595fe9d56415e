'use strict';
/**
 * Part (a): ingest throughput on SQLite against the raw node:sqlite insert of the same rows, in one
 * process. Every run writes a fresh file; the kinds of run alternate and are repeated, after a warm-up,
 * so that JIT warm-up and file-system state do not favour one side.
 */
const { join } = require('node:path');
const { statSync } = require('node:fs');
const { DatabaseSync } = require('node:sqlite');
const { openStore, createOmnithread, newId } = require('../dist/shared');
const { rng, makePeople, messageText, storePragmas, STORE_PRAGMAS, schemaOf, summarize, median, MiB, removeDb, rssMiB, BUSY_TIMEOUT_MS } = require('./common');

const WORKSPACE = 'bench';
const DAY = 86_400_000;
const ACCOUNTS = { email: 'support@acme-shop.io', whatsapp: 'waba-104233', webchat: 'acme-shop.io' };

/**
 * people x perPerson inbound messages over three channels, in arrival order. The email channel carries
 * the sender's email, WhatsApp the phone, the web-chat form both. Most people start on web chat (both
 * handles: one contact from the first message on); one in five writes by email first, then on WhatsApp
 * (a second contact, as the phone is unknown) and then on web chat with both, which merges the two.
 */
function makeMessages(peopleCount, perPerson, seed) {
  const r = rng(seed);
  const people = makePeople(peopleCount, seed + 1, 'a');
  const end = Date.now() - DAY;
  const start = end - 60 * DAY;
  const messages = [];
  people.forEach((person, p) => {
    const splitStart = r() < 0.2;
    let at = start + Math.floor(r() * 20 * DAY);
    for (let k = 0; k < perPerson; k++) {
      let channel;
      if (splitStart && k < 3) channel = ['email', 'whatsapp', 'webchat'][k];
      else if (k === 0) channel = 'webchat';
      else channel = r() < 0.4 ? 'email' : r() < 0.67 ? 'whatsapp' : 'webchat';
      const handles = [];
      if (channel !== 'whatsapp') handles.push({ kind: 'email', value: person.email, trust: 'channel' });
      if (channel !== 'email') handles.push({ kind: 'phone', value: person.phone, trust: 'channel' });
      messages.push({
        person: p,
        input: {
          channel,
          channelAccount: ACCOUNTS[channel],
          providerMessageId: `${channel}-${p}-${k}-${Math.floor(r() * 1e9).toString(36)}`,
          ...(channel === 'email' ? { threadKey: `<thread-${p}@mail.acme-shop.io>` } : {}),
          from: { handles, name: person.name },
          text: messageText(r, true, channel === 'email'),
          sentAt: at,
        },
      });
      // Mostly minutes to hours apart; sometimes more than the 7-day idle timeout (a new conversation).
      at += r() < 0.7 ? Math.floor((5 / 1440 + r() * 0.8) * DAY) : Math.floor((8 + r() * 4) * DAY);
    }
  });
  messages.sort((a, b) => a.input.sentAt - b.input.sentAt);
  return messages;
}

/** The events row each message becomes, with the values ingest would write (ids made up front). */
function rawRows(messages, peopleCount) {
  const now = Date.now();
  const contactIds = Array.from({ length: peopleCount }, () => newId('ct', now));
  const conversationIds = Array.from({ length: peopleCount }, () => newId('cv', now));
  return messages.map(({ person, input }) => [
    WORKSPACE,
    newId('ev', now),
    contactIds[person],
    conversationIds[person],
    'message',
    input.channel,
    input.channelAccount,
    'inbound',
    input.text,
    input.sentAt,
    now,
    input.providerMessageId,
    input.threadKey ?? null,
    JSON.stringify({ from: { name: input.from.name }, attachments: [] }),
  ]);
}

const INSERT_EVENT = `INSERT INTO events (workspace, id, contact_id, conversation_id, kind, channel, channel_account, direction, text,
  occurred_at, recorded_at, provider_message_id, thread_key, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Raw node:sqlite: the store's PRAGMAs, the real events table and indexes, a prepared INSERT. */
function runRaw(file, rows, mode) {
  removeDb(file);
  const db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS });
  storePragmas(db);
  for (const statement of schemaOf('events')) db.exec(statement);
  const insert = db.prepare(INSERT_EVENT);
  const t0 = process.hrtime.bigint();
  if (mode === 'per-transaction') {
    for (const row of rows) {
      db.exec('BEGIN IMMEDIATE');
      insert.run(...row);
      db.exec('COMMIT');
    }
  } else {
    db.exec('BEGIN IMMEDIATE');
    for (const row of rows) insert.run(...row);
    db.exec('COMMIT');
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const count = db.prepare('SELECT COUNT(*) AS n FROM events').get().n;
  db.close();
  if (count !== rows.length) throw new Error(`raw ${mode}: ${count} rows instead of ${rows.length}`);
  removeDb(file);
  return { seconds, perSecond: rows.length / seconds };
}

/** Omnithread: a fresh store (schema made before the clock starts), one awaited ingest per message. */
async function runIngest(file, messages, keepStats) {
  removeDb(file);
  const store = await openStore({ type: 'sqlite', path: file });
  const ot = createOmnithread({ store, workspace: WORKSPACE });
  const latencies = keepStats ? new Array(messages.length) : undefined;
  let created = 0;
  let merges = 0;
  let switches = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < messages.length; i++) {
    const s = process.hrtime.bigint();
    const result = await ot.ingest(messages[i].input);
    if (latencies) latencies[i] = process.hrtime.bigint() - s;
    if (result.duplicate) throw new Error('unexpected duplicate');
    if (result.identity.created) created++;
    merges += result.identity.merges.length;
    if (result.channelSwitch) switches++;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await store.close();
  let rows;
  if (keepStats) {
    const db = new DatabaseSync(file);
    rows = {};
    for (const table of ['contacts', 'handles', 'conversations', 'events', 'deliveries', 'merges', 'merge_suggestions']) {
      rows[table] = db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get().n;
    }
    const messagesStored = db.prepare("SELECT COUNT(*) AS n FROM events WHERE kind = 'message'").get().n;
    db.close();
    if (messagesStored !== messages.length) throw new Error(`ingest stored ${messagesStored} messages instead of ${messages.length}`);
  }
  const fileBytes = statSync(file).size;
  removeDb(file);
  // Throughput over each quarter of the run: does ingest slow down as the store grows?
  const byQuarter = latencies && [0, 1, 2, 3].map((q) => {
    const part = latencies.slice(Math.floor((q * latencies.length) / 4), Math.floor(((q + 1) * latencies.length) / 4));
    return part.length / (Number(part.reduce((s, v) => s + v, 0n)) / 1e9);
  });
  return { seconds, perSecond: messages.length / seconds, created, merges, switches, rows, fileBytes, latency: latencies && summarize(latencies), byQuarter };
}

/** SQL statements per ingest, counted on a separate untimed run through a driver that counts them. */
async function statementsPerMessage(file, messages) {
  removeDb(file);
  const store = await openStore({ type: 'sqlite', path: file });
  const counts = { reads: 0, writes: 0 };
  const count = (sql) => (/^\s*SELECT\b/i.test(sql) ? counts.reads++ : counts.writes++);
  const wrap = (executor) => ({
    all: (sql, params) => (count(sql), executor.all(sql, params)),
    get: (sql, params) => (count(sql), executor.get(sql, params)),
    run: (sql, params) => (count(sql), executor.run(sql, params)),
    lock: (...args) => executor.lock(...args),
  });
  const driver = store.driver;
  const counted = {
    dialect: driver.dialect,
    transaction: (fn) => driver.transaction((tx) => fn(wrap(tx))),
    read: (fn) => driver.read((db) => fn(wrap(db))),
    purgeDeleted: () => driver.purgeDeleted(),
    close: () => driver.close(),
  };
  const ot = createOmnithread({ store: { driver: counted, close: () => undefined }, workspace: WORKSPACE });
  for (const message of messages) await ot.ingest(message.input);
  await store.close();
  removeDb(file);
  return { reads: counts.reads / messages.length, writes: counts.writes / messages.length, overMessages: messages.length };
}

async function main({ dir, people = 5000, perPerson = 4, rounds = 3, warmup = 2000 }) {
  const messages = makeMessages(people, perPerson, 20261124);
  const rows = rawRows(messages, people);
  const file = (name) => join(dir, `${name}.sqlite`);
  const n = messages.length;
  const log = (line) => process.stderr.write(`  [ingest] ${line}\n`);

  // Warm-up: every code path once on a smaller set, results discarded.
  runRaw(file('warm-raw'), rows.slice(0, warmup), 'per-transaction');
  runRaw(file('warm-raw'), rows.slice(0, warmup), 'single-transaction');
  await runIngest(file('warm-ingest'), messages.slice(0, warmup), false);

  const results = { 'raw-per-transaction': [], 'raw-single-transaction': [], ingest: [] };
  let ingestStats;
  for (let round = 1; round <= rounds; round++) {
    // Alternate the order each round, so neither side always runs first on a cold file system.
    const order = round % 2 ? ['raw-per-transaction', 'raw-single-transaction', 'ingest'] : ['ingest', 'raw-single-transaction', 'raw-per-transaction'];
    for (const kind of order) {
      let run;
      if (kind === 'ingest') {
        run = await runIngest(file(`ingest-${round}`), messages, !ingestStats);
        ingestStats ??= run;
      } else {
        run = runRaw(file(`${kind}-${round}`), rows, kind.slice(4));
      }
      results[kind].push(run.perSecond);
      log(`round ${round}: ${kind.padEnd(22)} ${Math.round(run.perSecond).toLocaleString('en-US').padStart(9)} msg/s (${run.seconds.toFixed(2)} s)`);
    }
  }

  const statements = await statementsPerMessage(file('counted'), messages.slice(0, Math.min(1000, n)));

  const med = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
  const counts = ingestStats.rows;
  const rowsStored = Object.values(counts).reduce((s, v) => s + v, 0);
  return {
    messages: n,
    people,
    messagesPerPerson: perPerson,
    channels: Object.keys(ACCOUNTS),
    rounds,
    warmupMessages: warmup,
    rawPragmas: STORE_PRAGMAS,
    perSecond: results,
    medianPerSecond: med,
    ratios: {
      ingestOverRawPerTransaction: med.ingest / med['raw-per-transaction'],
      ingestOverRawSingleTransaction: med.ingest / med['raw-single-transaction'],
    },
    ingestLatencyMs: ingestStats.latency,
    ingestPerSecondByQuarter: ingestStats.byQuarter,
    ingestStatementsPerMessage: statements,
    ingestOutcome: {
      contactsCreated: ingestStats.created,
      merges: ingestStats.merges,
      channelSwitches: ingestStats.switches,
      rowsByTable: counts,
      rowsStored,
      rowsPerMessage: rowsStored / n,
      fileMiB: MiB(ingestStats.fileBytes),
    },
    memory: rssMiB(),
  };
}

module.exports = { main };
