'use strict';
/**
 * The soak's load: distinct messages from a few thousand people, each POSTed once, with redeliveries of
 * already-sent ones (the same bytes, the same signature) interleaved, sent over a bounded number of
 * keep-alive connections. Per message id it records whether a 200 came back (acknowledged), and per
 * request the latency, the answer, or how it failed.
 */
const http = require('node:http');
const { rng, makePeople, messageText, hmacSignature, postOver, failureKind } = require('../common');

/**
 * `count` signed generic-channel deliveries. A person writes by email, by phone or with both; the body
 * names no channel, so the node's channel name (generic) is recorded.
 */
function makeMessages(count, peopleCount, seed, secret) {
  const r = rng(seed);
  const people = makePeople(peopleCount, seed + 1, 'soak');
  const messages = new Array(count);
  const start = Date.parse('2026-11-02T08:00:00Z');
  for (let i = 0; i < count; i++) {
    const person = people[Math.floor(r() * people.length)];
    const pick = r();
    const from = { name: person.name, ...(pick < 0.8 ? { email: person.email } : {}), ...(pick >= 0.45 ? { phone: person.phone } : {}) };
    const id = `soak-${String(i).padStart(6, '0')}`;
    // A message's own time orders the timeline; 20 s apart, so 20,000 messages span about 4.6 days.
    const body = JSON.stringify({ messageId: id, from, text: messageText(r, true, r() < 0.2), sentAt: new Date(start + i * 20_000).toISOString() });
    messages[i] = { id, body, signature: hmacSignature(secret, body) };
  }
  return messages;
}

/**
 * The order of sends: every message once, in order, plus `rate` x count redeliveries, each placed after
 * the first send of the message it repeats. A fifth come right behind it (a provider that retries at
 * once: often while the first is still in flight), the rest up to a few thousand sends later (a retry
 * after a timeout). Returns message indexes.
 */
function makeSchedule(count, rate, seed) {
  const r = rng(seed + 2);
  const redeliveries = Math.round(count * rate);
  const keys = new Float64Array(count + redeliveries);
  const order = new Int32Array(count + redeliveries);
  for (let i = 0; i < count; i++) {
    keys[i] = i;
    order[i] = i;
  }
  for (let k = 0; k < redeliveries; k++) {
    const of = Math.floor(r() * count);
    const delay = r() < 0.2 ? 1 + r() * 16 : 16 + r() * 3000;
    keys[count + k] = of + delay;
    order[count + k] = of;
  }
  const idx = Array.from(order.keys()).sort((a, b) => keys[a] - keys[b]);
  return Int32Array.from(idx, (i) => order[i]);
}

class Load {
  constructor({ url, messages, concurrency, timeoutMs = 30_000 }) {
    this.url = new URL(url);
    this.messages = messages;
    this.concurrency = concurrency;
    this.timeoutMs = timeoutMs;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const n = messages.length;
    this.sends = new Uint16Array(n);
    this.inFlight = new Uint16Array(n);
    this.acked = new Uint8Array(n); // 0 no, 1 by the first process, 2 by the restarted one
    this.recordedAnswers = new Uint16Array(n); // 200 answers that said "recorded": more than 1 = the flow ran twice
    this.latenciesMs = [];
    this.count = { requests: 0, first: 0, redeliveries: 0, resends: 0, redeliveriesInFlight: 0, ok: 0, okRecorded: 0, okDuplicate: 0 };
    this.failures = {};
    this.epoch = 1; // which Node-RED process a request went to
    this.down = false; // set at the kill: no new requests until the restart
    this.inFlightTotal = 0;
  }

  post(i) {
    const m = this.messages[i];
    return postOver(this.agent, this.url, m.body, { 'x-omnithread-signature': m.signature }, this.timeoutMs);
  }

  /** One request for message i, counted under `purpose` (first / redeliveries / resends). */
  async send(i, purpose) {
    const epoch = this.epoch;
    this.count.requests++;
    this.count[purpose]++;
    if (purpose === 'redeliveries' && this.inFlight[i] > 0) this.count.redeliveriesInFlight++;
    this.sends[i]++;
    this.inFlight[i]++;
    this.inFlightTotal++;
    const t0 = performance.now();
    try {
      const { status, text } = await this.post(i);
      if (status === 200) {
        this.latenciesMs.push(performance.now() - t0);
        this.count.ok++;
        if (!this.acked[i]) this.acked[i] = epoch;
        const body = JSON.parse(text);
        if (body.recorded > 0) {
          this.count.okRecorded++;
          this.recordedAnswers[i]++;
        } else this.count.okDuplicate++;
      } else {
        const kind = status === 503 ? '503' : `status ${status}`;
        this.failures[kind] = (this.failures[kind] ?? 0) + 1;
        if (!this.firstFailureText?.[kind]) this.firstFailureText = { ...this.firstFailureText, [kind]: text.slice(0, 300) };
      }
    } catch (error) {
      // A request that was in flight when the process died is a kill casualty, whatever the socket said.
      const kind = epoch !== this.epoch || (this.down && epoch === this.killedEpoch) ? `${failureKind(error)} (kill)` : failureKind(error);
      this.failures[kind] = (this.failures[kind] ?? 0) + 1;
    } finally {
      this.inFlight[i]--;
      this.inFlightTotal--;
    }
  }

  /**
   * Runs `next()` (a message index, or undefined when done) on `concurrency` workers until it is done or
   * the load is marked down. `onSend(n)` is told after each dispatch, with the phase's dispatch count.
   */
  async run(next, purposeOf, onSend) {
    let sent = 0;
    const worker = async () => {
      for (;;) {
        if (this.down) return;
        const i = next();
        if (i === undefined) return;
        const done = this.send(i, purposeOf(i));
        sent++;
        onSend?.(sent);
        await done;
      }
    };
    const t0 = performance.now();
    const okBefore = this.count.ok;
    await Promise.all(Array.from({ length: this.concurrency }, worker));
    return { seconds: (performance.now() - t0) / 1000, requests: sent, ok: this.count.ok - okBefore };
  }

  /** The kill: no new requests from now on; whatever is in flight fails against the dead process. */
  markDown() {
    this.down = true;
    this.killedEpoch = this.epoch;
    return this.inFlightTotal;
  }

  /** After the restart: new requests go to the new process, over new connections. */
  markUp() {
    this.agent.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: this.concurrency });
    this.epoch++;
    this.down = false;
  }

  /** Message indexes sent at least once and never acknowledged. */
  unacknowledged() {
    const out = [];
    for (let i = 0; i < this.messages.length; i++) if (this.sends[i] > 0 && !this.acked[i]) out.push(i);
    return out;
  }

  close() {
    this.agent.destroy();
  }
}

/**
 * The baseline: the same client, connections and bodies against Node-RED's own http in -> http response,
 * in the same Node-RED process. Nothing is recorded there, so this is what HTTP and Node-RED cost alone.
 */
async function baseline(url, messages, requests, concurrency) {
  const warm = new Load({ url, messages, concurrency });
  let w = 0;
  await warm.run(() => (w < 500 ? w++ : undefined), () => 'first'); // JIT and connections warm, as they are for omnithread-in
  warm.close();
  const load = new Load({ url, messages, concurrency });
  let k = 0;
  const result = await load.run(
    () => (k < requests ? k++ % messages.length : undefined),
    () => 'first',
  );
  load.close();
  return { ...result, failures: load.failures, latenciesMs: load.latenciesMs };
}

module.exports = { makeMessages, makeSchedule, Load, baseline };
