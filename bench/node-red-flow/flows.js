'use strict';
/**
 * The user dirs of the Node-RED processes this part starts (written, started and probed by
 * bench/node-red-process.js, as a user sets one up):
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
 * Both get bench/node-red-process.js's admin route /bench-memory (memoryUsage() after a full GC).
 */
const fs = require('node:fs');
const path = require('node:path');

const { writeUserDir } = require('../node-red-process');

const root = path.join(__dirname, '..', '..');
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

/**
 * `routes`: which of bare / trigger / flow to deploy; `store`: { type: 'sqlite', path } or { type: 'postgres',
 * url }, needed when trigger or flow is deployed (the package is then linked into node_modules).
 */
function makeUserDir(dir, { routes, store }) {
  const omnithread = routes.includes('trigger') || routes.includes('flow');
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
  writeUserDir(dir, { flows, credentials, withPackage: omnithread });
}

module.exports = { makeUserDir, PATHS, APP_SECRET };
