/**
 * What the reliability tests share: the flow nodes they deploy (as the editor saves them), signed
 * deliveries over real HTTP, the store's rows read from the SQLite file by another connection, and
 * latency figures.
 *
 * Node ids are prefixed "rel-": Node-RED takes any property whose value equals a node id for a
 * reference to that node, so an id must never equal a setting value ("generic", "whatsapp", "reply"...).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { metaSignature, signGeneric } from '../../shared';
import { PNID, WABA, whatsappTextDelivery } from '../support/whatsapp-delivery';
import { type Credentials, type FlowNode, type NodeRed, type NodeRedOptions, startNodeRed } from './node-red-process';

export const SECRET = 'reliability-generic-secret';
export const APP_SECRET = 'reliability-meta-app-secret';
export const WA_TOKEN = 'EAAG-reliability-token';
export { PNID, WABA };
export const TAB = 'rel-tab';
export const STORE = 'rel-store';

/** The wall clock as Node-RED sees it (jest's Date may be shifted by OMNITHREAD_TEST_SHIFT_DAYS; performance is not). */
export const realNow = (): number => performance.timeOrigin + performance.now();

/** A temporary folder (the SQLite file, Node-RED user dirs); cleanup() removes it. */
export function workDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'omnithread-reliability-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------
// Flow nodes
// ---------------------------------------------------------------------------------------------

export const tab = (label = 'Omnithread reliability'): FlowNode => ({ id: TAB, type: 'tab', label });

export const storeNode = (sqlitePath: string, extra: Record<string, unknown> = {}): FlowNode => ({
  id: STORE,
  type: 'omnithread-store',
  name: 'reliability store',
  storeType: 'sqlite',
  sqlitePath,
  workspace: 'reliability',
  autoMergeTrust: 'channel',
  ...extra,
});

/** omnithread-in on a channel; settings left out take the channel's defaults (as when left empty in the editor). */
const inNode = (id: string, path: string, channel: string, extra: Record<string, unknown>): FlowNode => ({
  id,
  type: 'omnithread-in',
  z: TAB,
  name: `${channel} ${path}`,
  store: STORE,
  path,
  channel,
  respond: 'ack',
  wires: [[]],
  ...extra,
});

/** omnithread-in on the generic channel, signed with SECRET (see genericCredentials). */
export const genericIn = (id: string, path: string, extra: Record<string, unknown> = {}): FlowNode => inNode(id, path, 'generic', extra);
export const genericCredentials = (id: string): Credentials => ({ [id]: { secret: SECRET } });

/** omnithread-in on the WhatsApp channel, signed with APP_SECRET (see whatsappCredentials). */
export const whatsappIn = (id: string, path: string): FlowNode => inNode(id, path, 'whatsapp', {});
export const whatsappCredentials = (id: string): Credentials => ({ [id]: { appSecret: APP_SECRET } });

/**
 * catch -> change (msg.payload = the error, msg.statusCode = 500) -> http response: a flow's error answered
 * as a 500 with the error. `ids`: the catch, change and http response nodes; `x`: their positions on row `y`.
 */
export const errorAnswer = ({ z = TAB, ids: [catchId, changeId, responseId], x, y }: { z?: string; ids: [string, string, string]; x: [number, number, number]; y: number }): FlowNode[] => [
  { id: catchId, type: 'catch', z, name: '', scope: null, uncaught: false, x: x[0], y, wires: [[changeId]] },
  {
    id: changeId,
    type: 'change',
    z,
    name: 'error as answer',
    rules: [
      { t: 'set', p: 'payload', pt: 'msg', to: 'error', tot: 'msg' },
      { t: 'set', p: 'statusCode', pt: 'msg', to: '500', tot: 'num' },
    ],
    x: x[1],
    y,
    wires: [[responseId]],
  },
  { id: responseId, type: 'http response', z, name: '', statusCode: '', headers: {}, x: x[2], y, wires: [] },
];

// ---------------------------------------------------------------------------------------------
// A Node-RED for a test file
// ---------------------------------------------------------------------------------------------

/**
 * In a test file: one Node-RED for all its tests, on the SQLite file `db` of a temporary folder; started
 * before the tests, stopped (and the folder removed) after them. The fields are set once it has started.
 */
export function useNodeRed(options: (db: string) => Omit<NodeRedOptions, 'userDir'>): { nodeRed: NodeRed; db: string } {
  const context = {} as { nodeRed: NodeRed; db: string };
  let work: ReturnType<typeof workDir> | undefined;
  beforeAll(async () => {
    work = workDir();
    context.db = join(work.dir, 'omnithread.db');
    context.nodeRed = await startNodeRed({ ...options(context.db), userDir: join(work.dir, 'node-red') });
  });
  afterAll(async () => {
    await context.nodeRed?.stop();
    work?.cleanup();
  });
  return context;
}

// ---------------------------------------------------------------------------------------------
// Deliveries over HTTP
// ---------------------------------------------------------------------------------------------

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, when it is. */
  json?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  ms: number;
}

export async function post(url: string, body: string | Buffer, headers: Record<string, string>): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (an HTML error page would land here)
  }
  return { status: response.status, headers: response.headers, text, json, ms: performance.now() - started };
}

/** A generic-channel delivery signed with SECRET: the raw bytes are what is signed and sent. */
export const postGeneric = (url: string, body: string | Buffer): Promise<Answer> =>
  post(url, body, { 'content-type': 'application/json', 'x-omnithread-signature': signGeneric(SECRET, body) });

/** A generic message from one person (the handle makes the contact). */
export const genericMessage = (messageId: string, extra: Record<string, unknown> = {}) => ({
  messageId,
  from: { name: 'Rel Tester', handles: [{ kind: 'webchat_visitor', scope: 'reliability', value: `visitor-${messageId}` }] },
  text: `message ${messageId}`,
  ...extra,
});

/** A WhatsApp Cloud API "messages" delivery of one text message, as Meta posts it, from `name` (the contact's profile name), sent a minute ago. */
export const whatsappDelivery = (waId: string, wamid: string, text: string, extraMessageFields: Record<string, unknown> = {}, name = 'Rel Tester'): string =>
  whatsappTextDelivery({ waId, wamid, name, text, timestamp: String(Math.floor(realNow() / 1000) - 60), extra: extraMessageFields });

export const postWhatsApp = (url: string, body: string): Promise<Answer> =>
  post(url, body, { 'content-type': 'application/json', 'x-hub-signature-256': metaSignature(APP_SECRET, body) });

// ---------------------------------------------------------------------------------------------
// The store, read from its file by a connection of our own (read-only: it can not disturb the flows)
// ---------------------------------------------------------------------------------------------

export function readDb<T>(sqlitePath: string, read: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(sqlitePath, { readOnly: true, timeout: 5_000 });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

const TABLES = ['contacts', 'handles', 'conversations', 'events', 'deliveries'] as const;
export type RowCounts = Record<(typeof TABLES)[number], number>;

export const rowCounts = (sqlitePath: string): RowCounts =>
  readDb(sqlitePath, (db) => Object.fromEntries(TABLES.map((table) => [table, Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n)])) as RowCounts);

export interface EventRow {
  id: string;
  contact_id: string;
  kind: string;
  direction: string | null;
  channel: string | null;
  provider_message_id: string | null;
  text: string;
  data: string;
}

export const eventRows = (sqlitePath: string, where = '1 = 1', params: (string | number)[] = []): EventRow[] =>
  readDb(sqlitePath, (db) => db.prepare(`SELECT id, contact_id, kind, direction, channel, provider_message_id, text, data FROM events WHERE ${where} ORDER BY seq`).all(...params) as unknown as EventRow[]);

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// ---------------------------------------------------------------------------------------------
// Another process holding SQLite's write lock
// ---------------------------------------------------------------------------------------------

const LOCK_HOLDER = `
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(process.argv[1], { timeout: 10000 });
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\\n');
setTimeout(() => { db.exec('COMMIT'); db.close(); process.stdout.write('released\\n'); }, Number(process.argv[2]));
`;

export interface LockHolder {
  child: ChildProcess;
  /** performance.now() when the lock was taken. */
  lockedAt: number;
  /** Resolves with performance.now() once the lock is released (the process printed so and exited). */
  released: Promise<number>;
}

/**
 * Spawns a Node process that takes the write lock of the SQLite file (BEGIN IMMEDIATE), holds it for
 * `holdMs` and commits: what a second Node-RED, an n8n worker or a backup does to the file. Resolves once
 * the lock is held.
 */
export async function holdWriteLock(sqlitePath: string, holdMs: number): Promise<LockHolder> {
  const child = spawn(process.execPath, ['-e', LOCK_HOLDER, sqlitePath, String(holdMs)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  let out = '';
  let lockedAt = 0;
  let releasedAt = 0;
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!lockedAt && out.includes('locked\n')) {
        lockedAt = performance.now();
        resolve();
      }
      if (!releasedAt && out.includes('released\n')) releasedAt = performance.now();
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before taking the lock: ${out}`)));
  });
  const released = new Promise<number>((resolve, reject) =>
    child.once('exit', (code) => (code === 0 && releasedAt ? resolve(releasedAt) : reject(new Error(`the lock holder exited with ${code}: ${out}`)))),
  );
  released.catch(() => undefined);
  await locked;
  return { child, lockedAt, released };
}
