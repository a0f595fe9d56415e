'use strict';
/**
 * The user dirs of the Node-RED processes this part starts, set up the way a user sets one up (settings.js,
 * flows.json, flows_cred.json with credentialSecret: false; the package in node_modules as a symlink to
 * this checkout, as `npm install /path/to/checkout` makes it):
 *
 * - the Omnithread process: three POST routes side by side, on one omnithread-store
 *     /bench/bare     Node-RED's own http in -> http response (the body echoed back)
 *     /bench/trigger  omnithread-in (WhatsApp, signed, respond ack), wired to nothing
 *     /bench/flow     the shipped template examples/continuity-basics.json as it is, but for its trigger's
 *                     channel (WhatsApp, signed, like /bench/trigger) and its store: omnithread-in (respond
 *                     flow) -> omnithread-identity (resolve) -> omnithread-timeline (timeline) -> http response,
 *                     with the template's catch -> 500 answer
 * - the bare process: /bench/bare alone, and no Omnithread package in node_modules: Node-RED as installed.
 *
 * Both get one admin route, /bench-memory: a full GC, then the process's own memoryUsage() (Node-RED runs
 * with --expose-gc), so RSS can be read with the garbage gone.
 */
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const PACKAGE = require(path.join(root, 'package.json')).name;
const TEMPLATE = path.join(root, 'examples', 'continuity-basics.json');

const PATHS = { bare: '/bench/bare', trigger: '/bench/trigger', flow: '/bench/flow' };
const TAB = 'nrf-tab';
const STORE = 'nrf-store';
const TRIGGER = 'nrf-trigger';
/** The WhatsApp app secret both omnithread-in nodes check X-Hub-Signature-256 against. */
const APP_SECRET = 'node-red-flow-bench-app-secret';

/** The omnithread-store config: an SQLite file, or a PostgreSQL database (its URL kept as a credential). */
function storeNode(store) {
  const common = { id: STORE, type: 'omnithread-store', name: `bench ${store.type}`, workspace: 'default', autoMergeTrust: 'channel', idleTimeoutDays: 7 };
  if (store.type === 'sqlite') return { node: { ...common, storeType: 'sqlite', sqlitePath: store.path }, credentials: {} };
  return { node: { ...common, storeType: 'postgres', poolSize: store.poolSize ?? 10 }, credentials: { [STORE]: { postgresUrl: store.url } } };
}

const bareRoute = () => [
  { id: 'nrf-bare-in', type: 'http in', z: TAB, name: 'bare', url: PATHS.bare, method: 'post', upload: false, swaggerDoc: '', x: 140, y: 60, wires: [['nrf-bare-out']] },
  { id: 'nrf-bare-out', type: 'http response', z: TAB, name: '', statusCode: '200', headers: {}, x: 330, y: 60, wires: [] },
];

/**
 * The template flow from examples/continuity-basics.json: every node but its comment and its store, ids
 * prefixed (two copies never clash, and no id equals a setting value), the trigger moved to WhatsApp on
 * `path`, the store replaced by the benchmark's.
 */
function templateFlow(prefix, pathName, y) {
  const template = JSON.parse(fs.readFileSync(TEMPLATE, 'utf8'));
  const templateStore = template.find((n) => n.type === 'omnithread-store').id;
  const ids = new Map(template.map((n) => [n.id, `${prefix}-${n.type.replace(/\s+/g, '-')}-${n.id.slice(-2)}`]));
  const remap = (id) => (id === templateStore ? STORE : (ids.get(id) ?? id));
  const nodes = template
    .filter((n) => n.type !== 'comment' && n.type !== 'omnithread-store')
    .map((n) => {
      const copy = { ...n, id: remap(n.id), z: TAB, y: n.y - 140 + y };
      if (copy.wires) copy.wires = copy.wires.map((out) => out.map(remap));
      if (copy.store) copy.store = STORE;
      if (Array.isArray(copy.scope)) copy.scope = copy.scope.map(remap);
      return copy;
    });
  const trigger = nodes.find((n) => n.type === 'omnithread-in');
  if (!trigger || trigger.respond !== 'flow') throw new Error(`${TEMPLATE}: expected an omnithread-in answering through the flow`);
  Object.assign(trigger, { channel: 'whatsapp', path: pathName, name: 'template trigger (WhatsApp)' });
  return { nodes, triggerId: trigger.id };
}

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
    if (req.path !== '/bench-memory') return next();
    if (global.gc) { global.gc(); global.gc(); }
    res.json({ gc: Boolean(global.gc), ...process.memoryUsage() });
  },
};
`,
  );
}

/**
 * `routes`: which of bare / trigger / flow to deploy; `store`: { type: 'sqlite', path } or { type: 'postgres',
 * url }, needed when trigger or flow is deployed (the package is then linked into node_modules).
 */
function makeUserDir(dir, { routes, store }) {
  fs.mkdirSync(dir, { recursive: true });
  const omnithread = routes.includes('trigger') || routes.includes('flow');
  const dependencies = {};
  if (omnithread) {
    fs.mkdirSync(path.join(dir, 'node_modules', path.dirname(PACKAGE)), { recursive: true });
    fs.symlinkSync(root, path.join(dir, 'node_modules', PACKAGE), 'dir');
    dependencies[PACKAGE] = `file:${root}`;
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies }, null, 2));
  const flows = [{ id: TAB, type: 'tab', label: 'Omnithread node-red-flow bench' }];
  const credentials = {};
  if (routes.includes('bare')) flows.push(...bareRoute());
  if (omnithread) {
    const s = storeNode(store);
    flows.push(s.node);
    Object.assign(credentials, s.credentials);
  }
  if (routes.includes('trigger')) {
    flows.push({
      id: TRIGGER,
      type: 'omnithread-in',
      z: TAB,
      name: 'trigger alone (WhatsApp)',
      store: STORE,
      path: PATHS.trigger,
      channel: 'whatsapp',
      respond: 'ack',
      x: 160,
      y: 140,
      wires: [[]],
    });
    credentials[TRIGGER] = { appSecret: APP_SECRET };
  }
  if (routes.includes('flow')) {
    const { nodes, triggerId } = templateFlow('nrf-flow', PATHS.flow, 220);
    flows.push(...nodes);
    credentials[triggerId] = { appSecret: APP_SECRET };
  }
  fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(flows, null, 2));
  fs.writeFileSync(path.join(dir, 'flows_cred.json'), JSON.stringify(credentials, null, 2));
  writeSettings(dir);
}

/** memoryUsage() of a Node-RED process after a full GC, in bytes. */
async function memoryAfterGc(base) {
  const response = await fetch(`${base}/bench-memory`);
  if (!response.ok) throw new Error(`${base}/bench-memory answered ${response.status}`);
  return response.json();
}

/** Waits until POST `url` answers `status` (an unsigned POST: 401 on omnithread-in, 200 on the bare route). */
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
  throw new Error(`${url} did not answer ${status} within ${timeoutMs / 1000} s:\n${child.tail()}`);
}

module.exports = { makeUserDir, memoryAfterGc, waitForStatus, PATHS, APP_SECRET };
