'use strict';
/**
 * (e) Soak: a real Node-RED 5 in a child process, the way a user runs it (user dir, settings file, this
 * package in its node_modules), with one flow: omnithread-in (generic channel, signed with a secret,
 * respond "ack") on an omnithread-store SQLite file, wired to nothing. The load: distinct messages from a
 * few thousand people plus 30% redeliveries, over 16 keep-alive connections. About halfway, with requests
 * in flight, the Node-RED process gets kill -9; it is started again on the same user dir and store, every
 * message not acknowledged is sent again, and the rest of the load follows. At the end Node-RED is stopped
 * gracefully and the SQLite file is checked: every acknowledged message recorded once (lost, duplicated),
 * the dedupe keys consistent with the events, integrity_check. The process's RSS is sampled every 250 ms.
 *
 * Baseline, same client and same Node-RED process: Node-RED's own http in -> http response on another
 * path (nothing recorded), run after the memory figures so they do not include it.
 */
const fs = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { makeMessages, makeSchedule, Load, baseline } = require('./soak/load');
const { freePort, start, waitForStatus, memoryAfterGc, stopGracefully, killHard, logSummary, RssSampler } = require('./node-red-process');
const { makeUserDir } = require('./soak/node-red');
const { checkStore, checkCrashCopy } = require('./soak/check');

const WEBHOOK_PATH = '/omnithread/soak';
const BASELINE_PATH = '/soak-baseline';
const SECRET = 'soak-bench-secret-5f0c2a';
const KiB_TO_MiB = (kib) => Math.round((kib / 1024) * 10) / 10;
const MiB = (bytes) => Math.round((bytes / 1048576) * 10) / 10;

/** Nearest-rank percentiles of latencies already in milliseconds. */
function percentiles(values) {
  const sorted = Float64Array.from(values).sort();
  const at = (p) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0;
  return { n: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}

/** RSS now, and after a full GC inside Node-RED (its heap then holds only what is still referenced). */
async function memoryNow(sampler, base) {
  sampler.now();
  const { rss, anon } = sampler.last();
  const gc = await memoryAfterGc(base);
  await sleep(250); // let the sampler see RSS after the collection
  sampler.now();
  const after = sampler.last();
  return {
    rssMiB: KiB_TO_MiB(rss),
    anonMiB: KiB_TO_MiB(anon),
    afterGc: { rssMiB: KiB_TO_MiB(after.rss), anonMiB: KiB_TO_MiB(after.anon), heapUsedMiB: MiB(gc.heapUsed), heapTotalMiB: MiB(gc.heapTotal), externalMiB: MiB(gc.external), gc: gc.gc },
  };
}

async function main(options) {
  const c = options;
  const dir = join(c.dir, 'soak');
  const userDir = join(dir, 'node-red');
  const sqlitePath = join(dir, 'soak.sqlite');
  fs.mkdirSync(userDir, { recursive: true });
  makeUserDir(userDir, { sqlitePath, webhookPath: WEBHOOK_PATH, baselinePath: BASELINE_PATH, secret: SECRET });
  const messages = makeMessages(c.messages, c.people, c.seed, SECRET);
  const schedule = makeSchedule(c.messages, c.redeliveryRate, c.seed);
  const ids = messages.map((m) => m.id);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const url = `${base}${WEBHOOK_PATH}`;
  const started = performance.now();
  const loadAverageAtStart = os.loadavg()[0];
  const children = [];
  const result = { config: { ...c, dir: undefined, requestsPlanned: schedule.length, bodyBytesMean: Math.round(messages.reduce((s, m) => s + m.body.length, 0) / messages.length) } };

  try {
    // 1. The first Node-RED, until kill -9.
    const first = start(userDir, port, 'node-red.log', c.nodeFlags);
    children.push(first);
    const firstReadySeconds = await waitForStatus(first, url, 401);
    const sampler1 = new RssSampler(first.pid, c.sampleMs);
    await sleep(2000); // past start-up work (flows started, first GC cycles)
    const mem1 = { before: await memoryNow(sampler1, base) };
    sampler1.mark();

    const load = new Load({ url, messages, concurrency: c.concurrency, timeoutMs: c.timeoutMs });
    let cursor = 0;
    let sampler = sampler1;
    // RSS at every tenth of the planned requests, across both processes: a leak grows with the requests.
    const progress = [];
    const tenth = Math.max(1, Math.floor(schedule.length / 10));
    const next = () => {
      if (cursor % tenth === 0 && cursor > 0 && cursor < schedule.length) progress.push({ requests: cursor, process: sampler === sampler1 ? 'killed' : 'restarted', rssMiB: KiB_TO_MiB(sampler.now()) });
      return cursor < schedule.length ? schedule[cursor++] : undefined;
    };
    const purpose = (i) => (load.sends[i] === 0 ? 'first' : 'redeliveries');
    const killAt = Math.max(1, Math.round(schedule.length * c.killAt));
    let kill;
    const phase1 = await load.run(next, purpose, (n) => {
      if (n !== killAt) return;
      // The request just dispatched and the other workers' are in flight: the process dies under them.
      kill = { atRequest: n, inFlight: load.markDown(), at: performance.now(), rssKiB: sampler1.now(), hwmKiB: sampler1.last()?.hwm };
      kill.exited = killHard(first);
    });
    if (!kill) throw new Error(`the load ended before the kill point (${killAt} of ${schedule.length} requests)`);
    const exit = await kill.exited;
    sampler1.stop();
    mem1.peakMiB = KiB_TO_MiB(Math.max(sampler1.peak(), kill.rssKiB ?? 0));
    mem1.kernelPeakMiB = KiB_TO_MiB(kill.hwmKiB ?? 0);
    mem1.atKillMiB = KiB_TO_MiB(kill.rssKiB ?? 0);
    const ackedBeforeKill = Uint8Array.from(load.acked);
    const crash = checkCrashCopy(sqlitePath, join(dir, 'crash-copy.sqlite'), { ids, ackedBeforeKill: (i) => ackedBeforeKill[i] > 0 });
    const afterKill = { unacknowledged: load.unacknowledged().length, failures: { ...load.failures } };

    // 2. The same user dir and store again; the unacknowledged first, then the rest of the load.
    const second = start(userDir, port, 'node-red.log', c.nodeFlags);
    children.push(second);
    const secondReadySeconds = await waitForStatus(second, url, 401);
    const downSeconds = (performance.now() - kill.at) / 1000;
    const sampler2 = new RssSampler(second.pid, c.sampleMs);
    sampler = sampler2;
    await sleep(2000);
    const mem2 = { before: await memoryNow(sampler2, base) };
    sampler2.mark();
    load.markUp();
    const resend = load.unacknowledged();
    let r = 0;
    let kind; // a worker asks next() then at once how to count it
    const phase2 = await load.run(
      () => {
        if (r < resend.length) {
          kind = 'resends';
          return resend[r++];
        }
        const i = next();
        kind = i === undefined ? undefined : purpose(i);
        return i;
      },
      () => kind,
    );
    // Anything still unacknowledged (a failure after the restart) gets up to three more tries, as a provider would.
    const finalRounds = [];
    for (let round = 0; round < 3; round++) {
      const left = load.unacknowledged();
      if (!left.length) break;
      let k = 0;
      finalRounds.push(await load.run(() => (k < left.length ? left[k++] : undefined), () => 'resends'));
    }
    // The load's own time: both processes' phases and the time down, not this benchmark's pause to read memory.
    const loadSeconds = phase1.seconds + downSeconds + phase2.seconds + finalRounds.reduce((sum, p) => sum + p.seconds, 0);
    mem2.peakMiB = KiB_TO_MiB(sampler2.peak());
    mem2.kernelPeakMiB = KiB_TO_MiB(sampler2.last()?.hwm ?? 0);
    await sleep(c.idleSeconds * 1000);
    mem2.idleMiB = KiB_TO_MiB(sampler2.now());
    await sleep(c.settleSeconds * 1000);
    mem2.settledMiB = KiB_TO_MiB(sampler2.now());
    mem2.after = await memoryNow(sampler2, base);
    sampler2.stop();

    // 3. The baseline on the same process, then a graceful stop, then the file.
    const base1 = await baseline(`${base}${BASELINE_PATH}`, messages, c.baselineRequests, c.concurrency);
    const stop = await stopGracefully(second);
    const store = checkStore(sqlitePath, { ids, acked: (i) => load.acked[i] > 0, sent: (i) => load.sends[i] > 0 });

    const latency = percentiles(load.latenciesMs);
    const baseLatency = percentiles(base1.latenciesMs);
    let ackedByFirst = 0;
    let ackedOnlyAsDuplicate = 0;
    let recordedTwice = 0;
    for (let i = 0; i < ids.length; i++) {
      if (load.acked[i] === 1) ackedByFirst++;
      if (load.acked[i] && load.recordedAnswers[i] === 0) ackedOnlyAsDuplicate++;
      if (load.recordedAnswers[i] > 1) recordedTwice++;
    }
    Object.assign(result, {
      requests: { ...load.count, phase1, phase2, finalRounds, unacknowledgedAtEnd: load.unacknowledged().length, neverSent: load.sends.filter((s) => s === 0).length },
      failures: load.failures,
      failureExamples: load.firstFailureText ?? {},
      acknowledged: { ids: store.ackedIds, byFirstProcess: ackedByFirst, onlyAsRedelivery: ackedOnlyAsDuplicate, answeredRecordedTwice: recordedTwice },
      kill: { atRequest: kill.atRequest, ofRequests: schedule.length, inFlight: kill.inFlight, exit, unacknowledgedAfter: afterKill.unacknowledged, failuresBeforeRestart: afterKill.failures, downSeconds },
      crashCopy: crash,
      store,
      throughput: {
        firstProcessOkPerSecond: phase1.ok / phase1.seconds,
        restartedProcessOkPerSecond: phase2.ok / phase2.seconds,
        overallOkPerSecond: load.count.ok / loadSeconds,
        baselineOkPerSecond: base1.ok / base1.seconds,
        loadSeconds,
        downSeconds,
      },
      latencyMs: latency,
      baseline: { requests: base1.requests, ok: base1.ok, failures: base1.failures, latencyMs: baseLatency, path: BASELINE_PATH },
      ratios: {
        okPerSecondOverBaseline: phase2.ok / phase2.seconds / (base1.ok / base1.seconds),
        p50OverBaseline: latency.p50 / baseLatency.p50,
        p99OverBaseline: latency.p99 / baseLatency.p99,
      },
      memory: { first: mem1, restarted: mem2, progress, sampleMs: c.sampleMs },
      nodeRed: { firstReadySeconds, secondReadySeconds, stop, log: logSummary(first.logFile) },
      targets: { lost: store.lost, duplicated: store.duplicated, integrity: store.integrity },
      seconds: (performance.now() - started) / 1000,
      // The machine's 1-minute load average: on a shared machine, throughput and latency depend on it.
      loadAverage: { start: loadAverageAtStart, end: os.loadavg()[0], cpus: os.cpus().length },
    });
    return result;
  } finally {
    // Only the Node-RED processes this part started, and only if something above failed before stopping them.
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** The report, in the style of the other parts. */
function report(s, { int, ms, times }) {
  const c = s.config;
  const q = s.requests;
  const st = s.store;
  const m1 = s.memory.first;
  const m2 = s.memory.restarted;
  const f = s.failures;
  const killed = Object.entries(f).filter(([k]) => k.endsWith('(kill)'));
  const other = Object.entries(f).filter(([k]) => !k.endsWith('(kill)'));
  const list = (entries) => (entries.length ? entries.map(([k, v]) => `${int(v)} ${k.replace(' (kill)', '')}`).join(', ') : 'none');
  const yes = (ok) => (ok ? 'yes' : 'NO');
  const out = [];
  out.push(`(e) Soak: a real Node-RED 5 (child process, user dir + settings.js, the package in its node_modules) with omnithread-in`);
  out.push(`    (generic, HMAC-signed, respond ack) -> nothing, on an omnithread-store SQLite file. ${int(c.messages)} messages from ${int(c.people)} people`);
  out.push(`    + ${int(c.requestsPlanned - c.messages)} redeliveries (${Math.round(c.redeliveryRate * 100)}%, same bytes), ${c.concurrency} keep-alive connections; kill -9 at request ${int(s.kill.atRequest)} of ${int(s.kill.ofRequests)},`);
  out.push(`    restart on the same user dir and store, resend the unacknowledged, finish the load, stop gracefully, check the file`);
  if (c.nodeFlags.length) out.push(`    Node-RED started with: ${c.nodeFlags.join(' ')}`);
  out.push(`    TARGETS: lost 0 (now ${st.lost}), duplicated 0 (now ${st.duplicated}), integrity ok (now ${st.integrity})`);
  out.push(`    requests ${int(q.requests)}: ${int(q.first)} first sends, ${int(q.redeliveries)} redeliveries (${int(q.redeliveriesInFlight)} while the same message was in flight), ${int(q.resends)} resends`);
  out.push(`    answers: ${int(q.ok)} x 200 (${int(q.okRecorded)} "recorded", ${int(q.okDuplicate)} "duplicate"); failed at the kill: ${list(killed)}; failed otherwise: ${list(other)}`);
  out.push(`    kill -9 with ${s.kill.inFlight} requests in flight; ${int(s.kill.unacknowledgedAfter)} messages then unacknowledged, all resent; down ${s.kill.downSeconds.toFixed(1)} s (kill to route answering again)`);
  out.push(`    acknowledged ${int(s.acknowledged.ids)} of ${int(c.messages)} message ids (${int(s.acknowledged.byFirstProcess)} by the killed process); ${int(s.acknowledged.onlyAsRedelivery)} committed by the killed process with`);
  out.push(`    the 200 lost, answered "duplicate" on resend; ids answered "recorded" twice: ${s.acknowledged.answeredRecordedTwice}; unacknowledged at the end: ${q.unacknowledgedAtEnd}`);
  out.push(`    store: ${int(st.inboundEvents)} inbound message events for ${int(st.recordedIds)} ids (${int(st.sentIds)} sent); lost ${st.lost}, duplicated ${st.duplicated}, unknown ids ${st.unexpected},`);
  out.push(`    recorded but never acknowledged ${st.recordedUnacknowledged}; deliveries ${int(st.rows.deliveries)} consistent with the events: ${yes(st.deliveries.consistent)}; events without contact/conversation: ${st.orphanEvents.noContact}/${st.orphanEvents.noConversation}`);
  out.push(`    (${int(st.rows.contacts)} contacts, ${int(st.rows.rootContacts)} after ${int(st.rows.merges)} merges, ${int(st.rows.conversations)} conversations; file ${st.fileMiB} MiB, integrity_check ${st.integrity})`);
  const cc = s.crashCopy;
  out.push(`    the files as kill -9 left them (a copy, WAL ${cc.walMiB} MiB replayed on open): integrity_check ${cc.integrity}, ${int(cc.recordedIds)} ids recorded,`);
  out.push(`    acknowledged by the killed process and missing: ${cc.ackedMissing}; committed but not acknowledged: ${cc.committedNotAcked}`);
  const t = s.throughput;
  out.push(`    throughput (200 answers/s): killed process ${int(t.firstProcessOkPerSecond)}, restarted ${int(t.restartedProcessOkPerSecond)}, whole load ${int(t.overallOkPerSecond)} (${t.loadSeconds.toFixed(1)} s incl. ${t.downSeconds.toFixed(1)} s down);`);
  out.push(`    baseline, Node-RED's own http in -> http response on the restarted process, same client: ${int(t.baselineOkPerSecond)}/s (restarted process / baseline ${s.ratios.okPerSecondOverBaseline.toFixed(2)})`);
  const l = s.latencyMs;
  const b = s.baseline.latencyMs;
  out.push(`    latency of 200 answers: p50 ${ms(l.p50)} ms, p90 ${ms(l.p90)} ms, p99 ${ms(l.p99)} ms, max ${ms(l.max)} ms; baseline p50 ${ms(b.p50)} ms, p99 ${ms(b.p99)} ms (${times(s.ratios.p50OverBaseline)} / ${times(s.ratios.p99OverBaseline)})`);
  out.push(`    Node-RED RSS (MiB, /proc VmRSS every ${s.memory.sampleMs} ms):`);
  out.push(`      killed process:    before load ${m1.before.rssMiB} (${m1.before.afterGc.rssMiB} after a GC, heap ${m1.before.afterGc.heapUsedMiB} live), peak ${m1.peakMiB}, at the kill ${m1.atKillMiB}`);
  out.push(
    `      restarted process: before ${m2.before.rssMiB} (${m2.before.afterGc.rssMiB} after a GC, heap ${m2.before.afterGc.heapUsedMiB}), peak ${m2.peakMiB}, idle ${c.idleSeconds} s after the load ${m2.idleMiB},` +
      ` ${c.idleSeconds + c.settleSeconds} s ${m2.settledMiB}, then after a GC ${m2.after.afterGc.rssMiB} (heap ${m2.after.afterGc.heapUsedMiB} live)`,
  );
  out.push(`      anonymous memory (heap, malloc) after the final GC ${m2.after.afterGc.anonMiB}, before the load ${m2.before.afterGc.anonMiB}; V8 heap reserved ${m2.after.afterGc.heapTotalMiB} (was ${m2.before.afterGc.heapTotalMiB})`);
  out.push(`      RSS at each tenth of the requests: ${s.memory.progress.map((p) => `${p.rssMiB}${p.process === 'killed' ? '' : '*'}`).join(' / ')}  (* restarted process)`);
  const n = s.nodeRed;
  out.push(`    Node-RED: route answering ${n.firstReadySeconds.toFixed(1)} s after start, ${n.secondReadySeconds.toFixed(1)} s after the restart; graceful stop ${n.stop.graceful ? `in ${n.stop.seconds.toFixed(1)} s` : 'FAILED (killed)'};`);
  out.push(`    its log: ${n.log.errors} errors, ${n.log.warnings} warnings (the readiness probes' unsigned POSTs are warnings)${n.log.firstError ? `; first error: ${n.log.firstError}` : ''}`);
  out.push(`    part took ${s.seconds.toFixed(0)} s; machine load average (1 min) ${s.loadAverage.start.toFixed(1)} at the start, ${s.loadAverage.end.toFixed(1)} at the end, on ${s.loadAverage.cpus} CPUs`);
  return out;
}

module.exports = { main, report };
