/**
 * The desk's API client: every call goes to the page's own path with `?op=...` (the desk may be served at
 * /webhook/desk, /omnithread/desk ...), with the session cookie (credentials: same-origin); every POST
 * carries the CSRF token of op=me as X-Omnithread-Csrf. A 401 anywhere calls the unauthorized handler,
 * which returns the app to the sign-in screen.
 */
import type { DeskError, WriteBody, WriteOp } from '../contract';

/** The header name of contract.ts's CSRF_HEADER (a value import would pull zod into the bundle). */
export const CSRF_HEADER_NAME = 'X-Omnithread-Csrf';

export class ApiError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 for a network error (the request may or may not have reached the server). */
    readonly status: number,
    readonly code: string,
    readonly field?: string,
    /** Seconds from Retry-After (429, 503). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
  get network(): boolean {
    return this.status === 0;
  }
}

let csrf = '';
let onUnauthorized: (err: ApiError) => void = () => undefined;

export function setCsrf(token: string): void {
  csrf = token;
}
export function setUnauthorizedHandler(handler: (err: ApiError) => void): void {
  onUnauthorized = handler;
}

type Params = Record<string, string | number | boolean | null | undefined>;

/** `<this page's path>?op=<op>&...` */
export function apiUrl(op: string, params: Params = {}): string {
  const search = new URLSearchParams({ op });
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  return `${location.pathname}?${search.toString()}`;
}

async function call<T>(method: 'GET' | 'POST', op: string, params: Params, body: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method === 'POST') {
    headers['Content-Type'] = 'application/json';
    if (csrf) headers[CSRF_HEADER_NAME] = csrf;
  }
  let res: Response;
  try {
    res = await fetch(apiUrl(op, params), {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined,
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError('The desk server cannot be reached. Check your connection and try again.', 0, 'network');
  }
  const type = res.headers.get('content-type') ?? '';
  const payload: unknown = type.includes('json') ? await res.json().catch(() => null) : null;
  if (res.ok) return payload as T;
  const e = (payload && typeof payload === 'object' ? payload : {}) as Partial<DeskError>;
  const retry = Number(res.headers.get('retry-after'));
  const err = new ApiError(
    e.error || `The desk answered ${res.status} ${res.statusText}`.trim(),
    res.status,
    e.code || `http_${res.status}`,
    e.field,
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
  );
  // Signing in with a wrong password is a 401 too: that is the form's own error, not a lost session.
  if (res.status === 401 && op !== 'signin' && op !== 'signin-link') onUnauthorized(err);
  throw err;
}

export function get<T>(op: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  return call<T>('GET', op, params, undefined, signal);
}

/** A write; the body is checked against the contract's schema input type for that op. */
export function post<Op extends WriteOp>(op: Op, body: WriteBody<Op>): Promise<unknown> {
  return call<unknown>('POST', op, {}, body);
}

/** A fresh id for reply/note idempotency; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newClientId(): string {
  if (typeof crypto.randomUUID === 'function') {
    try {
      return crypto.randomUUID();
    } catch {
      // insecure context in some browsers: fall through
    }
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A message for a person from any error. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 429) return `${err.message || 'Too many attempts.'}${err.retryAfter ? ` Try again in ${formatWait(err.retryAfter)}.` : ''}`;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

function formatWait(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} s`;
  return `${Math.ceil(seconds / 60)} min`;
}
