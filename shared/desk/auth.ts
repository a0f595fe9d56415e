/**
 * Signing agents in to the desk. Agents are the roster's (the Handoff node's); the desk adds a role and a
 * way in: a password the admin sets (scrypt, the memory-hard KDF in node:crypto) or a one-time sign-in
 * link the admin issues. Sessions and links are 256-bit random tokens of which the store keeps only the
 * SHA-256: a copy of the database signs nobody in. The session travels in an HttpOnly, SameSite=Strict
 * cookie scoped to the desk's path; every write also needs a CSRF token derived from the session (the page
 * reads it from op=me; another site can neither read it nor send the custom header without a preflight
 * we never grant). Failed sign-ins are counted in the store, per agent and per client address, so the
 * limit holds across n8n workers and Node-RED instances.
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { OmnithreadError } from '../errors';
import type { DeskAccess, DeskData, DeskRole } from '../facade/desk';
import { SESSION_COOKIE } from './contract';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** OWASP's scrypt floor (N=2^17, r=8, p=1): about 128 MB and a few hundred ms per sign-in on a small server. */
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 } as const;
const KEY_LENGTH = 32;

export const MIN_PASSWORD_LENGTH = 10;
export const SIGN_IN_WINDOW_MS = 15 * 60 * 1000;
/** Failed sign-ins allowed per window: per agent (a guessed password), and per client address (a sprayed one). */
export const MAX_FAILURES_PER_AGENT = 10;
export const MAX_FAILURES_PER_ADDRESS = 30;

export async function hashPassword(password: string): Promise<string> {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new OmnithreadError('INVALID_INPUT', `A desk password needs at least ${MIN_PASSWORD_LENGTH} characters`, { field: 'password' });
  }
  const salt = randomBytes(16);
  const key = await scrypt(password.normalize('NFC'), salt, KEY_LENGTH, SCRYPT);
  return `scrypt$${Math.log2(SCRYPT.N)}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, logN, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await scrypt(password.normalize('NFC'), Buffer.from(salt, 'base64url'), expected.length, { N: 2 ** Number(logN), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return timingSafeEqual(actual, expected);
}

export const newToken = (): string => randomBytes(32).toString('base64url');
export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');
/** The CSRF token of a session: derived from the session token, so nothing more is stored. */
export const csrfOf = (sessionToken: string): string => createHash('sha256').update(`omnithread-desk-csrf\n${sessionToken}`).digest('base64url');

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The cookies of a request (the header as sent; n8n and express may not parse them for us). */
export function cookiesOf(header: string | string[] | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const line of Array.isArray(header) ? header : header ? [header] : []) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const name = part.slice(0, eq).trim();
      if (!name || name in cookies) continue;
      try {
        cookies[name] = decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        cookies[name] = part.slice(eq + 1).trim();
      }
    }
  }
  return cookies;
}

export function sessionCookie(token: string, options: { path: string; secure: boolean; maxAgeSeconds: number }): string {
  return [
    `${SESSION_COOKIE}=${token}`,
    `Path=${options.path}`,
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

export interface Session {
  token: string;
  agentId: string;
  role: DeskRole;
  expiresAt: number;
  /** The agent's roster name (undefined right after sign-in, before it is read). */
  name?: string;
}

/** The session a cookie stands for, with the agent's current role and name; undefined when there is none, it ended, or the agent lost access. */
export async function sessionOf(data: DeskData, cookieHeader: string | string[] | undefined): Promise<Session | undefined> {
  const token = cookiesOf(cookieHeader)[SESSION_COOKIE];
  if (!token || token.length > 128) return undefined;
  const live = await data.liveSession(tokenHash(token));
  return live && { token, ...live };
}

export async function startSession(data: DeskData, agentId: string, hours: number): Promise<Session & { access: DeskAccess }> {
  const access = await data.getAccess(agentId);
  if (!access) throw new OmnithreadError('UNAUTHORIZED', 'This agent has no desk access');
  const token = newToken();
  const now = data.now();
  const expiresAt = now + hours * 3600 * 1000;
  await data.createToken(tokenHash(token), { agentId, kind: 'session', createdAt: now, expiresAt });
  return { token, agentId, role: access.role, expiresAt, access };
}

export async function endSession(data: DeskData, token: string): Promise<void> {
  await data.deleteToken(tokenHash(token));
}

/** Refuses with 429 while an agent or an address is over its failure limit; the caller records failures. */
export async function checkRateLimit(data: DeskData, keys: { agent?: string; address?: string }): Promise<void> {
  const checks: [string, number][] = [];
  if (keys.agent) checks.push([`agent:${keys.agent}`, MAX_FAILURES_PER_AGENT]);
  if (keys.address) checks.push([`address:${keys.address}`, MAX_FAILURES_PER_ADDRESS]);
  for (const [key, max] of checks) {
    const seen = await data.failures(key, SIGN_IN_WINDOW_MS);
    if (seen.failures >= max) {
      const seconds = Math.max(1, Math.ceil((seen.retryAt - data.now()) / 1000));
      throw new OmnithreadError('RATE_LIMITED', `Too many failed sign-ins; try again in ${Math.ceil(seconds / 60)} minute(s)`, { details: { retryAfterSeconds: seconds } });
    }
  }
}

export async function recordSignInFailure(data: DeskData, keys: { agent?: string; address?: string }): Promise<void> {
  await data.recordFailure([...(keys.agent ? [`agent:${keys.agent}`] : []), ...(keys.address ? [`address:${keys.address}`] : [])], SIGN_IN_WINDOW_MS);
}

/** Signs in with a password: the session, or UNAUTHORIZED with one message whatever was wrong (no agent enumeration). */
export async function signInWithPassword(data: DeskData, agentId: string, password: string, address: string | undefined, hours: number): Promise<Session & { access: DeskAccess }> {
  await checkRateLimit(data, { agent: agentId, address });
  const access = await data.getAccess(agentId);
  // The hash is computed even for an unknown agent, so the answer's timing does not tell who exists.
  const ok = access?.passwordHash ? await verifyPassword(password, access.passwordHash) : (await hashPassword('x'.repeat(MIN_PASSWORD_LENGTH)), false);
  if (!ok || !access) {
    await recordSignInFailure(data, { agent: agentId, address });
    throw new OmnithreadError('UNAUTHORIZED', 'Wrong agent id or password');
  }
  await data.clearFailures(`agent:${agentId}`);
  return startSession(data, agentId, hours);
}

export async function signInWithLink(data: DeskData, token: string, address: string | undefined, hours: number): Promise<Session & { access: DeskAccess }> {
  await checkRateLimit(data, { address });
  const agentId = await data.useLink(tokenHash(token));
  if (!agentId) {
    await recordSignInFailure(data, { address });
    throw new OmnithreadError('UNAUTHORIZED', 'This sign-in link is not valid: it was used already, has expired, or was never issued here');
  }
  return startSession(data, agentId, hours);
}

/** Issues a one-time sign-in link for an agent with desk access. Only the token's hash is stored. */
export async function issueLink(data: DeskData, agentId: string, deskUrl: string, hours = 24): Promise<{ agentId: string; url: string; token: string; expiresAt: string }> {
  if (!(await data.getAccess(agentId))) {
    throw new OmnithreadError('NOT_FOUND', `Agent "${agentId}" has no desk access: give it a role first (agent-access)`, { field: 'agentId' });
  }
  const token = newToken();
  const now = data.now();
  const expiresAt = now + hours * 3600 * 1000;
  await data.createToken(tokenHash(token), { agentId, kind: 'link', createdAt: now, expiresAt });
  const base = deskUrl.replace(/#.*$/, '');
  return { agentId, url: `${base}#signin=${token}`, token, expiresAt: new Date(expiresAt).toISOString() };
}
