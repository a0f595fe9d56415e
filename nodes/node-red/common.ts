/**
 * What the four Node-RED nodes share and Node-RED alone needs: the few runtime types we use, the store
 * lookup, reading msg overrides, raw request bodies, route removal and errors for Catch nodes.
 * Everything about customers, identities and timelines is in shared/.
 */
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { OmnithreadError, isOmnithreadError, triggerOutput } from '../../shared';
import type { IngestResult, Omnithread, OmnithreadErrorCode } from '../../shared';

// ---------------------------------------------------------------------------------------------
// The slice of Node-RED's node API these nodes use (the runtime passes more).
// ---------------------------------------------------------------------------------------------

export interface NodeMessage {
  _msgid?: string;
  payload?: unknown;
  topic?: string;
  [key: string]: unknown;
}
export type Send = (msg: NodeMessage | NodeMessage[] | null) => void;
export type Done = (error?: Error) => void;
export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface RedNode {
  id: string;
  type: string;
  name?: string;
  credentials: Record<string, string | undefined>;
  on(event: 'input', handler: (msg: NodeMessage, send: Send, done: Done) => void): void;
  on(event: 'close', handler: (removed: boolean, done: () => void) => void): void;
  status(status: NodeStatus): void;
  send(msg: NodeMessage | NodeMessage[]): void;
  error(error: unknown, msg?: NodeMessage): void;
  warn(message: unknown): void;
  log(message: unknown): void;
}

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
}

export interface RedApi {
  nodes: {
    createNode(node: RedNode, def: NodeDef): void;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    registerType(type: string, constructor: (this: any, def: any) => void, options?: { credentials?: Record<string, { type: 'text' | 'password' }> }): void;
    getNode(id: string): unknown;
  };
  settings: { userDir?: string; httpNodeRoot?: string | false; httpNodeMiddleware?: unknown; apiMaxLength?: string | number; [key: string]: unknown };
  httpNode: Express;
  httpAdmin: Express;
  auth: { needsPermission(permission: string): RequestHandler };
  util: { generateId(): string };
}

// ---------------------------------------------------------------------------------------------
// The store config node, as the user nodes see it.
// ---------------------------------------------------------------------------------------------

export interface StoreNode extends RedNode {
  /** Settles once per deploy: the Omnithread on the shared open store, or why the store could not open. */
  omnithread: Promise<Omnithread>;
}

/**
 * The Omnithread of the node's store config, with the node's status kept in step: a store that cannot
 * open shows a red ring, and every use of the returned promise fails with the reason.
 */
export function useStore(RED: RedApi, node: RedNode, storeId: string | undefined, ready: NodeStatus = { fill: 'green', shape: 'ring', text: 'ready' }): Promise<Omnithread> {
  const config = storeId ? (RED.nodes.getNode(storeId) as StoreNode | null) : null;
  const omnithread = config?.omnithread
    ? config.omnithread
    : Promise.reject(new OmnithreadError('STORE_CONFIG', 'No Omnithread store is configured: pick or add one in the node\'s Store setting', { field: 'store' }));
  omnithread.then(
    () => node.status(ready),
    (error: Error) => node.status({ fill: 'red', shape: 'ring', text: isOmnithreadError(error, 'STORE_CONFIG') && !config ? 'no store' : 'store error' }),
  );
  return omnithread;
}

// ---------------------------------------------------------------------------------------------
// Parameters: node properties with msg overrides.
// ---------------------------------------------------------------------------------------------

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const given = (value: unknown): boolean => value !== undefined && value !== null && value !== '';

/** msg[key], then (when `payload` is set) msg.payload[key]: the first one given, else undefined. */
export function fromMsg(msg: NodeMessage, key: string, payload = false): unknown {
  if (given(msg[key])) return msg[key];
  if (payload && isRecord(msg.payload) && given(msg.payload[key])) return msg.payload[key];
  return undefined;
}

/**
 * The msg a trigger sends for one recorded message. msg.inReplyTo names the message that started this run:
 * Node-RED nodes keep msg properties they do not own, so an omnithread-reply further down answers this
 * message even when nodes in between replaced msg.payload (a timeline lookup, a template, a function),
 * and never the person's latest message instead (which, with two messages in flight, leaves one unanswered).
 */
export function triggerMessage(RED: RedApi, result: IngestResult): NodeMessage {
  return { _msgid: RED.util.generateId(), topic: result.contact.id, ...(result.event ? { inReplyTo: result.event.id } : {}), payload: triggerOutput(result) };
}

/** A node property as an operation input: empty means not given. */
export const fromNode = (value: unknown): unknown => (given(value) ? value : undefined);

/** The contact a message is about: msg.contactId, msg.payload.contactId, the node's, then msg.payload.contact.id. */
export function contactIdOf(msg: NodeMessage, configured: unknown): unknown {
  const explicit = fromMsg(msg, 'contactId', true) ?? fromNode(configured);
  if (explicit !== undefined) return explicit;
  const contact = isRecord(msg.payload) ? msg.payload.contact : undefined;
  return isRecord(contact) && given(contact.id) ? contact.id : undefined;
}

/** JSON typed into a node property (handles, event data); an error naming the field when it does not parse. */
export function parseJsonProperty(text: unknown, field: string): unknown {
  if (!given(text)) return undefined;
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new OmnithreadError('INVALID_INPUT', `${field} is not valid JSON: ${(error as Error).message}`, { field });
  }
}

/** "a, b\nc" -> ['a','b','c']; arrays pass through; empty -> undefined. */
export function listProperty(value: unknown): unknown {
  if (!given(value)) return undefined;
  if (typeof value !== 'string') return value;
  const items = value.split(/[\n,]/).map((v) => v.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

/** A number typed into the editor ("100") as a number; anything else as given, for the schema to judge. */
export function numberProperty(value: unknown): unknown {
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return given(value) ? value : undefined;
}

/** Drops undefined entries, so strict schemas see only what was given. */
export function compact<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ---------------------------------------------------------------------------------------------
// Errors and status.
// ---------------------------------------------------------------------------------------------

/**
 * The error handed to done(): Node-RED copies `code` and `cause` into the Catch node's msg.error, so a
 * flow can branch on msg.error.code and find the offending field in msg.error.cause.field.
 */
export function nodeError(error: unknown): Error {
  if (isOmnithreadError(error)) {
    const out = new Error(error.message) as Error & { code?: string; cause?: unknown };
    out.name = 'OmnithreadError';
    out.code = error.code;
    out.cause = { code: error.code, field: error.field, details: error.details };
    out.stack = error.stack;
    return out;
  }
  return error instanceof Error ? error : new Error(String(error));
}

const ERROR_STATUS: Record<OmnithreadErrorCode, string> = {
  INVALID_INPUT: 'invalid input',
  NOT_FOUND: 'not found',
  CONFLICT: 'conflict',
  STORE_UNAVAILABLE: 'store error',
  STORE_CONFIG: 'store error',
  AUTH_FAILED: 'auth failed',
  RATE_LIMITED: 'rate limited',
  WINDOW_CLOSED: 'window closed',
  PROVIDER_ERROR: 'provider error',
  IGNORED: 'not recorded',
  UNAUTHORIZED: 'not signed in',
  FORBIDDEN: 'forbidden',
};

/** A short status text for an error (under 20 characters, as Node-RED asks). */
export function errorStatus(error: unknown): NodeStatus {
  const text = isOmnithreadError(error)
    ? ERROR_STATUS[error.code]
    : 'error';
  return { fill: 'red', shape: 'ring', text };
}

// ---------------------------------------------------------------------------------------------
// HTTP: raw bodies and routes on RED.httpNode.
// ---------------------------------------------------------------------------------------------

type RawRequest = Request & { _body?: boolean; skipRawBodyParser?: boolean; omnithreadBodyError?: Error & { status?: number } };

const DEFAULT_LIMIT = 5 * 1024 * 1024;

/** settings.apiMaxLength ("5mb", "100kb", 1048576) in bytes. */
export function byteLimit(setting: unknown): number {
  if (typeof setting === 'number' && setting > 0) return setting;
  const match = typeof setting === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(setting) : null;
  if (!match) return DEFAULT_LIMIT;
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(match[2] ?? 'b').toLowerCase() as 'b'];
  return Math.floor(Number(match[1]) * unit);
}

/** The most of an oversized upload read and thrown away after its 413, and for how long, before the connection is cut. */
const DISCARD_BYTES = 256 * 1024 * 1024;
const DISCARD_MS = 60_000;

/**
 * Reads a request body up to `limit` bytes. Past the limit it stops keeping the bytes and rejects with a
 * 413 at once, without destroying the request: the JSON 413 is written while the rest of the upload is
 * read and discarded, so the client (which may still be sending) gets the answer. Closing the connection
 * instead would make the kernel reset it under the client's unread answer. An upload that goes on past
 * DISCARD_BYTES or DISCARD_MS is cut.
 */
function readStream(req: Request, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.removeListener('data', onData);
      chunks.length = 0;
      let discarded = 0;
      const cut = setTimeout(() => req.destroy(), DISCARD_MS);
      cut.unref();
      req.on('data', (rest: Buffer) => {
        discarded += rest.length;
        if (discarded > DISCARD_BYTES) req.destroy();
      });
      req.once('close', () => clearTimeout(cut));
      reject(Object.assign(new Error(`The request body is larger than ${limit} bytes (settings.apiMaxLength): nothing was recorded`), { status: 413 }));
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The bytes the sender signed: captured before any body parser ran, or read from the stream now. */
export function readRawBody(req: Request, limit: number): Promise<Buffer> {
  const r = req as RawRequest;
  if (req.method === 'GET' || req.method === 'HEAD') return Promise.resolve(Buffer.alloc(0));
  if (r.omnithreadBodyError) return Promise.reject(r.omnithreadBodyError);
  if (Buffer.isBuffer(r.body)) return Promise.resolve(r.body);
  if (r._body || r.readableEnded) {
    return Promise.reject(Object.assign(new Error('The request body was parsed before Omnithread could read its raw bytes (a body parser in httpNodeMiddleware?)'), { status: 500 }));
  }
  return readStream(req, limit);
}

const normalizePath = (path: string): string => ('/' + path).replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');

/** The route path of a webhook node: always one leading slash, no trailing one. */
export const routePath = (path: unknown, fallback: string): string => normalizePath(String(path || fallback).trim() || fallback);

// Full request paths (httpNodeRoot + route path) whose raw bytes must be kept, and the root apps that
// already capture them. Node-RED mounts its editor API (which parses JSON bodies for every request) in
// front of RED.httpNode when both sit at "/", so, like core http-in's "do not parse body" option, a
// capture middleware at the top of the root app reads our routes' bodies before anything parses them.
const rawPaths = new Map<string, number>();
const capturing = new WeakSet<object>();
/**
 * Paths whose node is being redeployed (or restarted) and since when: between the old node's close and the
 * new node's start express would answer 404, which providers take as final. These get 503 with Retry-After
 * instead, so the provider delivers again, for at most RESTART_GRACE_MS.
 */
const restarting = new Map<string, number>();
const RESTART_GRACE_MS = 60_000;
export const RESTART_RETRY_AFTER_SECONDS = 5;

/**
 * A path with no node now: while it is being (re)deployed (not there yet, not gone either), 503 with
 * Retry-After, so the provider delivers again; otherwise on to express (a path nobody serves).
 * Plain Node response methods: this runs before express has decorated the response.
 */
function restartingOr503(path: string, req: Request, res: Response, next: NextFunction): void {
  const since = restarting.get(path);
  if (since === undefined || Date.now() - since > RESTART_GRACE_MS) return next();
  req.resume();
  res.statusCode = 503;
  res.setHeader('Retry-After', String(RESTART_RETRY_AFTER_SECONDS));
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ error: `Not recorded, please retry: this webhook is restarting (a deploy is in progress); retry after ${RESTART_RETRY_AFTER_SECONDS} s` }));
}

/**
 * The last handler of RED.httpNode: a request that got past the capture while its node was live, and whose
 * route was removed before it reached it (its body was still arriving, or another middleware of the app
 * took a moment during a redeploy), gets the 503 too, never express's 404. Kept last as routes are added.
 */
const lastResortHandler = (req: Request, res: Response, next: NextFunction) => {
  const path = normalizePath(String(req.originalUrl || req.url).split('?')[0]);
  if (rawPaths.has(path)) return next();
  restartingOr503(path, req, res, next);
};

function lastResort(app: Express): void {
  const router = (app as unknown as { _router?: { stack: { handle: unknown }[] } })._router;
  if (!router) {
    if (!capturing.has(lastResortHandler)) app.use(lastResortHandler);
    return void capturing.add(lastResortHandler);
  }
  const at = router.stack.findIndex((layer) => layer.handle === lastResortHandler);
  if (at < 0) app.use(lastResortHandler);
  else router.stack.push(router.stack.splice(at, 1)[0]);
}

function rootApp(app: Express): Express {
  let current = app as Express & { parent?: Express };
  while (current.parent) current = current.parent as Express & { parent?: Express };
  return current;
}

function fullPath(RED: RedApi, path: string): string {
  const root = typeof RED.settings.httpNodeRoot === 'string' ? RED.settings.httpNodeRoot : '/';
  return normalizePath(`${root}/${path}`);
}

/**
 * Keeps the raw body of POSTs to this route path; returns the function that stops doing so. Stopped with
 * `removed` false (a redeploy or a restart, not a deletion), the path answers 503 until a node takes it again.
 */
export function captureRawBody(RED: RedApi, path: string): (removed?: boolean) => void {
  const full = fullPath(RED, path);
  rawPaths.set(full, (rawPaths.get(full) ?? 0) + 1);
  restarting.delete(full);
  const app = rootApp(RED.httpNode);
  const router = (app as unknown as { _router?: { stack: { handle: unknown }[] } })._router;
  if (!capturing.has(app) && router) {
    capturing.add(app);
    const limit = byteLimit(RED.settings.apiMaxLength);
    const capture = (req: Request, res: Response, next: NextFunction) => {
      const r = req as RawRequest;
      const path = normalizePath(String(req.originalUrl || req.url).split('?')[0]);
      if (!rawPaths.has(path)) return restartingOr503(path, req, res, next);
      if (req.method !== 'POST' || r._body) return next();
      const done = () => {
        r._body = true;
        r.skipRawBodyParser = true;
        // The node may have been redeployed while the body arrived: look again, so it is never a 404.
        if (!rawPaths.has(path)) return restartingOr503(path, req, res, next);
        next();
      };
      readStream(req, limit).then(
        (buffer) => {
          r.body = buffer;
          done();
        },
        // Answered by the node's own route (a JSON 413), not by express's HTML error page.
        (error: Error & { status?: number }) => {
          r.omnithreadBodyError = error;
          done();
        },
      );
    };
    app.use(capture);
    const at = router.stack.findIndex((layer) => layer.handle === capture);
    if (at > 0) router.stack.unshift(router.stack.splice(at, 1)[0]);
  }
  lastResort(RED.httpNode);
  let stopped = false;
  return (removed = true) => {
    if (stopped) return;
    stopped = true;
    const count = (rawPaths.get(full) ?? 1) - 1;
    if (count > 0) rawPaths.set(full, count);
    else {
      rawPaths.delete(full);
      if (!removed) restarting.set(full, Date.now());
    }
  };
}

/** Removes a route from an express 4 app (express 5 renamed _router to router). */
export function removeRoute(app: Express, path: string, method: string): void {
  const router = (app as unknown as { _router?: { stack: RouteLayer[] }; router?: { stack: RouteLayer[] } })._router ?? (app as unknown as { router?: { stack: RouteLayer[] } }).router;
  const stack = router?.stack ?? [];
  for (let i = stack.length - 1; i >= 0; i--) {
    const route = stack[i].route;
    if (route && route.path === path && route.methods?.[method]) stack.splice(i, 1);
  }
}
interface RouteLayer {
  route?: { path: string; methods?: Record<string, boolean> };
}

/** RED.settings.httpNodeMiddleware as a list of handlers run before ours (authentication, logging). */
export function httpNodeMiddleware(RED: RedApi): RequestHandler[] {
  const middleware = RED.settings.httpNodeMiddleware;
  if (typeof middleware === 'function') return [middleware as RequestHandler];
  if (Array.isArray(middleware)) return middleware.filter((m): m is RequestHandler => typeof m === 'function');
  return [];
}

/**
 * The input handler of an operation node: runs the operation, puts its result in msg.payload and shows
 * a status; an error goes to done(err), so Catch nodes receive it. (Exactly three handler parameters:
 * Node-RED counts them to know the node calls done.)
 */
export function onOperation(node: RedNode, run: (msg: NodeMessage) => Promise<{ payload: unknown; status: NodeStatus }>): void {
  node.on('input', (msg, send, done) => {
    void (async () => {
      try {
        node.status({ fill: 'blue', shape: 'dot', text: 'working' });
        const { payload, status } = await run(msg);
        msg.payload = payload;
        node.status(status);
        send(msg);
        done();
      } catch (error) {
        node.status(errorStatus(error));
        done(nodeError(error));
      }
    })();
  });
}

// ---------------------------------------------------------------------------------------------
// Reply accounts: the omnithread-channel configs a node sends with (the reply node, the desk).

/** The channels a reply node has an account selector for: properties `<channel>Account` (`x` alone would be the node's position). */
export const REPLY_CHANNELS = ['whatsapp', 'messenger', 'instagram', 'telegram', 'sms', 'x', 'email'] as const;

/**
 * Channels that send with no settings, so every reply node can use them without an account: web chat (the
 * answer is recorded on the timeline and the visitor's widget polls it).
 */
export const ACCOUNTLESS_CHANNELS: Record<string, Record<string, never>> = { webchat: {} };

/** What a reply node reads from an omnithread-channel config node. */
interface ChannelConfigNode extends RedNode {
  channel: string;
  sendConfig: Record<string, unknown>;
}

/** The send settings of the accounts chosen in the node, by channel. */
export function replyAccountsOf(RED: RedApi, def: Record<string, unknown>): Record<string, unknown> {
  const channels: Record<string, unknown> = { ...ACCOUNTLESS_CHANNELS };
  for (const channel of REPLY_CHANNELS) {
    const field = `${channel}Account`;
    const id = def[field];
    if (typeof id !== 'string' || !id) continue;
    const config = RED.nodes.getNode(id) as ChannelConfigNode | null;
    if (!config) throw new OmnithreadError('INVALID_INPUT', `The ${channel} account (channel config ${id}) does not exist or is disabled: pick it again in the node`, { field });
    if (config.channel !== channel) {
      throw new OmnithreadError('INVALID_INPUT', `The ${channel} account setting points at a ${config.channel} channel config "${config.name || config.id}": pick a ${channel} one`, { field });
    }
    channels[channel] = config.sendConfig;
  }
  return channels;
}

