import type { ZodError } from 'zod';

/** Error codes a user or an adapter can act on. Adapters map them to HTTP statuses and node errors. */
export type OmnithreadErrorCode =
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'STORE_UNAVAILABLE'
  | 'STORE_CONFIG'
  /** The provider refused the credentials (401/403, an invalid or expired token). */
  | 'AUTH_FAILED'
  /** The provider's rate limit: `details.retryAfterSeconds` says when to try again. */
  | 'RATE_LIMITED'
  /** The channel may not be used now (e.g. WhatsApp's 24-hour customer-service window has closed). */
  | 'WINDOW_CLOSED'
  /** Any other refusal or failure of the provider's API; `details` holds its answer. */
  | 'PROVIDER_ERROR'
  /**
   * A delivery that is deliberately not recorded, and is acknowledged all the same: mail between two of
   * our own addresses (no customer in it). Triggers count it as ignored; the message says why.
   */
  | 'IGNORED'
  /** Not signed in (the desk: no session, an expired one, a wrong password or sign-in link). */
  | 'UNAUTHORIZED'
  /** Signed in, but not allowed: another agent's conversation, an admin-only action, a cross-site write. */
  | 'FORBIDDEN';

export class OmnithreadError extends Error {
  readonly code: OmnithreadErrorCode;
  /** Dotted path of the offending field, when the error is about one field of the input. */
  readonly field?: string;
  readonly details?: unknown;

  constructor(code: OmnithreadErrorCode, message: string, options: { field?: string; details?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OmnithreadError';
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }
}

export function isOmnithreadError(error: unknown, code?: OmnithreadErrorCode): error is OmnithreadError {
  return error instanceof OmnithreadError && (code === undefined || error.code === code);
}

/** How many problems an error names; the rest are counted (a 600 KB array of bad items must not make a 12 MB answer). */
const NAMED_ISSUES = 5;
const DETAILED_ISSUES = 20;

/** Turns a zod failure into one error whose message names the first offending fields (first field first) and counts the rest. */
export function invalidInput(what: string, error: ZodError): OmnithreadError {
  const issues = error.issues.slice(0, DETAILED_ISSUES).map((issue) => ({
    field: (issue.path.length ? issue.path.join('.') : '(root)').slice(0, 200),
    message: issue.message.slice(0, 300),
  }));
  const more = error.issues.length - Math.min(error.issues.length, NAMED_ISSUES);
  const text = issues.slice(0, NAMED_ISSUES).map((i) => `${i.field}: ${i.message}`).join('; ') + (more > 0 ? `; and ${more} more problem${more > 1 ? 's' : ''}` : '');
  return new OmnithreadError('INVALID_INPUT', `Invalid ${what}: ${text}`, { field: issues[0]?.field, details: { issues, count: error.issues.length } });
}

export function notFound(what: string, id: string): OmnithreadError {
  return new OmnithreadError('NOT_FOUND', `${what} "${id}" was not found in this workspace`, { details: { id } });
}
