'use strict';
/**
 * The self time of a V8 CPU profile (.cpuprofile, as `node --cpu-prof` writes it at exit), by function:
 * each sample's time delta is charged to the function on top of the stack then. Functions are told apart
 * by name, file and line; files are shown from node_modules/ or from this checkout. Shares are of the busy
 * time: the samples taken while the process waited in its event loop, (idle), are counted apart.
 * V8 samples on the wall clock: a syscall's share includes the time the thread sat descheduled in it. On
 * a busy machine, writev to PostgreSQL's socket wakes a backend that may take the CPU at once, and the
 * wait shows as writev.
 */
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');

function shortUrl(url) {
  if (!url) return '';
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('node_modules/');
  if (modules >= 0) return file.slice(modules + 'node_modules/'.length);
  if (file.startsWith(root)) return path.relative(root, file);
  return file;
}

/**
 * The top `count` functions by self time of the main thread's .cpuprofile in `dir` (node writes one file per
 * thread: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile, thread 0 the main one), and the busy time
 * of the other threads (workers), each summed apart.
 */
function topSelfTime(dir, count = 25) {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  const threadOf = (file) => Number(file.split('.').at(-3));
  const main = summarize(dir, files.filter((f) => threadOf(f) === 0), count);
  const workers = files.filter((f) => threadOf(f) !== 0).map((f) => ({ thread: threadOf(f), ...summarize(dir, [f], 5) }));
  return { ...main, workers: workers.map((w) => ({ thread: w.thread, busyMs: w.busyMs, idleMs: w.idleMs, top: w.top })) };
}

function summarize(dir, files, count) {
  const byFunction = new Map();
  let totalUs = 0;
  for (const file of files) {
    const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const selfUs = new Map();
    for (let i = 0; i < profile.samples.length; i++) {
      const delta = profile.timeDeltas[i] ?? 0;
      selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + delta);
      totalUs += delta;
    }
    for (const [id, us] of selfUs) {
      const f = nodes.get(id).callFrame;
      const name = f.functionName || '(anonymous)';
      const where = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '';
      const key = `${name} ${where}`;
      const entry = byFunction.get(key) ?? { name, where, us: 0 };
      entry.us += us;
      byFunction.set(key, entry);
    }
  }
  const idleUs = [...byFunction.values()].filter((e) => e.name === '(idle)').reduce((sum, e) => sum + e.us, 0);
  const busyUs = totalUs - idleUs;
  const busy = [...byFunction.values()].filter((e) => e.name !== '(idle)');
  const top = busy
    .sort((a, b) => b.us - a.us)
    .slice(0, count)
    .map((e) => ({ function: e.name, where: e.where, selfMs: Math.round(e.us / 100) / 10, percent: Math.round((e.us / busyUs) * 1000) / 10 }));
  // What the functions add up to, by where their code lives.
  const byArea = {};
  for (const e of busy) {
    const area = areaOf(e);
    byArea[area] = (byArea[area] ?? 0) + e.us;
  }
  const areas = Object.entries(byArea)
    .sort((a, b) => b[1] - a[1])
    .map(([area, us]) => ({ area, selfMs: Math.round(us / 100) / 10, percent: Math.round((us / busyUs) * 1000) / 10 }));
  const ms = (us) => Math.round(us / 100) / 10;
  return { files: files.length, totalMs: ms(totalUs), idleMs: ms(idleUs), busyMs: ms(busyUs), top, areas };
}

/** Where a function's self time belongs: V8's own entries, Omnithread, Node-RED, express, node:sqlite / pg, Node's core... */
function areaOf({ name, where }) {
  if (!where) return name.startsWith('(') ? name : 'native (no JS source: bindings, builtins)';
  if (where.startsWith('dist/')) return 'Omnithread (dist/)';
  if (where.startsWith('node:')) return "Node's core (node:*)";
  if (where.startsWith('[')) return 'code run by eval (worker threads)';
  const pkg = where.startsWith('@') ? where.split('/').slice(0, 2).join('/') : where.split('/')[0];
  if (pkg.startsWith('@node-red') || pkg === 'node-red') return 'Node-RED (node-red, @node-red/*)';
  return `package ${pkg}`;
}

module.exports = { topSelfTime };
