'use strict';
/**
 * Part (f): the Omnithread Desk's first screens at 10,000 open conversations and a 5,000-event person,
 * through the real HTTP-level API (Desk.handle(), with a signed-in admin's session cookie), beside the
 * raw queries those screens need, written by hand against node:sqlite on the same file, same process.
 *
 * Seeded through the real facade only (createOmnithread on openStore; no SQL): a roster of 20 humans and
 * 4 AI agents, then 10,000 distinct people, each ingesting one inbound message on a mixed channel (email,
 * WhatsApp, SMS, web chat, Telegram), which opens their conversation. Then, as a support team would leave
 * them: some answered (recordOutbound, so no longer waiting), some written to again, some assigned to a
 * human (assignConversation), some routed (routeMessage: a route_decision event, which may assign), some
 * handed off to a queue (handOff: handoff events; part of those accepted by a human). One more person
 * writes 5,000 times over about five weeks, on every channel, linked by their account id, in several
 * conversations (idle gaps), with answers, notes and route decisions; their last conversation is still open.
 *
 * Measured, interleaved in blocks (BENCH_DESK_BLOCK calls of one side, then of the other, the side that
 * goes first alternating per round; BENCH_DESK_ROUNDS rounds after a warm-up round), for three screens:
 *   desk  GET ?op=inbox&queue=waiting, GET ?op=inbox&queue=open (the inbox's first screen: 50 rows, the
 *         four queue counts), GET ?op=person&contactId=... (the 5k-event person: newest 300 events, identities,
 *         merges, suggestions, episodes, channels), through Desk.handle(): session, roster, views, JSON
 *   raw   node:sqlite, prepared once: the four queue counts + the first 50 rows with their contact's
 *         name and their last message (one statement); the person's contact row, identities and newest 300
 *         events. Rows only: no JSON parsing of event data, no response body.
 *   decoded  (person only, a diagnostic without a budget) the raw rows with each event's data JSON.parse'd and
 *         the result JSON.stringify'd: the decoding the screen can not skip, to show what the ratio is made of.
 * Budgets, printed PASS/FAIL (reasons in BENCHMARKS.md): p90 <= 50 ms for the inbox, <= 150 ms for the person;
 * desk / raw <= 5x at p50 for each. The seed is read back through the desk and compared with raw SQL first.
 */
const { join } = require('node:path');
const { DatabaseSync } = require('node:sqlite');
const { openStore, createOmnithread, createDesk, classifyWithRules, routeMessage, handOff, acceptHandoff } = require('../dist/shared');
const { rng, makePeople, messageText, storePragmas, summarize, rssMiB, BUSY_TIMEOUT_MS } = require('./common');

const WORKSPACE = 'bench';
const BASE = 'http://desk.bench/omnithread/desk';
const ADMIN = { agentId: 'admin', name: 'Ada Admin', password: 'bench admin password' };
const DAY = 86_400_000;
const MINUTE = 60_000;
const CHANNELS = ['email', 'whatsapp', 'sms', 'webchat', 'telegram'];
const ACCOUNTS = { email: 'support@acme-shop.io', whatsapp: 'waba-104233', sms: '+14155550142', webchat: 'acme-shop.io', telegram: 'acme_bot' };
const RULES = {
  intents: [
    { name: 'order_status', keywords: ['order', 'tracking', 'arrived', 'parcel', 'delivery'] },
    { name: 'billing', keywords: ['charged', 'invoice', 'refund', 'card', 'subscription', 'discount code'], urgency: 'high' },
    { name: 'returns', keywords: ['return', 'too small', 'damaged', 'broken', 'exchange'] },
    { name: 'technical', keywords: ['app', 'logging me out', 'cache', 'error', 'login'] },
  ],
  negativeWords: ['broken', 'damaged', 'twice', 'not accepted', 'never received'],
};

/** The handles a person's message carries on a channel. */
function handlesOn(channel, person, i) {
  switch (channel) {
    case 'email':
      return [{ kind: 'email', value: person.email, trust: 'channel' }];
    case 'whatsapp':
      return [{ kind: 'whatsapp_id', scope: ACCOUNTS.whatsapp, value: person.phone.slice(1), trust: 'channel' }, { kind: 'phone', value: person.phone, trust: 'channel' }];
    case 'sms':
      return [{ kind: 'phone', value: person.phone, trust: 'channel' }];
    case 'webchat':
      return [{ kind: 'webchat_visitor', scope: ACCOUNTS.webchat, value: `v-${i}`, trust: 'channel' }, { kind: 'email', value: person.email, trust: 'verified' }];
    default:
      return [{ kind: 'telegram_user', scope: ACCOUNTS.telegram, value: String(100_000 + i), trust: 'channel' }];
  }
}

function makeRoster() {
  const agents = [];
  for (let i = 0; i < 20; i++) agents.push({ id: `agent-${String(i).padStart(2, '0')}`, name: `Agent ${i}`, kind: 'human', status: i % 5 === 4 ? 'away' : 'available', skills: { order_status: 3, billing: 2, returns: 2, technical: 1 }, languages: ['en'], channels: [], capacity: 400 });
  for (let i = 0; i < 4; i++) agents.push({ id: `ai-${i}`, name: `Assistant ${i}`, kind: 'ai', status: 'available', skills: { order_status: 4, returns: 3 }, languages: ['en'], channels: ['webchat', 'whatsapp'], capacity: 1000, aiConfidenceThreshold: 0.95 });
  return agents;
}

async function seedWorkspace(ot, clock, countOf, { conversations, personEvents, seed }) {
  const r = rng(seed);
  const humans = makeRoster().filter((a) => a.kind === 'human' && a.status === 'available');
  const counts = { answered: 0, followUps: 0, assigned: 0, routed: 0, handedOff: 0, accepted: 0 };

  // The long-standing customer: 5,000 events over about five weeks before the 10,000 conversations.
  const [regular] = makePeople(1, seed + 1, 'regular');
  const regularHandles = (channel) => [{ kind: 'account', value: 'cust-000042', trust: 'verified' }, ...handlesOn(channel, regular, 0)];
  const start = Date.parse('2026-10-01T08:00:00Z');
  clock.now = start;
  let regularId;
  let written = 0;
  let n = 0;
  const episodes = 5;
  while (written < personEvents) {
    const episode = Math.floor((written / personEvents) * episodes);
    const channel = CHANNELS[n % CHANNELS.length];
    const kind = r();
    if (!regularId || kind < 0.5) {
      const res = await ot.ingest({ channel, channelAccount: ACCOUNTS[channel], providerMessageId: `regular-${n}`, from: { handles: regularHandles(channel), name: regular.name }, text: messageText(r, true, channel === 'email') });
      regularId = res.contact.id;
    } else if (kind < 0.88) {
      await ot.recordOutbound(regularId, { channel, channelAccount: ACCOUNTS[channel], providerMessageId: `regular-out-${n}`, text: messageText(r, false, channel === 'email'), author: { id: 'agent-01', name: 'Agent 1', type: 'human' } });
    } else if (kind < 0.96) {
      await ot.appendEvent(regularId, { kind: 'note', text: 'Customer prefers email for invoices.', data: { author: { id: 'agent-02', name: 'Agent 2', type: 'human' } } });
    } else {
      const text = messageText(r, true, false);
      await routeMessage(ot, { contactId: regularId, channel, text, classification: classifyWithRules(text, RULES) });
    }
    n++;
    // Every event the calls wrote (messages, channel switches, conversation events, notes, decisions...).
    if (n % 200 === 0 || written > personEvents - 400) written = countOf(regularId);
    else written += 1;
    // Ten minutes between events; an idle gap (over the 7-day idle timeout) between episodes.
    const nextEpisode = Math.floor((written / personEvents) * episodes);
    clock.now += nextEpisode > episode ? 8 * DAY : 10 * MINUTE;
  }

  // 10,000 people, one open conversation each, 20 s apart.
  const people = makePeople(conversations, seed + 2, 'desk');
  const t0 = Math.max(clock.now + MINUTE, Date.parse('2026-11-08T08:00:00Z'));
  const conversationIds = [];
  for (let i = 0; i < conversations; i++) {
    const person = people[i];
    const channel = CHANNELS[Math.floor(r() * CHANNELS.length)];
    const t = t0 + i * 20_000;
    clock.now = t;
    const text = messageText(r, true, channel === 'email');
    const res = await ot.ingest({ channel, channelAccount: ACCOUNTS[channel], providerMessageId: `p${i}-1`, from: { handles: handlesOn(channel, person, i + 1), name: person.name }, text });
    const contactId = res.contact.id;
    const conversationId = res.conversation.id;
    conversationIds.push(conversationId);
    const x = r();
    if (x < 0.15) {
      clock.now = t + 4_000;
      await routeMessage(ot, { contactId, channel, text, classification: classifyWithRules(text, RULES) });
      counts.routed++;
    }
    if (r() < 0.35) {
      clock.now = t + 6_000;
      await ot.recordOutbound(contactId, { channel, channelAccount: ACCOUNTS[channel], providerMessageId: `p${i}-out`, conversationId, text: messageText(r, false, channel === 'email'), author: { id: 'ai-0', name: 'Assistant 0', type: 'ai' } });
      counts.answered++;
      if (r() < 0.5) {
        clock.now = t + 12_000;
        await ot.ingest({ channel, channelAccount: ACCOUNTS[channel], providerMessageId: `p${i}-2`, from: { handles: handlesOn(channel, person, i + 1) }, text: messageText(r, true, false) });
        counts.followUps++;
      }
    }
    const y = r();
    if (y < 0.08) {
      clock.now = t + 14_000;
      await handOff(ot, { conversationId, queue: r() < 0.5 ? 'billing' : 'default', reason: 'the customer asked for a human', fromAgentId: 'ai-0', botAttempts: ['order lookup'], maxTokens: 300 });
      counts.handedOff++;
      if (r() < 0.4) {
        clock.now = t + 16_000;
        await acceptHandoff(ot, { conversationId, agentId: humans[Math.floor(r() * humans.length)].id });
        counts.accepted++;
      }
    } else if (y < 0.4) {
      clock.now = t + 16_000;
      await ot.assignConversation(conversationId, humans[Math.floor(r() * humans.length)].id);
      counts.assigned++;
    }
  }
  clock.now = t0 + conversations * 20_000 + 10 * MINUTE;
  return { regularId, regularCalls: n, counts, conversationIds };
}

function rawQueries(raw) {
  const family = 'SELECT id FROM contacts WHERE workspace = ? AND root_id = ?';
  // The page's 50 conversations first (the sort reads only conversations), then their contact and last message.
  const inboxRows = (where, order) =>
    raw.prepare(`SELECT cv.id, cv.contact_id, c.root_id, c.name, cv.status, cv.channels, cv.last_channel, cv.assigned_agent_id, cv.waiting_since,
                        cv.opened_at, cv.last_activity_at, m.text AS last_text, m.direction AS last_direction, m.channel AS last_message_channel, m.occurred_at AS last_at
                   FROM (SELECT * FROM conversations cv WHERE cv.workspace = ? AND ${where} ORDER BY ${order} LIMIT 50) cv
                   JOIN contacts c ON c.workspace = cv.workspace AND c.id = cv.contact_id
                   LEFT JOIN events m ON m.seq = (SELECT e.seq FROM events e WHERE e.workspace = cv.workspace AND e.conversation_id = cv.id
                                                    AND e.kind IN ('message', 'call') ORDER BY e.occurred_at DESC, e.seq DESC LIMIT 1)
                  ORDER BY ${order}`);
  const q = {
    counts: [
      raw.prepare("SELECT COUNT(*) AS n FROM conversations WHERE workspace = ? AND status = 'open' AND assigned_agent_id IS NULL"),
      raw.prepare("SELECT COUNT(*) AS n FROM conversations WHERE workspace = ? AND status = 'open' AND assigned_agent_id = ?"),
      raw.prepare("SELECT COUNT(*) AS n FROM conversations WHERE workspace = ? AND status = 'open'"),
      raw.prepare("SELECT COUNT(*) AS n FROM conversations WHERE workspace = ? AND status = 'resolved' AND closed_at > ?"),
    ],
    waiting: inboxRows("cv.status = 'open' AND cv.assigned_agent_id IS NULL", 'COALESCE(cv.waiting_since, cv.last_activity_at), cv.id'),
    open: inboxRows("cv.status = 'open'", 'cv.last_activity_at DESC, cv.id DESC'),
    contact: raw.prepare('SELECT * FROM contacts WHERE workspace = ? AND id = ?'),
    identities: raw.prepare(`SELECT * FROM handles WHERE workspace = ? AND contact_id IN (${family})`),
    events: raw.prepare(`SELECT * FROM events WHERE workspace = ? AND contact_id IN (${family}) ORDER BY occurred_at DESC, seq DESC LIMIT 300`),
  };
  const counts = (now) => [q.counts[0].get(WORKSPACE).n, q.counts[1].get(WORKSPACE, ADMIN.agentId).n, q.counts[2].get(WORKSPACE).n, q.counts[3].get(WORKSPACE, now - 7 * DAY).n];
  return {
    inbox: (queue, now) => ({ counts: counts(now), rows: q[queue].all(WORKSPACE) }),
    person: (id) => ({ contact: q.contact.get(WORKSPACE, id), identities: q.identities.all(WORKSPACE, WORKSPACE, id), events: q.events.all(WORKSPACE, WORKSPACE, id) }),
  };
}

async function main({ dir, conversations = 10_000, personEvents = 5000, rounds = 15, block = 20, seed = 20260601 }) {
  const log = (line) => process.stderr.write(`  [desk] ${line}\n`);
  const path = join(dir, 'desk.sqlite');
  const clock = { now: Date.parse('2026-10-01T08:00:00Z') };
  const store = await openStore({ type: 'sqlite', path });
  const ot = createOmnithread({ store, workspace: WORKSPACE, clock: () => clock.now });
  await ot.roster().import({ agents: makeRoster() });

  const raw = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
  storePragmas(raw);
  const family = raw.prepare('SELECT COUNT(*) AS n FROM events WHERE workspace = ? AND contact_id IN (SELECT id FROM contacts WHERE workspace = ? AND root_id = ?)');
  const countOf = (rootId) => family.get(WORKSPACE, WORKSPACE, rootId).n;
  const s0 = process.hrtime.bigint();
  const seeded = await seedWorkspace(ot, clock, countOf, { conversations, personEvents, seed });
  const seedSeconds = Number(process.hrtime.bigint() - s0) / 1e9;
  log(`seeded through the facade in ${seedSeconds.toFixed(1)} s`);

  const desk = createDesk({ omnithread: async () => ot, reply: { channels: {} }, admin: ADMIN });
  const signin = await desk.handle({
    method: 'POST',
    url: `${BASE}?op=signin`,
    headers: { host: 'desk.bench', 'content-type': 'application/json', origin: 'http://desk.bench', 'sec-fetch-site': 'same-origin' },
    body: Buffer.from(JSON.stringify({ agentId: ADMIN.agentId, password: ADMIN.password })),
    ip: '203.0.113.7',
  });
  if (signin.status !== 200) throw new Error(`admin sign-in failed: ${signin.status} ${signin.body}`);
  const cookie = String(signin.headers['Set-Cookie']).split(';')[0];
  const get = async (query) => {
    const res = await desk.handle({ method: 'GET', url: `${BASE}?${query}`, headers: { host: 'desk.bench', cookie }, ip: '203.0.113.7' });
    if (res.status !== 200) throw new Error(`GET ${query}: ${res.status} ${String(res.body).slice(0, 300)}`);
    return res.body;
  };

  const q = rawQueries(raw);
  const rows = Object.fromEntries(['contacts', 'handles', 'conversations', 'events', 'merges'].map((t) => [t, raw.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE workspace = ?`).get(WORKSPACE).n]));
  const kinds = Object.fromEntries(raw.prepare('SELECT kind, COUNT(*) AS n FROM events WHERE workspace = ? GROUP BY kind ORDER BY n DESC').all(WORKSPACE).map((k) => [k.kind, k.n]));

  // What was seeded reads back through the facade and the desk the same as through raw SQL.
  const regularId = seeded.regularId;
  const regular = await ot.getContact(regularId);
  const personEventCount = countOf(regularId);
  const regularConversations = await ot.conversations(regularId);
  const checks = [];
  const check = (what, ok, detail) => {
    checks.push({ what, ok: Boolean(ok), detail });
    if (!ok) throw new Error(`seed check failed: ${what} (${detail})`);
  };
  const now = clock.now;
  for (const queue of ['waiting', 'open']) {
    const view = JSON.parse(await get(`op=inbox&queue=${queue}`));
    const base = q.inbox(queue, now);
    check(`inbox ${queue}: counts`, JSON.stringify([view.counts.waiting, view.counts.mine, view.counts.open, view.counts.resolved]) === JSON.stringify(base.counts), `${JSON.stringify(view.counts)} vs ${base.counts}`);
    check(`inbox ${queue}: the same 50 conversations in the same order`, view.items.map((i) => i.conversationId).join() === base.rows.map((row) => row.id).join(), `${view.items.length} items`);
    check(`inbox ${queue}: last messages`, view.items.every((item, k) => item.lastMessage && item.lastMessage.text === base.rows[k].last_text.slice(0, 280)), 'text of each row');
  }
  const personView = JSON.parse(await get(`op=person&contactId=${regularId}`));
  const basePerson = q.person(regularId);
  const viewEvents = personView.episodes.flatMap((e) => e.events.map((ev) => ev.id));
  check('person: one contact, no merges', regular.mergedContactIds.length === 0 && personView.contact.id === regularId, regularId);
  check('person: identities', personView.identities.length === basePerson.identities.length && basePerson.identities.length >= 6, `${personView.identities.length} vs ${basePerson.identities.length}`);
  check('person: newest 300 events (status events aside)', new Set(viewEvents).size === viewEvents.length && viewEvents.every((id) => basePerson.events.some((e) => e.id === id)) && viewEvents.includes(basePerson.events[0].id), `${viewEvents.length} in the view`);
  check(`person: ${personEvents} events or more, several conversations`, personEventCount >= personEvents && regularConversations.length >= 3, `${personEventCount} events, ${regularConversations.length} conversations`);
  log(`checks passed: ${checks.length}`);

  const screens = [
    { key: 'inboxWaiting', label: 'inbox, queue=waiting', desk: () => get('op=inbox&queue=waiting'), raw: () => q.inbox('waiting', now) },
    { key: 'inboxOpen', label: 'inbox, queue=open', desk: () => get('op=inbox&queue=open'), raw: () => q.inbox('open', now) },
    {
      key: 'person',
      label: `person (${personEventCount.toLocaleString('en-US')} events)`,
      desk: () => get(`op=person&contactId=${regularId}`),
      raw: () => q.person(regularId),
      // Diagnostic, not budgeted: the same rows, each event's data JSON decoded, and the rows serialised as a body.
      decoded: () => {
        const p = q.person(regularId);
        for (const e of p.events) e.data = JSON.parse(e.data);
        return JSON.stringify(p);
      },
    },
  ];
  const times = Object.fromEntries(screens.map((s) => [s.key, { desk: [], raw: [], decoded: [] }]));
  const runBlock = async (screen, side, into) => {
    for (let i = 0; i < block; i++) {
      const t0 = process.hrtime.bigint();
      await screen[side]();
      const t1 = process.hrtime.bigint();
      if (into) into.push(t1 - t0);
    }
  };
  for (const screen of screens) {
    await runBlock(screen, 'desk');
    await runBlock(screen, 'raw');
    if (screen.decoded) await runBlock(screen, 'decoded');
  }
  const m0 = process.hrtime.bigint();
  for (let round = 0; round < rounds; round++) {
    for (const screen of screens) {
      const order = (round % 2 ? ['raw', 'desk'] : ['desk', 'raw']).concat(screen.decoded ? ['decoded'] : []);
      for (const side of order) await runBlock(screen, side, times[screen.key][side]);
    }
  }
  const measureSeconds = Number(process.hrtime.bigint() - m0) / 1e9;
  const responseBytes = Object.fromEntries(await Promise.all(screens.map(async (s) => [s.key, Buffer.byteLength(await s.desk())])));

  const budgets = {
    inboxWaiting: { p90Ms: 50, ratio: 5 },
    inboxOpen: { p90Ms: 50, ratio: 5 },
    person: { p90Ms: 150, ratio: 5 },
  };
  const results = {};
  for (const s of screens) {
    const d = summarize(times[s.key].desk);
    const b = summarize(times[s.key].raw);
    const budget = budgets[s.key];
    const ratio = d.p50 / b.p50;
    const decoded = times[s.key].decoded.length ? summarize(times[s.key].decoded) : undefined;
    results[s.key] = { label: s.label, desk: d, raw: b, ...(decoded ? { decoded, ratioDecodedP50: d.p50 / decoded.p50 } : {}), ratioP50: ratio, ratioP90: d.p90 / b.p90, budget, pass: d.p90 <= budget.p90Ms && ratio <= budget.ratio, bytes: responseBytes[s.key] };
    log(`${s.label}: desk p50 ${d.p50.toFixed(2)} p90 ${d.p90.toFixed(2)} ms; raw p50 ${b.p50.toFixed(2)} p90 ${b.p90.toFixed(2)} ms; ${ratio.toFixed(1)}x`);
  }
  const queueCounts = q.inbox('waiting', now).counts;
  const memory = rssMiB();
  raw.close();
  await store.close();
  return {
    conversations,
    personEvents: personEventCount,
    personConversations: regularConversations.length,
    personIdentities: basePerson.identities.length,
    seeded: { seconds: seedSeconds, ...seeded.counts, regularCalls: seeded.regularCalls },
    rows,
    kinds,
    queueCounts,
    checks,
    rounds,
    block,
    measureSeconds,
    results,
    memory,
  };
}

/** The report lines of this part, in the style of run.js. */
function report(f, { int, ms }) {
  const out = [];
  const [waiting, mine, open, resolved] = f.queueCounts;
  out.push(`(f) Desk first screen on SQLite: ${int(f.conversations)} people with an open conversation each, and one person with ${int(f.personEvents)} events`);
  out.push(`    in ${f.personConversations} conversations with ${f.personIdentities} identities; seeded through the facade only (ingest, recordOutbound, appendEvent, routeMessage,`);
  out.push(`    handOff, acceptHandoff, assignConversation) in ${f.seeded.seconds.toFixed(1)} s: ${int(f.seeded.answered)} answered, ${int(f.seeded.followUps)} written to again, ${int(f.seeded.routed)} routed,`);
  out.push(`    ${int(f.seeded.handedOff)} handed off (${int(f.seeded.accepted)} accepted), ${int(f.seeded.assigned)} assigned; ${int(f.rows.events)} events (${Object.entries(f.kinds).map(([k, n]) => `${k} ${int(n)}`).join(', ')})`);
  out.push(`    queues: waiting ${int(waiting)}, mine ${int(mine)}, open ${int(open)}, resolved ${int(resolved)}; ${f.checks.length} read-back checks (desk vs raw SQL) passed`);
  out.push(`    Desk: Desk.handle() GET with an admin's session cookie (session, roster, views, JSON body). Raw: node:sqlite on the same file, prepared`);
  out.push(`    once: 4 queue counts + the first 50 rows with name and last message (one statement); the person's contact, identities, newest 300 events.`);
  out.push(`    ${f.rounds} rounds x ${f.block} calls per side, sides alternating in blocks (${f.measureSeconds.toFixed(0)} s)`);
  out.push(`    screen                          desk p50   desk p90    raw p50    raw p90   desk/raw p50  p90   budget (p90, x raw)       body`);
  for (const r of Object.values(f.results)) {
    const budget = `<= ${r.budget.p90Ms} ms, <= ${r.budget.ratio}x`;
    out.push(`    ${r.label.padEnd(30)} ${ms(r.desk.p50).padStart(9)} ${ms(r.desk.p90).padStart(10)} ${ms(r.raw.p50).padStart(10)} ${ms(r.raw.p90).padStart(10)} ${`${r.ratioP50.toFixed(1)}x`.padStart(12)} ${`${r.ratioP90.toFixed(1)}x`.padStart(5)}   ${budget.padEnd(20)} ${(r.pass ? 'PASS' : 'FAIL').padEnd(4)} ${`${Math.round(r.bytes / 1024)} KiB`.padStart(8)}`);
  }
  for (const r of Object.values(f.results).filter((x) => x.decoded)) {
    out.push(`    diagnostic, ${r.label}: raw + each event's data JSON.parse'd + the rows JSON.stringify'd (the decoding the screen can not skip),`);
    out.push(`    in the same rounds: p50 ${ms(r.decoded.p50)} ms, p90 ${ms(r.decoded.p90)} ms; desk / that ${r.ratioDecodedP50.toFixed(1)}x at p50`);
  }
  out.push(`    memory (RSS, after GC) of this part's process at the end: ${f.memory.rss} MiB`);
  return out;
}

module.exports = { main, report };
