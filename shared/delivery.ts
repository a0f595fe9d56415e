/**
 * What a failed send means, and whether to try again: one reading of provider errors for every channel.
 *
 * Delivery of a failed attempt:
 *   not_sent  the provider certainly did not take the message: it answered with a refusal (any 4xx, a 5xx
 *             other than 504, an SMTP reply code), or the request never left (connection refused, name not
 *             resolved, TLS refused, the channel's own checks).
 *   unknown   the request may have reached the provider and no answer came: a timeout, a connection cut
 *             while waiting, a gateway timeout (504), an answer without a message id. Sending again could
 *             make the person read it twice, so nothing here ever retries it on its own.
 *
 * Retries, only for not_sent failures that are temporary (rate limits, the provider's 5xx, a connection
 * refused): exponential back-off (1, 2, 4, 8... s with jitter, at most 30 s a step), never sooner than
 * the provider's Retry-After, within a budget of seconds; when the next wait would not fit in what is
 * left of the budget, the error is thrown at once, saying so.
 */
import { OmnithreadError, isOmnithreadError } from './errors';

export type Delivery = 'not_sent' | 'unknown';

/** Socket errors where the request never reached the provider. Anything else without an answer is unknown. */
const NEVER_LEFT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_INVALID_URL',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  // nodemailer: could not connect, resolve, start TLS or log in: no mail was handed over.
  'ECONNECTION',
  'EDNS',
  'ETLS',
  'EAUTH',
]);

/** Whether a failed attempt certainly did not send, or may have. A channel may say itself (details.delivery). */
export function deliveryOf(error: unknown): Delivery {
  if (!isOmnithreadError(error)) return 'unknown';
  const details = (error.details ?? {}) as { delivery?: unknown; status?: unknown; code?: unknown; responseCode?: unknown };
  if (details.delivery === 'not_sent' || details.delivery === 'unknown') return details.delivery;
  if (error.code !== 'PROVIDER_ERROR') return 'not_sent'; // refusals: rate limit, credentials, window, our own checks
  if (typeof details.status === 'number') return details.status === 504 ? 'unknown' : 'not_sent';
  if (typeof details.responseCode === 'number') return 'not_sent';
  return typeof details.code === 'string' && NEVER_LEFT.has(details.code) ? 'not_sent' : 'unknown';
}

/** A not_sent failure worth another attempt: a rate limit, the provider's 5xx, the provider unreachable. */
export function isTemporary(error: unknown): boolean {
  if (!isOmnithreadError(error) || deliveryOf(error) !== 'not_sent') return false;
  if (error.code === 'RATE_LIMITED') return true;
  if (error.code !== 'PROVIDER_ERROR') return false;
  const details = (error.details ?? {}) as { status?: unknown; responseCode?: unknown; reason?: unknown };
  if (typeof details.status === 'number') return details.status >= 500;
  if (typeof details.responseCode === 'number') return false; // SMTP 5xx is permanent (4xx is RATE_LIMITED)
  return details.reason === undefined;
}

export interface BackoffOptions {
  /** Seconds all attempts and waits may take together. 0 = one attempt. */
  budgetSeconds: number;
  /** Monotonic milliseconds (performance.now by default). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** 0..1, default Math.random: spreads retries of many senders. */
  random?: () => number;
}

const STEP_MAX_MS = 30_000;

export interface Attempted<T> {
  value: T;
  attempts: number;
}

/**
 * Runs `attempt` until it succeeds or fails for good: temporary not_sent failures are retried with
 * back-off within the budget; other failures are thrown at once. The error thrown after retries carries
 * details.attempts and says why it stopped.
 */
export async function withBackoff<T>(attempt: (n: number) => Promise<T>, options: BackoffOptions): Promise<Attempted<T>> {
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const deadline = now() + Math.max(0, options.budgetSeconds) * 1000;
  for (let n = 1; ; n++) {
    try {
      return { value: await attempt(n), attempts: n };
    } catch (error) {
      if (!isTemporary(error)) throw withAttempts(error, n);
      const e = error as OmnithreadError;
      const asked = Number((e.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds);
      const backoff = Math.min(STEP_MAX_MS, 1000 * 2 ** (n - 1)) * (0.5 + random() / 2);
      const wait = Math.max(backoff, Number.isFinite(asked) ? asked * 1000 : 0);
      const left = deadline - now();
      if (wait > left) {
        const why = left <= 0 || options.budgetSeconds <= 0 ? 'no retry budget left' : `the next try (in ${Math.ceil(wait / 1000)} s) is beyond the retry budget of ${options.budgetSeconds} s`;
        throw withAttempts(e, n, `${e.message} (${n} attempt${n > 1 ? 's' : ''}; ${why})`);
      }
      await sleep(wait);
    }
  }
}

function withAttempts(error: unknown, attempts: number, message?: string): unknown {
  if (!isOmnithreadError(error)) return error;
  return new OmnithreadError(error.code, message ?? error.message, { field: error.field, details: { ...(error.details ?? {}), attempts, delivery: deliveryOf(error) } });
}
