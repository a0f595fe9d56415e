/**
 * The desk behind one URL, for any HTTP host: the n8n Desk node's webhook and the Node-RED desk node's
 * httpNode route both hand a request here and write back what it returns. GET without `op` is the page,
 * `?asset=` its bundled script and styles (built into dist/desk at build time: no CDN, works offline),
 * `?op=` the JSON API of ./contract.ts. Security is decided here, once: sessions (./auth.ts), CSRF and
 * cross-site checks on every POST, roles, the workspace of the store, strict security headers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { OmnithreadError, isOmnithreadError } from '../errors';
import { parseInput } from '../model';
import type { Omnithread } from '../omnithread';
import type { Viewer } from '../facade/desk';
import type { ReplyOptions } from '../reply';
import * as actions from './actions';
import * as auth from './auth';
import { CSRF_HEADER, QUEUES, SESSION_COOKIE, WRITE_SCHEMAS } from './contract';
import type { AgentAccessView, DeskError, Me, WriteOp } from './contract';
import { deskAssetUrls, deskHtml } from './page-shell';
import type { DeskManifest } from './page-shell';
import { inboxView, personView } from './views';

export interface DeskOptions {
  /** The facade of the store the desk shows (resolved on first use, so a store that is still opening is waited for). */
  omnithread: () => Promise<Omnithread>;
  /** Send settings per channel id (the accounts the desk replies with), as the Reply node takes them. */
  reply: Omit<ReplyOptions, 'now'>;
  /** Minutes a customer may wait for a first answer before the SLA clock turns red, when no handoff set one. Default 60. */
  slaMinutes?: number;
  /** How long a session lasts. Default 12 hours. */
  sessionHours?: number;
  title?: string;
  csatText?: string;
  /** How often a waiting `op=changes` looks at the store. Default 500 ms. */
  changesPollMs?: number;
  /** Where the built page is (dist/desk). */
  assetsDir?: string;
  /**
   * The first admin, from the node's settings: this roster agent (added to the roster when missing) gets the
   * admin role with this password, so a new desk can be signed in to; other agents are added from its Agents panel.
   */
  admin?: { agentId: string; name?: string; password: string };
}

export interface DeskHttpRequest {
  method: string;
  /** The absolute URL as the client used it (scheme, host, the desk's path and the query). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body?: Buffer;
  /** The client's address, for sign-in rate limits. */
  ip?: string;
}

export interface DeskHttpResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: string | Buffer;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const STATUS_OF: Partial<Record<string, number>> = {
  INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  WINDOW_CLOSED: 409,
  RATE_LIMITED: 429,
  STORE_UNAVAILABLE: 503,
  STORE_CONFIG: 500,
  AUTH_FAILED: 502,
  PROVIDER_ERROR: 502,
};

const MAX_BODY_BYTES = 256 * 1024;
const MAX_WAIT_SECONDS = 25;

const header = (req: DeskHttpRequest, name: string): string | undefined => {
  const value = req.headers[name] ?? req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
};

function json(status: number, body: unknown, headers: Record<string, string | string[]> = {}): DeskHttpResponse {
  return { status, headers: { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers }, body: JSON.stringify(body) };
}

export function errorResponse(error: unknown): DeskHttpResponse {
  if (isOmnithreadError(error)) {
    const status = STATUS_OF[error.code] ?? 500;
    const body: DeskError = { error: error.message, code: error.code, ...(error.field ? { field: error.field } : {}) };
    const retry = (error.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    const headers: Record<string, string> = status === 429 && retry ? { 'Retry-After': String(retry) } : status === 503 ? { 'Retry-After': '5' } : {};
    return json(status, body, headers);
  }
  return json(500, { error: `The desk failed: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`, code: 'INTERNAL' });
}

interface Assets {
  files: Map<string, { body: Buffer; type: string }>;
  manifest: DeskManifest;
}

/** The built page (npm run build): file names carry their content hash, so they are cached for a year and never stale. */
function loadAssets(dir: string): Assets {
  let manifest: DeskManifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as DeskManifest;
  } catch (error) {
    throw new OmnithreadError('STORE_CONFIG', `The desk page is not built (${(error as Error).message}): run npm run build`);
  }
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const entry of Object.values(manifest.files)) files.set(entry.name, { body: readFileSync(join(dir, entry.file)), type: entry.contentType });
  return { files, manifest };
}

/**
 * dist/desk next to the compiled dist/shared/desk; when this file runs from its TypeScript source (jest, ts-node:
 * shared/desk), the package's dist/desk that npm run build made.
 */
function defaultAssetsDir(): string {
  const built = join(__dirname, '..', '..', 'desk');
  return existsSync(join(built, 'manifest.json')) ? built : join(__dirname, '..', '..', 'dist', 'desk');
}

export class Desk {
  private assets?: Assets;
  private readonly slaMinutes: number;
  private readonly sessionHours: number;

  private readonly reply: Omit<ReplyOptions, 'now'>;

  constructor(private readonly options: DeskOptions) {
    // Web chat answers need no account: they are recorded, and the visitor's widget fetches them.
    this.reply = { ...options.reply, channels: { webchat: {}, ...options.reply.channels } };
    this.slaMinutes = options.slaMinutes ?? 60;
    this.sessionHours = options.sessionHours ?? 12;
  }

  /** Channels the desk can send on: those it has accounts for, and web chat, which needs none. */
  get sendChannels(): string[] {
    return Object.keys(this.reply.channels).sort();
  }

  async handle(req: DeskHttpRequest): Promise<DeskHttpResponse> {
    try {
      const url = new URL(req.url);
      const op = url.searchParams.get('op');
      const method = req.method.toUpperCase();
      if (!op) return method === 'GET' || method === 'HEAD' ? this.page(url) : json(405, { error: 'POST needs ?op=', code: 'INVALID_INPUT' });
      if (method === 'GET') return await this.read(op, url, req);
      if (method === 'POST') return await this.write(op, url, req);
      return json(405, { error: `${method} is not used by the desk`, code: 'INVALID_INPUT' }, { Allow: 'GET, POST' });
    } catch (error) {
      return errorResponse(error);
    }
  }

  private page(url: URL): DeskHttpResponse {
    this.assets ??= loadAssets(this.options.assetsDir ?? defaultAssetsDir());
    const asset = url.searchParams.get('asset');
    if (asset) {
      const file = this.assets.files.get(asset);
      if (!file) return json(404, { error: `No asset ${asset.slice(0, 100)}`, code: 'NOT_FOUND' });
      return { status: 200, headers: { ...SECURITY_HEADERS, 'Content-Type': file.type, 'Cache-Control': 'public, max-age=31536000, immutable' }, body: file.body };
    }
    const html = deskHtml({ title: this.options.title ?? 'Omnithread Desk', ...deskAssetUrls(this.assets.manifest) });
    return { status: 200, headers: { ...SECURITY_HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }, body: html };
  }

  private adminReady?: Promise<void>;

  /** Makes sure the configured admin can sign in (once per desk; the password is re-hashed only when it changed). */
  private async omnithread(): Promise<Omnithread> {
    const ot = await this.options.omnithread();
    const admin = this.options.admin;
    if (admin) {
      this.adminReady ??= (async () => {
        if (!(await ot.roster().get(admin.agentId))) await ot.roster().upsert({ id: admin.agentId, name: admin.name ?? admin.agentId, kind: 'human' });
        const access = await ot.deskData().getAccess(admin.agentId);
        const current = access?.role === 'admin' && access.passwordHash ? await auth.verifyPassword(admin.password, access.passwordHash) : false;
        if (!current) await ot.deskData().setAccess(admin.agentId, 'admin', await auth.hashPassword(admin.password));
      })().catch((error) => {
        this.adminReady = undefined;
        throw error;
      });
      await this.adminReady;
    }
    return ot;
  }

  private async session(req: DeskHttpRequest): Promise<{ ot: Omnithread; session: auth.Session; viewer: Viewer & { name: string } }> {
    const ot = await this.omnithread();
    const session = await auth.sessionOf(ot.deskData(), req.headers.cookie);
    if (!session) throw new OmnithreadError('UNAUTHORIZED', 'Sign in to the desk first (no session, it has ended, or the agent has no desk access or roster entry any more)');
    return { ot, session, viewer: { agentId: session.agentId, role: session.role, name: session.name ?? session.agentId } };
  }

  private async me(ot: Omnithread, session: auth.Session): Promise<Me> {
    const agent = (await ot.roster().get(session.agentId))!;
    const agents = await ot.roster().list();
    return {
      agent: { id: agent.id, name: agent.name, kind: agent.kind, role: session.role, status: agent.status },
      csrf: auth.csrfOf(session.token),
      workspace: ot.workspace,
      sessionExpiresAt: new Date(session.expiresAt).toISOString(),
      sendChannels: this.sendChannels,
      agents: agents.map((a) => ({ id: a.id, name: a.name, kind: a.kind, status: a.status })),
      now: new Date(ot.now()).toISOString(),
    };
  }

  private async read(op: string, url: URL, req: DeskHttpRequest): Promise<DeskHttpResponse> {
    const { ot, session, viewer } = await this.session(req);
    const q = (name: string): string | undefined => url.searchParams.get(name) ?? undefined;
    switch (op) {
      case 'me':
        return json(200, await this.me(ot, session));
      case 'inbox': {
        const queue = parseInput(z.enum(QUEUES).default('waiting'), q('queue'), 'queue');
        const limit = parseInput(z.coerce.number().int().min(1).max(200).default(50), q('limit'), 'limit');
        return json(200, await inboxView(ot, { queue, viewer, q: q('q')?.slice(0, 200), cursor: q('cursor'), limit, slaMinutes: this.slaMinutes }));
      }
      case 'person': {
        const contactId = await actions.requireVisible(ot, viewer, parseInput(z.string().trim().min(1).max(128), q('contactId'), 'contactId'));
        return json(200, await personView(ot, contactId, { before: q('before'), limit: 300, sendChannels: this.sendChannels }));
      }
      case 'changes':
        return json(200, await this.changes(ot, q('since'), q('wait')));
      case 'metrics': {
        const query = { from: q('from'), to: q('to'), bucket: q('bucket'), channel: q('channel'), agentId: q('agentId') };
        // An agent reads their own figures; the team's are an admin's.
        if (viewer.role !== 'admin' && query.agentId !== viewer.agentId) query.agentId = viewer.agentId;
        return json(200, await ot.metrics(Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined && v !== '')) as never));
      }
      case 'agents':
        requireAdmin(viewer);
        return json(200, await this.agents(ot));
      default:
        throw new OmnithreadError('INVALID_INPUT', `Unknown desk operation "${op.slice(0, 40)}"`, { field: 'op' });
    }
  }

  private async changes(ot: Omnithread, sinceText: string | undefined, waitText: string | undefined) {
    const since = parseInput(z.coerce.number().int().min(0), sinceText ?? '0', 'since');
    const wait = Math.min(MAX_WAIT_SECONDS, parseInput(z.coerce.number().min(0).default(0), waitText, 'wait'));
    const until = Date.now() + wait * 1000;
    for (;;) {
      const found = await ot.deskData().changesSince(since, 200);
      if (found.seq > since || Date.now() >= until) return { seq: found.seq, contactIds: found.rootIds, many: found.many };
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.options.changesPollMs ?? 500, Math.max(1, until - Date.now()))));
    }
  }

  private async agents(ot: Omnithread): Promise<AgentAccessView[]> {
    const access = new Map((await ot.deskData().listAccess()).map((a) => [a.agentId, a] as const));
    return (await ot.roster().list()).map((agent) => {
      const a = access.get(agent.id);
      return { id: agent.id, name: agent.name, kind: agent.kind, status: agent.status, role: a?.role ?? null, hasPassword: Boolean(a?.passwordHash), activeSessions: a?.activeSessions ?? 0 };
    });
  }

  /** Refuses a POST another site could have made: a foreign Origin or a cross-site fetch, and anything but JSON. */
  private checkSameOrigin(url: URL, req: DeskHttpRequest): void {
    const site = header(req, 'sec-fetch-site');
    if (site && site !== 'same-origin' && site !== 'none') throw new OmnithreadError('FORBIDDEN', `Cross-site request refused (Sec-Fetch-Site: ${site})`);
    const origin = header(req, 'origin');
    if (origin && origin !== 'null') {
      let host: string;
      try {
        host = new URL(origin).host;
      } catch {
        throw new OmnithreadError('FORBIDDEN', 'Cross-site request refused (unreadable Origin)');
      }
      const expected = header(req, 'x-forwarded-host') ?? header(req, 'host') ?? url.host;
      if (host !== expected && host !== url.host) throw new OmnithreadError('FORBIDDEN', `Cross-site request refused (Origin ${origin})`);
    } else if (origin === 'null') throw new OmnithreadError('FORBIDDEN', 'Cross-site request refused (Origin: null)');
    const type = header(req, 'content-type') ?? '';
    if (!/^application\/json\b/i.test(type)) throw new OmnithreadError('INVALID_INPUT', 'The desk API takes application/json', { field: 'content-type' });
  }

  private body<Op extends WriteOp>(op: Op, req: DeskHttpRequest): z.output<(typeof WRITE_SCHEMAS)[Op]> {
    const raw = req.body ?? Buffer.alloc(0);
    if (raw.length > MAX_BODY_BYTES) throw new OmnithreadError('INVALID_INPUT', `The body is over ${MAX_BODY_BYTES} bytes`);
    let parsed: unknown;
    try {
      parsed = raw.length ? JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw)) : {};
    } catch (error) {
      throw new OmnithreadError('INVALID_INPUT', `The body is not valid JSON: ${(error as Error).message}`);
    }
    return parseInput(WRITE_SCHEMAS[op], parsed, `${op} request`) as z.output<(typeof WRITE_SCHEMAS)[Op]>;
  }

  private cookieFor(url: URL, token: string, maxAgeSeconds: number): string {
    return auth.sessionCookie(token, { path: url.pathname, secure: url.protocol === 'https:', maxAgeSeconds });
  }

  private async write(op: string, url: URL, req: DeskHttpRequest): Promise<DeskHttpResponse> {
    if (!(op in WRITE_SCHEMAS)) throw new OmnithreadError('INVALID_INPUT', `Unknown desk operation "${op.slice(0, 40)}"`, { field: 'op' });
    this.checkSameOrigin(url, req);
    const writeOp = op as WriteOp;
    if (writeOp === 'signin' || writeOp === 'signin-link') {
      const ot = await this.omnithread();
      const data = ot.deskData();
      let session: auth.Session & { access: unknown };
      if (writeOp === 'signin') {
        const { agentId, password } = this.body('signin', req);
        session = await auth.signInWithPassword(data, agentId, password, req.ip, this.sessionHours);
      } else session = await auth.signInWithLink(data, this.body('signin-link', req).token, req.ip, this.sessionHours);
      if (!(await ot.roster().get(session.agentId))) throw new OmnithreadError('UNAUTHORIZED', `Agent ${session.agentId} is no longer in the roster`);
      return json(200, await this.me(ot, session), { 'Set-Cookie': this.cookieFor(url, session.token, this.sessionHours * 3600) });
    }
    const { ot, session, viewer } = await this.session(req);
    const csrf = header(req, CSRF_HEADER);
    if (!csrf || !auth.sameSecret(csrf, auth.csrfOf(session.token))) throw new OmnithreadError('FORBIDDEN', `Missing or wrong ${CSRF_HEADER} header (take it from op=me)`);
    const ctx: actions.ActionContext = { ot, viewer, reply: this.reply, csatText: this.options.csatText ?? 'How did we do? Reply with a number from 1 (poor) to 5 (great).' };
    switch (writeOp) {
      case 'signout':
        await auth.endSession(ot.deskData(), session.token);
        return json(200, { signedOut: true }, { 'Set-Cookie': this.cookieFor(url, '', 0) });
      case 'reply':
        return json(200, await actions.reply(ctx, this.body('reply', req)));
      case 'note':
        return json(200, await actions.note(ctx, this.body('note', req)));
      case 'assign':
        return json(200, await actions.assign(ctx, this.body('assign', req)));
      case 'accept':
        return json(200, await actions.accept(ctx, this.body('accept', req)));
      case 'release':
        return json(200, await actions.release(ctx, this.body('release', req)));
      case 'transfer':
        return json(200, await actions.transfer(ctx, this.body('transfer', req)));
      case 'resolve':
        return json(200, await actions.resolve(ctx, this.body('resolve', req)));
      case 'csat':
        return json(200, await actions.requestCsat(ctx, this.body('csat', req)));
      case 'merge-accept':
        return json(200, await actions.acceptSuggestion(ctx, this.body('merge-accept', req)));
      case 'merge-dismiss':
        return json(200, await actions.dismissSuggestion(ctx, this.body('merge-dismiss', req)));
      case 'unmerge':
        return json(200, await actions.unmerge(ctx, this.body('unmerge', req)));
      case 'agent-access': {
        requireAdmin(viewer);
        const body = this.body('agent-access', req);
        if (!(await ot.roster().get(body.agentId))) throw new OmnithreadError('NOT_FOUND', `Agent "${body.agentId}" is not in the roster: add it with the Handoff node's roster operations first`, { field: 'agentId' });
        if (body.agentId === viewer.agentId && body.role !== 'admin') throw new OmnithreadError('CONFLICT', 'An admin cannot take their own admin role away (another admin can)', { field: 'role' });
        await ot.deskData().setAccess(body.agentId, body.role, body.password === undefined ? undefined : await auth.hashPassword(body.password));
        return json(200, (await this.agents(ot)).find((a) => a.id === body.agentId));
      }
      case 'agent-link': {
        requireAdmin(viewer);
        const body = this.body('agent-link', req);
        return json(200, await auth.issueLink(ot.deskData(), body.agentId, `${url.origin}${url.pathname}`, body.hours));
      }
      case 'agent-revoke': {
        requireAdmin(viewer);
        const body = this.body('agent-revoke', req);
        if (body.agentId === viewer.agentId) throw new OmnithreadError('CONFLICT', 'An admin cannot revoke their own access', { field: 'agentId' });
        return json(200, { agentId: body.agentId, revoked: await ot.deskData().revokeAccess(body.agentId) });
      }
    }
  }
}

function requireAdmin(viewer: Viewer): void {
  if (viewer.role !== 'admin') throw new OmnithreadError('FORBIDDEN', 'Only a desk admin can do this');
}

export function createDesk(options: DeskOptions): Desk {
  return new Desk(options);
}

export { SESSION_COOKIE };
