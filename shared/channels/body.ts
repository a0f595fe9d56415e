/**
 * Reading a delivery's body, for every channel: bytes that are not valid UTF-8 where the channel says JSON
 * or text are refused (decoding them with replacement characters would make two different ids one, and
 * the second message would be taken for a redelivery and lost), and JSON is held to limits on depth,
 * size of arrays and objects, and the number of values, checked here at the boundary so that nothing
 * downstream (validation, JSON.stringify into the store) meets a payload it can not handle. Every refusal
 * is INVALID_INPUT naming the limit: a 400, never a 503.
 */
import { OmnithreadError } from '../errors';
import type { WebhookRequest } from './channel';

/** What a JSON delivery may hold. Provider payloads are a few levels deep and a few hundred values. */
export const JSON_LIMITS = {
  /** Nesting of arrays and objects. */
  depth: 32,
  /** Elements of one array. */
  arrayLength: 10_000,
  /** Keys of one object. */
  objectKeys: 1_000,
  /** Values in the whole body (every string, number, array, object...). */
  values: 200_000,
} as const;

const invalid = (message: string, field = '(body)') => new OmnithreadError('INVALID_INPUT', message, { field });

/** The body as text: UTF-8, strictly (a BOM is allowed and dropped). */
export function textBody(request: WebhookRequest): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(request.rawBody);
  } catch {
    const at = firstInvalidByte(request.rawBody);
    throw invalid(`The request body is not valid UTF-8 (an invalid byte sequence at byte ${at}): nothing was recorded. Send the body encoded as UTF-8.`);
  }
}

/** Where the first byte that is not part of a valid UTF-8 sequence is (for the error message). */
function firstInvalidByte(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const length = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (!length || i + length > bytes.length) return i;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(i, i + length));
    } catch {
      return i;
    }
    i += length;
  }
  return bytes.length;
}

/** Checks a parsed JSON value against JSON_LIMITS, iteratively (a deep body must not exhaust the stack here either). */
export function checkJsonLimits(value: unknown): void {
  let values = 0;
  const stack: { value: unknown; depth: number; path: string }[] = [{ value, depth: 0, path: '' }];
  while (stack.length) {
    const { value: v, depth, path } = stack.pop()!;
    if (++values > JSON_LIMITS.values) throw invalid(`The request body holds more than ${JSON_LIMITS.values} values (the limit): nothing was recorded.`);
    if (v === null || typeof v !== 'object') continue;
    if (depth >= JSON_LIMITS.depth) throw invalid(`The request body is nested more than ${JSON_LIMITS.depth} levels deep (the limit), at ${path || '(root)'}: nothing was recorded.`, path || '(body)');
    if (Array.isArray(v)) {
      if (v.length > JSON_LIMITS.arrayLength) throw invalid(`An array of the request body has ${v.length} elements, more than the limit of ${JSON_LIMITS.arrayLength}: nothing was recorded.`, path || '(body)');
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth: depth + 1, path: path ? `${path}.${i}` : String(i) });
    } else {
      const keys = Object.keys(v);
      if (keys.length > JSON_LIMITS.objectKeys) throw invalid(`An object of the request body has ${keys.length} keys, more than the limit of ${JSON_LIMITS.objectKeys}: nothing was recorded.`, path || '(body)');
      for (const key of keys) stack.push({ value: (v as Record<string, unknown>)[key], depth: depth + 1, path: path ? `${path}.${key}` : key });
    }
  }
}

/** The body as JSON: strict UTF-8, parsed, within JSON_LIMITS. */
export function parseJsonBody(request: WebhookRequest): unknown {
  if (!request.rawBody.length) throw invalid('The request body is empty: send a JSON message');
  const text = textBody(request);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(`The request body is not valid JSON: ${(error as Error).message}`);
  }
  checkJsonLimits(value);
  return value;
}

/**
 * application/x-www-form-urlencoded parameters, decoded strictly: a percent-encoded byte sequence that is
 * not UTF-8 is refused (URLSearchParams would turn it into U+FFFD without a word).
 */
export function formParams(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const at = pair.indexOf('=');
    const [name, value] = at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
    try {
      out.push([decodeURIComponent(name.replace(/\+/g, ' ')), decodeURIComponent(value.replace(/\+/g, ' '))]);
    } catch {
      throw invalid(`The form parameter "${name.slice(0, 64)}" is not valid UTF-8 (or not valid percent-encoding): nothing was recorded.`, name.slice(0, 64) || '(body)');
    }
  }
  return out;
}
