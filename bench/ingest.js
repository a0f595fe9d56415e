'use strict';
/**
 * Part (a): ingest throughput on SQLite against the raw node:sqlite insert of the same rows, in one
 * process. Every run writes a fresh file; the kinds of run alternate and are repeated, after a warm-up,
 * so that JIT warm-up and file-system state do not favour one side.
 */
const { join } = require('node:path');
const { readFileSync, statSync } = require('node:fs');
const { DatabaseSync } = require('node:sqlite');
const { openStore, createOmnithread, newId } = require('../dist/shared');
const { tracedStore, rng, makePeople, messageText, storePragmas, STORE_PRAGMAS, schemaOf, summarize, median, MiB, removeDb, rssMiB, BUSY_TIMEOUT_MS } = require('./common');

const WORKSPACE = 'bench';
const DAY = 86_400_000;
const ACCOUNTS = { email: 'support@acme-shop.io', whatsapp: 'waba-104233', webchat: 'acme-shop.io' };

/**
 * people x perPerson inbound messages over three channels, in arrival order. The email channel carries
 * the sender's email, WhatsApp the phone, the web-chat form both. Most people start on web chat (both
 * handles: one contact from the first message on); one in five writes by email first, then on WhatsApp
 * (a second contact, as the phone is unknown) and then on web chat with both, which merges the two.
 * The tag makes every email address, provider message id and thread new (the scale-out part asks for
 * fresh people each round).
 */
function makeMessages(peopleCount, perPerson, seed, tag = 'a') {
  const r = rng(seed);
  const people = makePeople(peopleCount, seed + 1, tag);
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
          providerMessageId: `${tag}-${channel}-${p}-${k}-${Math.floor(r() * 1e9).toString(36)}`,
          ...(channel === 'email' ? { threadKey: `<thread-${tag}-${p}@mail.acme-shop.io>` } : {}),
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

/** Raw node:sqlite: the store's PRAGMAs, the real events table and indexes, a prepared INSERT in autocommit. */
function openRaw(file) {
  removeDb(file);
  const db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS });
  storePragmas(db);
  for (const statement of schemaOf('events')) db.exec(statement);
  return { db, insert: db.prepare(INSERT_EVENT) };
}

/**
 * One side of the comparison: a store (or raw file) that lives through the whole run, and a cursor into
 * the message list. Each block takes the next `size` messages, with `callers` concurrent callers, and
 * records the block's wall time and every message's latency.
 */
function side(name, callers, run) {
  return { name, callers, run, next: 0, seconds: 0, messages: 0, latencies: [], blockRates: [] };
}

async function runBlock(s, items, size) {
  const block = items.slice(s.next, s.next + size);
  s.next += block.length;
  let cursor = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: s.callers }, async () => {
      while (cursor < block.length) {
        const item = block[cursor++];
        const start = process.hrtime.bigint();
        await s.run(item);
        s.latencies.push(process.hrtime.bigint() - start);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  s.seconds += seconds;
  s.messages += block.length;
  s.blockRates.push(block.length / seconds);
  return block.length;
}

/** SQL statements per ingest, counted on a separate untimed run through a driver that counts them. */
async function statementsPerMessage(file, messages) {
  removeDb(file);
  const store = await openStore({ type: 'sqlite', path: file });
  const counts = { reads: 0, writes: 0 };
  const count = (sql) => (/^\s*SELECT\b/i.test(sql) ? counts.reads++ : counts.writes++);
  const ot = createOmnithread({ store: tracedStore(store.driver, count), workspace: WORKSPACE });
  for (const message of messages) await ot.ingest(message.input);
  await store.close();
  removeDb(file);
  return { reads: counts.reads / messages.length, writes: counts.writes / messages.length, overMessages: messages.length };
}

/** What this process has written so far: bytes and write calls (/proc/self/io; undefined off Linux). */
function processWrites() {
  try {
    const io = Object.fromEntries(readFileSync('/proc/self/io', 'utf8').trim().split('\n').map((line) => line.split(': ')));
    return { bytes: Number(io.wchar), calls: Number(io.syscw) };
  } catch {
    return undefined;
  }
}

/**
 * Bytes and write calls per message, log and checkpoints together, for each side on an untimed pass over
 * the same messages (after the first `skip`, on a file that already holds them): what a commit costs is
 * mostly the pages it writes, and this shows how many more an ingest writes than the raw INSERT.
 */
async function writesPerMessage(file, messages, rows, skip) {
  const measure = async (run, list) => {
    for (const item of list.slice(0, skip)) await run(item);
    const before = processWrites();
    if (!before) return undefined;
    for (const item of list.slice(skip)) await run(item);
    const after = processWrites();
    const n = list.length - skip;
    return { kib: (after.bytes - before.bytes) / n / 1024, calls: (after.calls - before.calls) / n };
  };
  const raw = openRaw(file);
  const rawSide = await measure((row) => raw.insert.run(...row), rows);
  raw.db.close();
  removeDb(file);
  const store = await openStore({ type: 'sqlite', path: file });
  const ot = createOmnithread({ store, workspace: WORKSPACE });
  const ingestSide = await measure((m) => ot.ingest(m.input), messages);
  await store.close();
  removeDb(file);
  return rawSide && ingestSide ? { raw: rawSide, ingest: ingestSide, overMessages: messages.length - skip } : undefined;
}

/**
 * Four sides, each on a file of its own that grows through the run, interleaved in blocks of `block`
 * messages (the order rotating each round), so that a shared machine's load falls on every side alike:
 *   raw x1      node:sqlite autocommit INSERT of the event row, one caller
 *   raw x16     the same with 16 concurrent callers (node:sqlite is synchronous: it can not do better)
 *   ingest x1   Omnithread ingest, one awaited call at a time
 *   ingest x16  16 concurrent callers: their write transactions share group commits
 */
async function main({ dir, people = 5000, perPerson = 4, block = 250, warmup = 2000 }) {
  const messages = makeMessages(people, perPerson, 20261124);
  const rows = rawRows(messages, people);
  const file = (name) => join(dir, `${name}.sqlite`);
  const log = (line) => process.stderr.write(`  [ingest] ${line}\n`);

  // Warm-up: every code path once on a smaller set, results discarded.
  {
    const raw = openRaw(file('warm-raw'));
    for (const row of rows.slice(0, warmup)) raw.insert.run(...row);
    raw.db.close();
    removeDb(file('warm-raw'));
    const store = await openStore({ type: 'sqlite', path: file('warm-ingest') });
    const ot = createOmnithread({ store, workspace: WORKSPACE });
    for (const m of messages.slice(0, warmup)) await ot.ingest(m.input);
    await store.close();
    removeDb(file('warm-ingest'));
  }

  const raws = [openRaw(file('raw-1')), openRaw(file('raw-16'))];
  const stores = [await openStore({ type: 'sqlite', path: file('ingest-1') }), await openStore({ type: 'sqlite', path: file('ingest-16') })];
  const ots = stores.map((store) => createOmnithread({ store, workspace: WORKSPACE }));
  const outcome = { created: 0, merges: 0, switches: 0 };
  const ingestWith = (ot, counted) => async (m) => {
    const result = await ot.ingest(m.input);
    if (result.duplicate) throw new Error('unexpected duplicate');
    if (counted) {
      if (result.identity.created) outcome.created++;
      outcome.merges += result.identity.merges.length;
      if (result.channelSwitch) outcome.switches++;
    }
  };
  const sides = [
    side('raw x1', 1, (row) => raws[0].insert.run(...row)),
    side('raw x16', 16, async (row) => {
      raws[1].insert.run(...row);
    }),
    side('ingest x1', 1, ingestWith(ots[0], true)),
    side('ingest x16', 16, ingestWith(ots[1], false)),
  ];
  const input = (s) => (s.name.startsWith('raw') ? rows : messages);
  const rounds = Math.ceil(messages.length / block);
  const walPeak = [0, 0];
  for (let round = 0; round < rounds; round++) {
    const order = sides.map((_, i) => sides[(i + round) % sides.length]);
    for (const s of order) await runBlock(s, input(s), block);
    stores.forEach((store, i) => {
      try {
        walPeak[i] = Math.max(walPeak[i], statSync(`${file(`ingest-${i ? 16 : 1}`)}-wal`).size);
      } catch {
        // no log yet
      }
    });
    if ((round + 1) % 20 === 0) log(`round ${round + 1}/${rounds}: ${sides.map((s) => `${s.name} ${Math.round(s.messages / s.seconds)}/s`).join(', ')}`);
  }

  const perSecond = Object.fromEntries(sides.map((s) => [s.name, s.messages / s.seconds]));
  const latency = Object.fromEntries(sides.map((s) => [s.name, summarize(s.latencies)]));
  // Per-round ratios, to show how much a shared machine moved single blocks.
  const blockRatios = (a, b) => a.blockRates.map((rate, i) => rate / b.blockRates[i]).sort((x, y) => x - y);
  const spread = (list) => ({ min: list[0], median: median(list), max: list[list.length - 1] });
  const [raw1, raw16, ingest1, ingest16] = sides;
  const driverStats = stores.map((store) => ({ commits: store.driver.commitStats, checkpoints: store.driver.checkpointStats }));
  for (const store of stores) await store.close();
  for (const raw of raws) raw.db.close();
  const fileBytes = statSync(file('ingest-1')).size;
  const db = new DatabaseSync(file('ingest-1'));
  const rowsByTable = {};
  for (const table of ['contacts', 'handles', 'conversations', 'events', 'deliveries', 'merges', 'merge_suggestions']) {
    rowsByTable[table] = db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get().n;
  }
  const messagesStored = db.prepare("SELECT COUNT(*) AS n FROM events WHERE kind = 'message'").get().n;
  db.close();
  if (messagesStored !== messages.length) throw new Error(`ingest stored ${messagesStored} messages instead of ${messages.length}`);
  const statements = await statementsPerMessage(file('counted'), messages.slice(0, Math.min(1000, messages.length)));
  const count = Math.min(6000, messages.length);
  const writes = await writesPerMessage(file('written'), messages.slice(0, count), rows.slice(0, count), Math.floor(count / 3));
  const rowsStored = Object.values(rowsByTable).reduce((sum, v) => sum + v, 0);
  for (const name of ['raw-1', 'raw-16', 'ingest-1', 'ingest-16']) removeDb(file(name));
  return {
    messages: messages.length,
    people,
    messagesPerPerson: perPerson,
    channels: Object.keys(ACCOUNTS),
    block,
    rounds,
    warmupMessages: warmup,
    rawPragmas: STORE_PRAGMAS,
    perSecond,
    latencyMs: latency,
    ratios: {
      ingestOverRawOneCaller: perSecond['ingest x1'] / perSecond['raw x1'],
      ingest16OverRaw16: perSecond['ingest x16'] / perSecond['raw x16'],
      ingestP99OverP50: latency['ingest x1'].p99 / latency['ingest x1'].p50,
      byBlock: { oneCaller: spread(blockRatios(ingest1, raw1)), sixteenCallers: spread(blockRatios(ingest16, raw16)) },
    },
    targets: {
      oneCaller: { target: 0.5, pass: perSecond['ingest x1'] / perSecond['raw x1'] >= 0.5 },
      sixteenCallers: { target: 2, pass: perSecond['ingest x16'] / perSecond['raw x16'] >= 2 },
      p99OverP50: { target: 3, pass: latency['ingest x1'].p99 / latency['ingest x1'].p50 <= 3 },
    },
    groupCommit: driverStats[1].commits,
    checkpoints: { oneCaller: driverStats[0].checkpoints, sixteenCallers: driverStats[1].checkpoints, walPeakMiB: walPeak.map(MiB) },
    ingestStatementsPerMessage: statements,
    writesPerMessage: writes,
    ingestOutcome: {
      contactsCreated: outcome.created,
      merges: outcome.merges,
      channelSwitches: outcome.switches,
      rowsByTable,
      rowsStored,
      rowsPerMessage: rowsStored / messages.length,
      fileMiB: MiB(fileBytes),
    },
    memory: rssMiB(),
  };
}

module.exports = { main, makeMessages, rawRows, INSERT_EVENT };
