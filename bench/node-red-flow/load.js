'use strict';
/**
 * The load generator of bench/node-red-flow.js, in a child process of its own (forked by the part), so its
 * work is not on the measured Node-RED's event loop nor on the part's.
 *
 * The messages: signed WhatsApp Cloud API deliveries ("messages" webhooks, one text message each, as Meta
 * posts them), every one with a new wamid: new messages, never redeliveries. Most come from a new person
 * (a new wa_id), a share from a person who wrote before (BENCH_NODERED_RETURNING). Made up front, before
 * any timing, so the generator's own work is the same for every side.
 *
 * A run is a list of blocks, each `count` requests to one side's URL over `concurrency` keep-alive
 * connections (node:http Agent). Sides that ingest take the next unsent messages; the bare side sends the
 * same bodies (the same bytes to parse) without using them up. After each block, when the messages sent
 * crossed a multiple of `sampleEvery`, the RSS of process `rssPid` is read from /proc. Around each measured
 * block, the CPU time (/proc/<pid>/stat) of the processes in `cpu` is read: the CPU each side costs them
 * per request, a figure that does not depend on what else the machine runs.
 *
 * IPC: { type: 'init', ... } -> { type: 'ready', ... }; { type: 'run', ... } -> { type: 'result', ... };
 * { type: 'exit' }.
 */
const http = require('node:http');
const fs = require('node:fs');
const { rng, makePeople, messageText, hmacSignature, postOver, failureKind } = require('../common');
const { procMemory } = require('../node-red-process');
// The deliveries' format, as the reliability tests make them.
const { whatsappTextDelivery } = require('../../test/support/whatsapp-delivery');

let messages = []; // { id, body, signature }
let personOf = new Int32Array(0); // the person (numbered in order of their first message) of each message
let cursor = 0; // next message never sent
let bareCursor = 0;

/** `count` deliveries, a share `returning` of them from someone who wrote before. */
function makeMessages({ count, returning, seed, secret, tag }) {
  const r = rng(seed);
  const choice = new Int32Array(count); // person index per message
  let people = 0;
  for (let i = 0; i < count; i++) choice[i] = people > 0 && r() < returning ? Math.floor(r() * people) : people++;
  const persons = makePeople(people, seed + 1, tag);
  const startSeconds = Math.floor(Date.now() / 1000) - 3 * 86_400; // a message a second or less, ending before now
  const step = Math.min(1, (2.5 * 86_400) / Math.max(1, count));
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    const person = persons[choice[i]];
    const waId = person.phone.slice(1);
    const id = `wamid.${tag}-${String(i).padStart(7, '0')}`;
    const body = whatsappTextDelivery({ waId, wamid: id, name: person.name, text: messageText(r, true, r() < 0.2), timestamp: String(startSeconds + Math.floor(i * step)) });
    out[i] = { id, body, signature: hmacSignature(secret, body) };
  }
  return { messages: out, people, personOf: choice };
}

/** utime + stime of a process, in clock ticks (1/100 s), from /proc/<pid>/stat; 0 once it has gone. */
function cpuTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** The PostgreSQL server's processes: the postmaster and its children (one backend per connection, the writers...). */
function postgresPids(postmaster) {
  const pids = [postmaster];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** CPU ticks used so far by each process of each group: { name: [pids] }, or { postgres: postmaster pid } with its children. */
function cpuNow(groups) {
  const out = {};
  for (const [name, pids] of Object.entries(groups ?? {})) {
    const list = typeof pids === 'number' ? postgresPids(pids) : pids;
    out[name] = new Map(list.map((pid) => [pid, cpuTicks(pid)]));
  }
  return out;
}

/**
 * CPU seconds each group used between two cpuNow() reads: per process, so one that ended in between (a
 * PostgreSQL backend, an autovacuum worker) takes nothing away; one that started counts from zero.
 */
function cpuUsed(before, after) {
  const out = {};
  for (const [name, now] of Object.entries(after)) {
    let ticks = 0;
    for (const [pid, t] of now) ticks += t - (before[name]?.get(pid) ?? 0);
    out[name] = ticks / 100;
  }
  return out;
}

/** Whether an answer is the one the side must give: the echo, the ack of one recorded message, the timeline holding it. */
function answered(expect, status, text, message) {
  if (status !== 200) return `status ${status}`;
  if (expect === 'recorded') {
    try {
      const body = JSON.parse(text);
      return body.recorded === 1 ? undefined : `not recorded (${text.slice(0, 80)})`;
    } catch {
      return 'not JSON';
    }
  }
  if (expect === 'timeline') return text.includes(message.id) ? undefined : 'timeline without the message';
  return undefined;
}

function percentiles(values, n) {
  const sorted = Float64Array.from(values.subarray(0, n)).sort();
  const at = (p) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0;
  return { n: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}

class Side {
  constructor(name, expect) {
    this.name = name;
    this.expect = expect;
    this.latencies = new Float64Array(1024);
    this.n = 0;
    this.requests = 0;
    this.ok = 0;
    this.seconds = 0;
    this.blocks = 0;
    this.blockRates = [];
    this.failures = {};
    this.failureExamples = {};
    this.cpuSeconds = {}; // CPU used by each measured process group during this side's measured blocks
  }

  latency(ms) {
    if (this.n === this.latencies.length) {
      const bigger = new Float64Array(this.latencies.length * 2);
      bigger.set(this.latencies);
      this.latencies = bigger;
    }
    this.latencies[this.n++] = ms;
  }

  fail(kind, text) {
    this.failures[kind] = (this.failures[kind] ?? 0) + 1;
    if (text && !this.failureExamples[kind]) this.failureExamples[kind] = text.slice(0, 300);
  }

  result() {
    return {
      requests: this.requests,
      ok: this.ok,
      seconds: this.seconds,
      blocks: this.blocks,
      perSecond: this.ok / this.seconds,
      latencyMs: percentiles(this.latencies, this.n),
      blockPerSecond: percentiles(Float64Array.from(this.blockRates), this.blockRates.length),
      failures: this.failures,
      failureExamples: this.failureExamples,
      cpuSeconds: this.cpuSeconds,
      cpuMsPerRequest: Object.fromEntries(Object.entries(this.cpuSeconds).map(([name, s]) => [name, (s * 1000) / this.ok])),
    };
  }
}

/**
 * `targets`: side -> { url, expect ('echo' | 'recorded' | 'timeline'), ingests }; `blocks`: [{ side, count,
 * measure }] in order (unmeasured blocks warm up: sent and sampled, not timed).
 */
async function run({ targets, blocks, concurrency, timeoutMs = 30_000, rssPid, sampleEvery, cpu }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const urls = Object.fromEntries(Object.entries(targets).map(([side, t]) => [side, new URL(t.url)]));
  const sides = Object.fromEntries(Object.entries(targets).map(([side, t]) => [side, new Side(side, t.expect)]));
  const samples = [];
  let sent = 0; // messages sent by this run (ingesting sides)
  let requests = 0;
  const sample = () => {
    const m = rssPid ? procMemory(rssPid) : undefined;
    if (m) samples.push({ messages: sent, requests, rssMiB: Math.round(m.rss / 102.4) / 10, anonMiB: Math.round(m.anon / 102.4) / 10 });
  };
  sample();
  let nextSample = sampleEvery;
  const started = performance.now();
  for (const block of blocks) {
    const target = targets[block.side];
    const side = sides[block.side];
    const url = urls[block.side];
    let k = 0;
    const next = () => {
      if (k >= block.count) return undefined;
      k++;
      if (target.ingests) {
        if (cursor >= messages.length) return undefined;
        sent++;
        return messages[cursor++];
      }
      return messages[bareCursor++ % messages.length];
    };
    const worker = async () => {
      for (let message = next(); message; message = next()) {
        requests++;
        side.requests++;
        const t0 = performance.now();
        try {
          const { status, text } = await postOver(agent, url, message.body, { 'x-hub-signature-256': message.signature }, timeoutMs);
          const wrong = answered(side.expect, status, text, message);
          if (wrong) side.fail(wrong.startsWith('status') ? wrong : wrong.split(' (')[0], text);
          else {
            side.ok++;
            if (block.measure) side.latency(performance.now() - t0);
          }
        } catch (error) {
          side.fail(failureKind(error));
        }
      }
    };
    const okBefore = side.ok;
    const cpu0 = block.measure ? cpuNow(cpu) : undefined;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - t0) / 1000;
    if (block.measure) {
      for (const [name, used] of Object.entries(cpuUsed(cpu0, cpuNow(cpu)))) side.cpuSeconds[name] = (side.cpuSeconds[name] ?? 0) + used;
      side.seconds += seconds;
      side.blocks++;
      side.blockRates.push((side.ok - okBefore) / seconds);
    } else {
      // A warm-up block's answers are not the measured ones.
      side.ok = okBefore;
      side.requests -= block.count;
    }
    if (sampleEvery && sent >= nextSample) {
      sample();
      while (nextSample <= sent) nextSample += sampleEvery;
    }
  }
  // The end of the run (after the last blocks, which may be bare ones): the last sample, or one more.
  if (samples.at(-1)?.messages === sent) samples.pop();
  sample();
  agent.destroy();
  return {
    sides: Object.fromEntries(Object.entries(sides).map(([name, side]) => [name, side.result()])),
    samples,
    messagesSent: sent,
    requests,
    seconds: (performance.now() - started) / 1000,
    messagesLeft: messages.length - cursor,
    // Messages sent since the last rewind, and the people they came from (new people are numbered in order).
    messagesSentInAll: cursor,
    peopleSentInAll: cursor ? personOf.subarray(0, cursor).reduce((max, p) => Math.max(max, p), 0) + 1 : 0,
  };
}

if (require.main === module) {
  process.on('message', async (command) => {
    try {
      if (command.type === 'init') {
        const t0 = performance.now();
        const made = makeMessages(command);
        messages = made.messages;
        personOf = made.personOf;
        cursor = 0;
        bareCursor = 0;
        const bytes = messages.reduce((s, m) => s + m.body.length, 0);
        process.send({ type: 'ready', messages: messages.length, people: made.people, bodyBytesMean: Math.round(bytes / Math.max(1, messages.length)), seconds: (performance.now() - t0) / 1000 });
      } else if (command.type === 'rewind') {
        // The same messages again, for a process that has not seen them (the bare Node-RED, a new store).
        cursor = 0;
        bareCursor = 0;
        process.send({ type: 'rewound' });
      } else if (command.type === 'run') {
        process.send({ type: 'result', result: await run(command) });
      } else if (command.type === 'exit') {
        process.exit(0);
      }
    } catch (error) {
      process.send({ type: 'error', error: error.stack || String(error) });
    }
  });
}

module.exports = { makeMessages };
