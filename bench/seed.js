'use strict';
/**
 * Seeds a large store for part (b). Going through ingest for a million events would take far too long,
 * so the schema is made by openStore (the real migrations) and the rows are then bulk-inserted with
 * node:sqlite, shaped exactly as the store writes them:
 *   contacts   createContact (ct_ ids from newId, root_id = own id, attributes '{}', epoch ms) and, for
 *              merged contacts, what mergeRoots leaves: merged_into = survivor, root_id = end of chain
 *   handles    upsertHandle: kind, scope '' (global kinds), normalised value, trust, first/last seen
 *   conversations  createConversation + touchConversation: channels JSON, last_channel, message_count,
 *              status open / idle (closed_at = last activity + 7 days idle timeout) / resolved
 *   events     insertEvent as ingest (inbound), recordOutbound (outbound), conversationFor
 *              (channel_switch, data {from, to}) and mergeRoots (merge, id 'ev_' + merge id) write them
 *   deliveries sha256 dedupe keys exactly as omnithread.ts `digest` ('in' / 'out', channel, account, id)
 *   merges     mergeRoots: rule, evidence JSON, actor, created_at
 * Rows go in in time order (seq and ids grow with time, and one person's events are spread over the
 * file as in a real store), in transactions of 50,000 events. No ANALYZE here: the statistics are those
 * the store gathers itself (its driver runs PRAGMA optimize when it opens the file).
 */
const { closeSync, fsyncSync, openSync, writeFileSync } = require('node:fs');
const { DatabaseSync } = require('node:sqlite');
const { openStore, newId } = require('../dist/shared');
const { rng, makePeople, messageText, digest, removeDb, MiB } = require('./common');

const WORKSPACE = 'bench';
const DAY = 86_400_000;
const HOUR = 3_600_000;
const IDLE_TIMEOUT = 7 * DAY; // the store's default idleTimeoutMs
const CHANNELS = ['email', 'whatsapp', 'sms', 'webchat', 'voice'];
const CHANNEL_WEIGHTS = [0.3, 0.3, 0.12, 0.2, 0.08];
const ACCOUNTS = { email: 'support@acme-shop.io', whatsapp: 'waba-104233', sms: '+14155550142', webchat: 'acme-shop.io', voice: 'acme-ivr' };
const AGENTS = [
  { name: 'Sam', type: 'human' },
  { name: 'Priya', type: 'human' },
  { name: 'Jonas', type: 'human' },
  { name: 'Assistant', type: 'ai' },
];
const T_IN = 0;
const T_OUT = 1;
const T_SWITCH = 2;
const T_MERGE = 3;

function weightedChannel(r) {
  let x = r();
  for (let i = 0; i < CHANNELS.length; i++) {
    x -= CHANNEL_WEIGHTS[i];
    if (x < 0) return i;
  }
  return CHANNELS.length - 1;
}

/** Rows per contact: ~10 on average, from 1 (a single message) to 50; adjusted to sum to `total` exactly. */
function rowsPerContact(r, n, total) {
  const counts = new Int32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = r();
    counts[i] = x < 0.15 ? 1 : x < 0.25 ? r.int(2, 4) : x < 0.9 ? r.int(5, 15) : x < 0.98 ? r.int(16, 30) : x < 0.995 ? r.int(31, 49) : 50;
    sum += counts[i];
  }
  while (sum !== total) {
    const i = Math.floor(r() * n);
    if (counts[i] < 5 || counts[i] > 15) continue; // keep the 1s and the 50s as they are
    const step = sum < total ? 1 : -1;
    counts[i] += step;
    sum += step;
  }
  return counts;
}

function build(opts) {
  const { contacts: N, events: E, families: F, seed } = opts;
  const r = rng(seed);
  const people = makePeople(N, seed + 1, 'b');
  const end = Date.now() - 2 * DAY;
  const start = end - 365 * DAY;

  // Merged families: pairs and a tenth of them chains of three (C into B, then B into A).
  const triples = Math.round(F / 10);
  const mergeCount = F - triples + 2 * triples;
  const members = [];
  const taken = new Set();
  for (let f = 0; f < F; f++) {
    const size = f < triples ? 3 : 2;
    const family = [];
    while (family.length < size) {
      const i = Math.floor(r() * N);
      if (!taken.has(i)) {
        taken.add(i);
        family.push(i);
      }
    }
    members.push(family);
  }

  const counts = rowsPerContact(r, N, E - mergeCount);
  const ev = {
    time: new Float64Array(E),
    contact: new Int32Array(E),
    conv: new Int32Array(E).fill(-1),
    type: new Uint8Array(E),
    channel: new Uint8Array(E),
    aux: new Int32Array(E), // switch: the channel left; merge: the merge's index
  };
  const conv = { contact: [], opened: [], last: [], status: [], closed: [], messages: [], channels: [], lastChannel: [] };
  const firstAt = new Float64Array(N);
  const lastAt = new Float64Array(N);
  let e = 0;

  for (let c = 0; c < N; c++) {
    const rows = counts[c];
    const channelSet = [weightedChannel(r)];
    const extra = r() < 0.55 ? (r() < 0.4 ? 2 : 1) : 0;
    while (channelSet.length < 1 + extra) {
      const ch = weightedChannel(r);
      if (!channelSet.includes(ch)) channelSet.push(ch);
    }
    let k = rows === 1 ? 1 : 1 + (r() < 0.45 ? 1 : 0) + (r() < 0.2 ? 1 : 0);
    k = Math.min(k, rows);
    const sizes = new Array(k).fill(1);
    for (let j = 0; j < rows - k; j++) sizes[Math.floor(r() * k)]++;
    const gaps = sizes.slice(1).map(() => (8 + r() * 80) * DAY);
    const span = sizes.reduce((s, m) => s + m * 2 * HOUR, 0) + gaps.reduce((s, g) => s + g, 0);
    let at = start + Math.floor(r() * Math.max(DAY, end - start - span));
    firstAt[c] = at;
    for (let j = 0; j < k; j++) {
      if (j > 0) at += gaps[j - 1];
      const id = conv.contact.length;
      let channel = r.pick(channelSet);
      const seen = [];
      let messages = 0;
      let inbound = true;
      const opened = at;
      for (let left = sizes[j]; left > 0; ) {
        if (messages > 0) at += Math.floor(30_000 + r() * r() * 3 * HOUR); // seconds to hours apart
        if (messages > 0 && left >= 2 && channelSet.length > 1 && r() < 0.12) {
          const to = r.pick(channelSet.filter((ch) => ch !== channel));
          ev.time[e] = at;
          ev.contact[e] = c;
          ev.conv[e] = id;
          ev.type[e] = T_SWITCH;
          ev.channel[e] = to;
          ev.aux[e] = channel;
          e++;
          left--;
          channel = to;
        }
        ev.time[e] = at;
        ev.contact[e] = c;
        ev.conv[e] = id;
        ev.type[e] = inbound ? T_IN : T_OUT;
        ev.channel[e] = channel;
        e++;
        left--;
        messages++;
        if (!seen.includes(channel)) seen.push(channel);
        inbound = inbound ? r() < 0.3 : r() < 0.8; // the customer writes, an agent answers, ...
      }
      conv.contact.push(c);
      conv.opened.push(opened);
      conv.last.push(at);
      conv.messages.push(messages);
      conv.channels.push(seen);
      conv.lastChannel.push(channel);
      const isLast = j === k - 1;
      if (isLast ? r() < 0.7 : r() < 0.65) {
        conv.status.push(isLast ? 'open' : 'idle'); // idle: closed lazily by the next message
        conv.closed.push(isLast ? null : at + IDLE_TIMEOUT);
      } else {
        conv.status.push('resolved');
        conv.closed.push(at + Math.floor(10 * 60_000 + r() * 2 * DAY));
      }
      at += 2 * HOUR;
    }
    lastAt[c] = at;
  }

  // Who survives: the older contact (mergeRoots' survivorFirst). Merges happen after both stopped writing.
  const merges = [];
  for (const family of members) {
    const [a, b, c3] = [...family].sort((x, y) => firstAt[x] - firstAt[y]);
    if (c3 === undefined) {
      merges.push({ survivor: a, merged: b, at: Math.max(lastAt[a], lastAt[b]) + HOUR });
    } else {
      const t1 = Math.max(lastAt[b], lastAt[c3]) + HOUR;
      merges.push({ survivor: b, merged: c3, at: t1 });
      merges.push({ survivor: a, merged: b, at: Math.max(t1, lastAt[a]) + HOUR });
    }
  }
  const mergedInto = new Int32Array(N).fill(-1);
  const rootOf = Int32Array.from({ length: N }, (_, i) => i);
  const mergedAt = new Float64Array(N);
  for (const m of [...merges].sort((x, y) => x.at - y.at)) {
    mergedInto[m.merged] = m.survivor;
    mergedAt[m.merged] = m.at;
    for (let i = 0; i < N; i++) if (rootOf[i] === m.merged) rootOf[i] = rootOf[m.survivor];
  }
  merges.forEach((m, index) => {
    ev.time[e] = m.at;
    ev.contact[e] = m.survivor;
    ev.type[e] = T_MERGE;
    ev.aux[e] = index;
    e++;
  });
  if (e !== E) throw new Error(`generated ${e} events instead of ${E}`);
  // Events per person (a merged family counts as one person): the spread of timeline sizes.
  const perRoot = new Int32Array(N);
  for (let i = 0; i < E; i++) perRoot[rootOf[ev.contact[i]]]++;
  const sizes = perRoot.filter((n) => n > 0).sort();
  const spread = { people: sizes.length, min: sizes[0], p50: sizes[Math.floor(sizes.length / 2)], p99: sizes[Math.ceil(sizes.length * 0.99) - 1], max: sizes[sizes.length - 1], withOne: sizes.filter((n) => n === 1).length, withFiftyOrMore: sizes.filter((n) => n >= 50).length };
  return { people, ev, conv, merges, mergedInto, rootOf, mergedAt, firstAt, lastAt, members, spread, N, E, F };
}

async function main(opts) {
  const { path, sampleFile, sample: sampleSize = 2000, warmup = 200, seed = 7 } = opts;
  const t0 = process.hrtime.bigint();
  const log = (line) => process.stderr.write(`  [seed] ${line}\n`);

  removeDb(path);
  const store = await openStore({ type: 'sqlite', path }); // the real schema, through the migrations
  await store.close();

  const data = build({ ...opts, seed });
  const { people, ev, conv, merges, mergedInto, rootOf, mergedAt, lastAt, N, E } = data;
  const order = Uint32Array.from({ length: E }, (_, i) => i).sort((a, b) => ev.time[a] - ev.time[b] || a - b);
  log(`generated ${N.toLocaleString('en-US')} contacts, ${E.toLocaleString('en-US')} events, ${conv.contact.length.toLocaleString('en-US')} conversations in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`);

  const db = new DatabaseSync(path);
  // Bulk-load settings for this connection only; openStore sets the store's own PRAGMAs when it reopens.
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = OFF');
  db.exec('PRAGMA cache_size = -524288'); // 512 MiB, so index pages stay in memory while loading
  const ins = {
    contact: db.prepare('INSERT INTO contacts (workspace, id, root_id, merged_into, name, attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    handle: db.prepare('INSERT INTO handles (workspace, kind, scope, value, contact_id, trust, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    conversation: db.prepare(
      'INSERT INTO conversations (workspace, id, contact_id, status, channels, last_channel, message_count, opened_at, last_activity_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    event: db.prepare(`INSERT INTO events (workspace, id, contact_id, conversation_id, kind, channel, channel_account, direction, text,
      occurred_at, recorded_at, provider_message_id, thread_key, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    delivery: db.prepare('INSERT INTO deliveries (workspace, dedupe_key, event_id, recorded_at) VALUES (?, ?, ?, ?)'),
    merge: db.prepare('INSERT INTO merges (workspace, id, survivor_id, merged_id, rule, evidence, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
  };

  const r = rng(seed + 2);
  const contactId = new Array(N);
  const convId = new Array(conv.contact.length);
  const named = Uint8Array.from({ length: N }, () => (r() < 0.95 ? 1 : 0));
  const counts = { contacts: 0, handles: 0, conversations: 0, events: 0, deliveries: 0, merges: 0 };
  db.exec('BEGIN');
  for (let i = 0; i < E; i++) {
    const x = order[i];
    const c = ev.contact[x];
    const at = ev.time[x];
    const recordedAt = Math.floor(at + 200 + r() * 1800);
    if (contactId[c] === undefined) {
      // createContact, then the two handles the first message carried (upsertHandle).
      const id = newId('ct', recordedAt);
      contactId[c] = id;
      const root = rootOf[c] === c ? id : contactId[rootOf[c]];
      const parent = mergedInto[c] === -1 ? null : contactId[mergedInto[c]];
      if (root === undefined || parent === undefined) throw new Error('a survivor must be older than the contact merged into it');
      ins.contact.run(WORKSPACE, id, root, parent, named[c] ? people[c].name : null, '{}', recordedAt, mergedInto[c] === -1 ? recordedAt : mergedAt[c]);
      ins.handle.run(WORKSPACE, 'email', '', people[c].email, id, 'channel', recordedAt, Math.floor(lastAt[c]));
      ins.handle.run(WORKSPACE, 'phone', '', people[c].phone, id, 'channel', recordedAt, Math.floor(lastAt[c]));
      counts.contacts++;
      counts.handles += 2;
    }
    const type = ev.type[x];
    if (type === T_MERGE) {
      const m = merges[ev.aux[x]];
      const mergeId = newId('mg', at);
      const [survivor, merged] = [contactId[m.survivor], contactId[m.merged]];
      const evidence = { reason: 'Same customer, confirmed by an agent' };
      ins.merge.run(WORKSPACE, mergeId, survivor, merged, 'manual', JSON.stringify(evidence), 'agent:priya', at);
      ins.event.run(WORKSPACE, `ev_${mergeId}`, survivor, null, 'merge', null, null, null, `${merged} was merged into ${survivor}`, at, at, null, null,
        JSON.stringify({ mergeId, mergedContactId: merged, rule: 'manual' }));
      counts.merges++;
      counts.events++;
    } else {
      const k = ev.conv[x];
      if (convId[k] === undefined) {
        convId[k] = newId('cv', recordedAt);
        ins.conversation.run(WORKSPACE, convId[k], contactId[conv.contact[k]], conv.status[k], JSON.stringify(conv.channels[k].map((ch) => CHANNELS[ch])),
          CHANNELS[conv.lastChannel[k]], conv.messages[k], conv.opened[k], conv.last[k], conv.closed[k]);
        counts.conversations++;
      }
      const channel = CHANNELS[ev.channel[x]];
      const id = newId('ev', recordedAt);
      if (type === T_SWITCH) {
        ins.event.run(WORKSPACE, id, contactId[c], convId[k], 'channel_switch', channel, null, null, '', at, recordedAt, null, null,
          JSON.stringify({ from: CHANNELS[ev.aux[x]], to: channel }));
      } else {
        const inbound = type === T_IN;
        const account = ACCOUNTS[channel];
        const providerId = channel === 'email' ? `<${id.slice(3)}@mail.${inbound ? 'bench-mail.io' : 'acme-shop.io'}>` : `${channel}.${id.slice(3).toUpperCase()}`;
        const attachments = r() < 0.04 ? [{ name: 'photo.jpg', contentType: 'image/jpeg', size: 180_000 + Math.floor(r() * 900_000) }] : [];
        const data = inbound
          ? { ...(named[c] ? { from: { name: people[c].name } } : {}), attachments }
          : { attachments, author: AGENTS[Math.floor(r() * AGENTS.length)] };
        ins.event.run(WORKSPACE, id, contactId[c], convId[k], 'message', channel, account, inbound ? 'inbound' : 'outbound', messageText(r, inbound, channel === 'email'),
          at, recordedAt, providerId, channel === 'email' ? `<thread.${convId[k].slice(3)}@mail.acme-shop.io>` : null, JSON.stringify(data));
        ins.delivery.run(WORKSPACE, digest(inbound ? 'in' : 'out', channel, account, providerId), id, recordedAt);
        counts.deliveries++;
      }
      counts.events++;
    }
    if (i % 50_000 === 49_999) {
      db.exec('COMMIT');
      if (i % 250_000 === 249_999) log(`${(i + 1).toLocaleString('en-US')} events`);
      db.exec('BEGIN');
    }
  }
  db.exec('COMMIT');
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  for (const table of Object.keys(counts)) {
    const n = db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get().n;
    if (n !== counts[table]) throw new Error(`${table}: ${n} rows, expected ${counts[table]}`);
  }
  db.close();
  // Loaded with synchronous = OFF: flush the file now, or the first checkpoint's fsync in the measurements
  // would pay for writing out the whole load.
  const fd = openSync(path, 'r+');
  fsyncSync(fd);
  closeSync(fd);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

  // The sample: contacts drawn at random, plus members of merged families so that merges are exercised.
  const pick = rng(seed + 3);
  const familyMembers = data.members.flat();
  const chosen = new Set();
  const draw = (count, fromFamilies) => {
    const out = [];
    while (out.length < count) {
      const c = fromFamilies ? familyMembers[Math.floor(pick() * familyMembers.length)] : Math.floor(pick() * N);
      if (chosen.has(c)) continue;
      chosen.add(c);
      out.push(c);
    }
    return out;
  };
  const inFamilies = new Set(familyMembers);
  const describe = (c) => ({ id: contactId[c], root: contactId[rootOf[c]], email: people[c].email, phone: people[c].phone, name: people[c].name, family: inFamilies.has(c) });
  const fromFamilies = Math.min(familyMembers.length, Math.round(sampleSize * 0.05));
  const sample = [...draw(sampleSize - fromFamilies, false), ...draw(fromFamilies, true)];
  // shuffle, so family members are spread over the run
  for (let i = sample.length - 1; i > 0; i--) {
    const j = Math.floor(pick() * (i + 1));
    [sample[i], sample[j]] = [sample[j], sample[i]];
  }
  writeFileSync(sampleFile, JSON.stringify({ sample: sample.map(describe), warmup: draw(warmup, false).map(describe) }));

  const maxRssMiB = MiB(process.resourceUsage().maxRSS * 1024);
  return {
    seconds,
    rows: counts,
    contacts: N,
    events: E,
    families: data.F,
    mergedContacts: merges.length,
    eventsPerPerson: { mean: E / N, ...data.spread },
    sampleSize: sample.length,
    sampleFromMergedFamilies: sample.filter((c) => inFamilies.has(c)).length,
    seederPeakRssMiB: maxRssMiB,
    seederRssAtEndMiB: MiB(process.memoryUsage().rss),
  };
}

module.exports = { main };
