/**
 * What every channel's `send` shares: turning a provider's HTTP failure into an error a node can act on,
 * and comparing secrets in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import type { AxiosError } from 'axios';
import { OmnithreadError } from '../errors';

/** Seconds from a Retry-After header (seconds or an HTTP date), if there is a usable one. */
export function retryAfterSeconds(value: unknown, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(String(value));
  return Number.isFinite(date) ? Math.max(0, Math.ceil((date - now) / 1000)) : undefined;
}

/**
 * A provider's failure as an OmnithreadError: 429 -> RATE_LIMITED (with retryAfterSeconds when the
 * provider says), 401/403 -> AUTH_FAILED, anything else -> PROVIDER_ERROR with the provider's answer.
 * `specific` lets a channel recognise its own codes first (WhatsApp's closed window, say).
 */
export function providerError(
  provider: string,
  error: unknown,
  specific?: (status: number | undefined, body: unknown) => OmnithreadError | undefined,
): OmnithreadError {
  if (error instanceof OmnithreadError) return error;
  const axiosError = error as AxiosError;
  const status = axiosError.response?.status;
  const body = axiosError.response?.data;
  const mapped = specific?.(status, body);
  if (mapped) return mapped;
  const details = { provider, status, response: body };
  const said = typeof body === 'object' && body !== null ? JSON.stringify(body).slice(0, 300) : String(body ?? axiosError.message);
  if (status === 429) {
    const retry = retryAfterSeconds(axiosError.response?.headers?.['retry-after']);
    return new OmnithreadError('RATE_LIMITED', `${provider} rate limit reached${retry !== undefined ? `: retry after ${retry} s` : ''}`, {
      details: { ...details, retryAfterSeconds: retry },
    });
  }
  if (status === 401 || status === 403) {
    return new OmnithreadError('AUTH_FAILED', `${provider} refused the credentials (HTTP ${status}): ${said}`, { details });
  }
  if (status === undefined) {
    // No `cause`: the request config it carries holds the access token, and errors travel into logs and flows.
    return new OmnithreadError('PROVIDER_ERROR', `${provider} could not be reached: ${axiosError.message}`, { details: { ...details, code: axiosError.code } });
  }
  return new OmnithreadError('PROVIDER_ERROR', `${provider} answered HTTP ${status}: ${said}`, { details });
}

/** Constant-time string comparison (different lengths are simply unequal). */
export function safeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
