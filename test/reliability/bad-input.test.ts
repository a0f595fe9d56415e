/**
 * Bad input against a real Node-RED 5 process, over real HTTP: every refusal is a 400 (or a 413) with a
 * JSON error, never a 503 (which makes a provider deliver the same bad body again for days), and stores
 * nothing. The defects these reproduce (fixed in b40b2e8):
 *
 * - Invalid UTF-8 was decoded with replacement characters: two messages whose ids differ only in one
 *   invalid byte became the same id, and the second was acknowledged as a "duplicate" and lost.
 * - A deeply nested body overflowed the stack past the parser (validation, JSON.stringify into the store):
 *   the error was taken for a store failure and answered 503.
 * - A huge array of bad items answered with every problem: a 600 KB body made an answer of megabytes.
 * - A body over Node-RED's apiMaxLength reset the connection (or answered express's HTML error page).
 *   Checked at twice the limit, and at eight times it, with a client that sends the whole body before it
 *   reads the answer (so it is still sending when the 413 is written).
 * - The raw payload was kept unbounded, and the generic channel stored its body twice (as the message
 *   and again as its raw payload).
 */
import { connect } from 'node:net';
import {
  PNID,
  eventRows,
  genericCredentials,
  genericIn,
  genericMessage,
  postGeneric,
  postWhatsApp,
  rowCounts,
  storeNode,
  tab,
  useNodeRed,
  whatsappCredentials,
  whatsappDelivery,
  whatsappIn,
} from './kit';

jest.setTimeout(120_000);

const GENERIC = '/rel/generic';
const WHATSAPP = '/rel/whatsapp';
const API_MAX_LENGTH = 1024 * 1024; // settings.js apiMaxLength: '1mb'
const RAW_LIMIT = 32 * 1024; // the store's default Raw Payload Limit (32 KB)

const context = useNodeRed((db) => ({
  flows: [tab(), storeNode(db), genericIn('rel-in-generic', GENERIC), whatsappIn('rel-in-whatsapp', WHATSAPP)],
  credentials: { ...genericCredentials('rel-in-generic'), ...whatsappCredentials('rel-in-whatsapp') },
  settings: { apiMaxLength: '1mb' },
}));

/** A generic message as bytes, its messageId being exactly the bytes given (valid UTF-8 or not). */
const withRawMessageId = (messageId: Buffer): Buffer =>
  Buffer.concat([Buffer.from('{"messageId":"'), messageId, Buffer.from('","from":{"email":"utf8@example.org"},"text":"same text"}')]);

/**
 * POSTs a body as many HTTP clients do: the whole body first, then the answer is read. Over a raw socket
 * that reads nothing until the body is written, so that a reset (EPIPE, ECONNRESET: the server closed
 * while the body was still coming, and the kernel dropped the unread answer) shows as what it is.
 */
function postWholeBodyFirst(url: string, body: Buffer): Promise<{ status?: number; head: string; body: string; error?: string }> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let error: string | undefined;
    socket.pause();
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    socket.on('close', () => {
      const [head, ...rest] = Buffer.concat(chunks).toString('utf8').split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]) || undefined, head, body: rest.join('\r\n\r\n'), error });
    });
    socket.write(`POST ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    // Written: now read the answer; the server may keep the connection open, so hang up after a moment.
    socket.write(body, () => {
      socket.resume();
      setTimeout(() => socket.end(), 500);
    });
  });
}

describe('bad input: a 400 JSON error, never 503, nothing stored', () => {
  test('invalid UTF-8: two ids differing only in one invalid byte are both refused, not merged into one', async () => {
    const before = rowCounts(context.db);
    const ff = withRawMessageId(Buffer.from([0x61, 0xff])); // "a\xFF"
    const fe = withRawMessageId(Buffer.from([0x61, 0xfe])); // "a\xFE"
    expect(ff.equals(fe)).toBe(false);

    const answers = [await postGeneric(context.nodeRed.base + GENERIC, ff), await postGeneric(context.nodeRed.base + GENERIC, fe)];
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answer.json.error).toMatch(/not valid UTF-8 \(an invalid byte sequence at byte \d+\)/);
    }
    expect(rowCounts(context.db)).toEqual(before);

    // The same two ids as valid UTF-8 ("aÿ", "aþ") are two messages: both recorded, neither a duplicate.
    for (const id of ['a\u00ff', 'a\u00fe']) {
      const ok = await postGeneric(context.nodeRed.base + GENERIC, withRawMessageId(Buffer.from(id, 'utf8')));
      expect({ id, status: ok.status, body: ok.json }).toEqual({ id, status: 200, body: { received: 1, recorded: 1, duplicates: 0 } });
    }
    expect(rowCounts(context.db).events).toBe(before.events + 2);
  });

  test('deep nesting (~10 KB of nested arrays) is a 400 naming the depth limit, at the top and inside a message', async () => {
    const before = rowCounts(context.db);
    const nested = '['.repeat(5000) + ']'.repeat(5000);
    const inMetadata = JSON.stringify(genericMessage('deep-1', { from: { email: 'deep@example.org' }, metadata: { x: '@@NESTED@@' } })).replace('"@@NESTED@@"', nested);
    expect(nested.length).toBe(10_000);
    const answers = [];
    for (const body of [nested, inMetadata]) {
      const answer = await postGeneric(context.nodeRed.base + GENERIC, body);
      answers.push({ status: answer.status, retryAfter: answer.headers.get('retry-after'), error: answer.json?.error });
    }
    const refused = { status: 400, retryAfter: null, error: expect.stringMatching(/nested more than 32 levels deep \(the limit\)/) };
    expect(answers).toEqual([refused, refused]);
    expect(rowCounts(context.db)).toEqual(before);
  });

  test('a 600 KB array of invalid items: a small 400 naming the first five problems and counting the rest', async () => {
    const before = rowCounts(context.db);
    const items = 9_000; // under the JSON limit of 10,000 elements per array: each item is refused by the schema
    const body = JSON.stringify(Array.from({ length: items }, (_, i) => ({ messageId: '', from: {}, text: `invalid item ${String(i).padStart(5, '0')} ${'x'.repeat(20)}` })));
    expect(body.length).toBeGreaterThan(600_000);

    const answer = await postGeneric(context.nodeRed.base + GENERIC, body);
    expect(answer.status).toBe(400);
    expect(answer.text.length).toBeLessThan(8 * 1024);
    const named = (answer.json.error as string).split('; ');
    // "Invalid messages: (root): ...; 0.messageId: must not be empty; 0.from: needs ...; 1.messageId: ...; and N more problems"
    expect(named).toHaveLength(6);
    expect(named.slice(1, 3)).toEqual(['0.messageId: must not be empty', '0.from: needs at least one of email, phone, accountId or handles']);
    // Every item has two problems (empty messageId, no handle), and the batch one more (over 100 messages).
    const more = Number(/and (\d+) more problems$/.exec(answer.json.error)?.[1]);
    expect(more + 5).toBe(2 * items + 1);
    expect(rowCounts(context.db)).toEqual(before);
  });

  test("a body over Node-RED's apiMaxLength gets a JSON 413, and the connection is not reset", async () => {
    const before = rowCounts(context.db);
    const body = JSON.stringify(genericMessage('too-big', { from: { email: 'big@example.org' }, text: 'x'.repeat(2 * API_MAX_LENGTH) }));
    const answer = await postWholeBodyFirst(context.nodeRed.base + GENERIC, Buffer.from(body));
    expect(answer.error).toBeUndefined();
    expect(answer.status).toBe(413);
    expect(answer.head).toMatch(/\r\ncontent-type: application\/json/i);
    expect(JSON.parse(answer.body).error).toBe(`The request body is larger than ${API_MAX_LENGTH} bytes (settings.apiMaxLength): nothing was recorded`);
    expect(rowCounts(context.db)).toEqual(before);

    // The webhook goes on answering.
    const next = await postGeneric(context.nodeRed.base + GENERIC, JSON.stringify(genericMessage('after-413')));
    expect(next.status).toBe(200);
  });

  test('a body eight times over apiMaxLength still gets its 413: the connection is not closed while the body is coming', async () => {
    const before = rowCounts(context.db);
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await postWholeBodyFirst(context.nodeRed.base + GENERIC, Buffer.alloc(8 * API_MAX_LENGTH, 'x'));
      outcomes.push(`${answer.status ?? 'no answer'}${answer.error ? ` ${answer.error}` : ''}`);
    }
    console.log(`8 MB bodies over an apiMaxLength of 1 MB, the whole body sent before the answer is read: ${outcomes.join(', ')}`);
    expect(outcomes).toEqual(['413', '413', '413']);
    expect(rowCounts(context.db)).toEqual(before);
  });
});

describe('bad input: the raw payload is kept once, and bounded', () => {
  test('a 200 KB WhatsApp delivery is stored with its raw payload replaced by a note of its size', async () => {
    const text = 'long message '.repeat(4_000); // 52,000 characters, within WhatsApp's 65,536
    const body = whatsappDelivery('447700900201', 'wamid.rel-raw-200kb', text, { unread_extension: { blob: 'y'.repeat(150_000) } });
    expect(body.length).toBeGreaterThan(200_000);
    expect(body.length).toBeLessThan(API_MAX_LENGTH);
    const answer = await postWhatsApp(context.nodeRed.base + WHATSAPP, body);
    expect({ status: answer.status, body: answer.json }).toEqual({ status: 200, body: { received: 1, recorded: 1, duplicates: 0 } });

    const [row] = eventRows(context.db, 'provider_message_id = ?', ['wamid.rel-raw-200kb']);
    expect(row.text).toBe(text);
    const data = JSON.parse(row.data);
    expect(data.raw).toEqual({ omitted: true, bytes: expect.any(Number), reason: `larger than the raw payload limit of ${RAW_LIMIT} bytes` });
    expect(data.raw.bytes).toBeGreaterThan(200_000);
    expect(data.replyTo).toEqual({ to: '447700900201', phoneNumberId: PNID });
    // Kept once: the row holds the text and a note, not the body again.
    expect(row.text.length + row.data.length).toBeLessThan(text.length + 8 * 1024);
  });

  test('a 200 KB generic delivery is stored once: no raw copy, the row no bigger than the body', async () => {
    const text = 'z'.repeat(195_000);
    const body = JSON.stringify(genericMessage('generic-200kb', { text }));
    expect(body.length).toBeGreaterThan(195_000);
    const answer = await postGeneric(context.nodeRed.base + GENERIC, body);
    expect(answer.status).toBe(200);
    const [row] = eventRows(context.db, 'provider_message_id = ?', ['generic-200kb']);
    expect(row.text).toBe(text);
    expect(JSON.parse(row.data).raw).toBeUndefined();
    expect(row.text.length + row.data.length).toBeLessThan(body.length * 1.1);
  });
});
