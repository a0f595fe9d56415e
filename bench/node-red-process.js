'use strict';
/**
 * A real Node-RED 5 for the benchmarks ((e) soak, bench/soak.js; (h) Node-RED flow, bench/node-red-flow.js),
 * in a child process of its own, set up the way a user sets one up: a user dir with a settings file,
 * flows.json and flows_cred.json (credentialSecret: false), and this package in the user dir's
 * node_modules. The package is a symlink to this checkout: that is what `npm install /path/to/checkout`
 * makes (npm links directory installs), without the minute a packed tarball install takes; Node-RED finds
 * it by its package.json "node-red" key and loads dist/, as it would from the registry.
 *
 * Every user dir gets one admin route, /bench-memory: a full GC, then the process's own memoryUsage()
 * (Node-RED runs with --expose-gc), so "RSS did not come back down" can be told apart from "garbage not yet
 * collected". Also here: the probe that waits until a route answers, graceful and hard stops, the RSS
 * read from /proc and a sampler of it, and a summary of Node-RED's log.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
// The free-port probe the end-to-end run uses.
const { freePort } = require(path.join(root, 'test-e2e', 'lib.js'));
const PACKAGE = require(path.join(root, 'package.json')).name;
const MEMORY_ROUTE = '/bench-memory';

/**
 * Node-RED's usual settings, plus the admin route of MEMORY_ROUTE. It needs --expose-gc (see start);
 * nothing else in the process uses it.
 */
function writeSettings(dir) {
  fs.writeFileSync(
    path.join(dir, 'settings.js'),
    `module.exports = {
  flowFile: 'flows.json',
  credentialSecret: false,
  uiHost: '127.0.0.1',
  telemetry: { enabled: false },
  editorTheme: { tours: false },
  logging: { console: { level: 'info', metrics: false, audit: false } },
  httpAdminMiddleware(req, res, next) {
    if (req.path !== '${MEMORY_ROUTE}') return next();
    if (global.gc) { global.gc(); global.gc(); }
    res.json({ gc: Boolean(global.gc), ...process.memoryUsage() });
  },
};
`,
  );
}

/**
 * The user dir: package.json, the package linked into node_modules (unless `withPackage` is false:
 * Node-RED as installed), `flows` and `credentials` (by node id), and settings.js.
 */
function writeUserDir(dir, { flows, credentials = {}, withPackage = true }) {
  fs.mkdirSync(dir, { recursive: true });
  const dependencies = {};
  if (withPackage) {
    fs.mkdirSync(path.join(dir, 'node_modules', path.dirname(PACKAGE)), { recursive: true });
    fs.symlinkSync(root, path.join(dir, 'node_modules', PACKAGE), 'dir');
    dependencies[PACKAGE] = `file:${root}`;
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies }, null, 2));
  fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(flows, null, 2));
  fs.writeFileSync(path.join(dir, 'flows_cred.json'), JSON.stringify(credentials, null, 2));
  writeSettings(dir);
}

/**
 * Starts Node-RED's own red.js with this Node (24) on the user dir. The spawned process IS Node-RED (no
 * shell or npm in between), so its pid is the one to kill and to sample. Output is appended to a log.
 * `nodeArgs`: extra Node flags (e.g. --max-old-space-size=128, to see how much RSS is V8's choice).
 */
function start(dir, port, logName, nodeArgs = []) {
  const logFile = path.join(dir, logName);
  const out = fs.openSync(logFile, 'a');
  const redJs = require.resolve('node-red/red.js', { paths: [root] });
  const child = spawn(process.execPath, ['--expose-gc', ...nodeArgs, redJs, '--userDir', dir, '--port', String(port), '--settings', path.join(dir, 'settings.js')], {
    cwd: dir,
    stdio: ['ignore', out, out],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  fs.closeSync(out);
  child.startedAt = performance.now();
  child.logFile = logFile;
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.tail = (lines = 30) => fs.readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
  return child;
}

/**
 * Waits until an unsigned POST to `url` answers `status`: 401 on an omnithread-in route (the signature
 * check refuses it and nothing is stored), 200 on http in -> http response; Node-RED answers 404 before
 * the flow has started. Resolves with the seconds since the start.
 */
async function waitForStatus(child, url, status, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Node-RED exited (${child.exitCode ?? child.signalCode}) before ${url} answered:\n${child.tail()}`);
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      await response.arrayBuffer();
      if (response.status === status) return (performance.now() - child.startedAt) / 1000;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer ${status} to an unsigned POST within ${timeoutMs / 1000} s:\n${child.tail()}`);
}

/** memoryUsage() of the Node-RED process after a full GC (the admin route of settings.js), in bytes. */
async function memoryAfterGc(base) {
  const response = await fetch(`${base}${MEMORY_ROUTE}`);
  if (!response.ok) throw new Error(`${base}${MEMORY_ROUTE} answered ${response.status}`);
  return response.json();
}

/** SIGTERM and wait: red.js stops the flows (the store config node closes the store) and exits. */
async function stopGracefully(child, timeoutMs = 20_000) {
  if (child.exitCode !== null || child.signalCode !== null) return { alreadyExited: true };
  const t0 = performance.now();
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await child.exited;
  clearTimeout(timer);
  return { code, signal, seconds: (performance.now() - t0) / 1000, graceful: signal !== 'SIGKILL' };
}

/** kill -9, and wait until the kernel has reaped it (so its files are as the crash left them). */
async function killHard(child) {
  child.kill('SIGKILL');
  return child.exited;
}

/** How many [error] and [warn] lines Node-RED logged, and the first error. */
function logSummary(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const errors = lines.filter((l) => l.includes('[error]'));
  return { errors: errors.length, warnings: lines.filter((l) => l.includes('[warn]')).length, firstError: errors[0]?.slice(0, 300) };
}

/** VmRSS and VmHWM (the kernel's own peak) of a live process, in KiB; undefined once it has gone. */
function procMemory(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    // A killed process not yet reaped (a zombie) still has a status file, without memory lines.
    if (Number.isNaN(kib('VmRSS'))) return undefined;
    // RssAnon is the process's own memory (heap, malloc); RssFile is mapped files (code, libraries).
    return { rss: kib('VmRSS'), hwm: kib('VmHWM'), anon: kib('RssAnon'), file: kib('RssFile') };
  } catch {
    return undefined;
  }
}

/**
 * Samples a process's RSS every 250 ms (env BENCH_SOAK_SAMPLE_MS). `mark()` starts a new window; `peak()`
 * is the highest sample since the last mark; `now()` reads it at once.
 */
class RssSampler {
  constructor(pid, intervalMs = 250) {
    this.pid = pid;
    this.samples = [];
    this.windowStart = 0;
    this.take();
    this.timer = setInterval(() => this.take(), intervalMs);
  }

  take() {
    const m = procMemory(this.pid);
    if (m) this.samples.push({ t: performance.now(), ...m });
    return m;
  }

  now() {
    return this.take()?.rss ?? this.samples.at(-1)?.rss;
  }

  mark() {
    this.windowStart = this.samples.length;
  }

  peak() {
    let max = 0;
    for (let i = this.windowStart; i < this.samples.length; i++) max = Math.max(max, this.samples[i].rss);
    return max;
  }

  last() {
    return this.samples.at(-1);
  }

  stop() {
    clearInterval(this.timer);
  }
}

module.exports = { writeUserDir, freePort, start, waitForStatus, memoryAfterGc, stopGracefully, killHard, logSummary, procMemory, RssSampler };
