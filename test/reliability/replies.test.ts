/**
 * Replies under concurrency and provider faults, against real Node-RED 5 processes over real HTTP, with a
 * WhatsApp Cloud API stand-in (test/support/provider-server.ts) as the provider. The flow:
 *
 *   http in POST /reply-now  -> change (msg.inReplyTo = msg.payload.inReplyTo) -> omnithread-reply -> http response
 *   http in POST /reply-budget-1 -> the same, with a reply node whose Retry Budget is 1 s
 *   catch -> change (msg.payload = msg.error, msg.statusCode = 500) -> http response
 *
 * The defects these reproduce (fixed in ca02e78):
 * - Two runs answering the same message at once both called the provider: the person got the answer
 *   twice (within one process, and across two Node-RED processes sharing the SQLite file). Now one run
 *   holds a lease on the reserved answer and calls the provider; the others wait for its outcome and
 *   report a duplicate (or, past their wait, a CONFLICT "in flight").
 * - A 429 was final: no retry. Now rate limits are retried with back-off honouring Retry-After, within the
 *   node's Retry Budget; a Retry-After beyond it fails at once with RATE_LIMITED, recorded as failed.
 */
import { join } from 'node:path';
import { type ProviderAnswer, type ProviderRequest, type ProviderServer, startProvider } from '../support/provider-server';
import { type Credentials, type FlowNode, type NodeRed, startNodeRed } from './node-red-process';
import { PNID, STORE, TAB, WA_TOKEN, type Answer, errorAnswer, eventRows, post, postWhatsApp, storeNode, tab, whatsappCredentials, whatsappDelivery, whatsappIn, workDir } from './kit';

jest.setTimeout(120_000);

const WEBHOOK = '/rel/whatsapp';
const ACCOUNT = 'rel-wa-account';

// ---------------------------------------------------------------------------------------------
// The provider stand-in: answers per recipient, so each test has a scenario of its own.
// ---------------------------------------------------------------------------------------------

const sent = (request: ProviderRequest, delayMs = 0): ProviderAnswer => ({
  status: 200,
  delayMs,
  body: { messaging_product: 'whatsapp', contacts: [{ input: request.body.to, wa_id: request.body.to }], messages: [{ id: `wamid.out-${request.body.to}-${provider.seen.length}` }] },
});
const rateLimited = (retryAfter: string): ProviderAnswer => ({
  status: 429,
  headers: { 'retry-after': retryAfter },
  body: { error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429, fbtrace_id: 'Rel1' } },
});
const scenarios = new Map<string, (request: ProviderRequest, call: number) => ProviderAnswer>();
const callsTo = (to: string) => provider.seen.filter((r) => r.body?.to === to);

let provider: ProviderServer;

// ---------------------------------------------------------------------------------------------
// The flow
// ---------------------------------------------------------------------------------------------

const httpIn = (id: string, url: string, next: string): FlowNode => ({ id, type: 'http in', z: TAB, name: '', url, method: 'post', upload: false, swaggerDoc: '', x: 120, y: 200, wires: [[next]] });
const setInReplyTo = (id: string, next: string): FlowNode => ({
  id,
  type: 'change',
  z: TAB,
  name: 'msg.inReplyTo',
  rules: [{ t: 'set', p: 'inReplyTo', pt: 'msg', to: 'payload.inReplyTo', tot: 'msg' }],
  x: 300,
  y: 200,
  wires: [[next]],
});
/** omnithread-reply answering on the channel of the message, with the WhatsApp account; other settings at their defaults. */
const replyNode = (id: string, extra: Record<string, unknown> = {}): FlowNode => ({
  id,
  type: 'omnithread-reply',
  z: TAB,
  name: '',
  store: STORE,
  whatsappAccount: ACCOUNT,
  channel: 'same',
  text: 'We are on it',
  replyKey: 'reply',
  retryBudgetSeconds: '',
  x: 480,
  y: 200,
  wires: [['rel-http-ok']],
  ...extra,
});

function replyFlow(db: string, apiBaseUrl: string): FlowNode[] {
  return [
    tab(),
    storeNode(db),
    { id: ACCOUNT, type: 'omnithread-channel', name: 'whatsapp stand-in', channel: 'whatsapp', apiVersion: 'v21.0', apiBaseUrl },
    whatsappIn('rel-in-whatsapp', WEBHOOK),
    httpIn('rel-http-reply-now', '/reply-now', 'rel-set-now'),
    setInReplyTo('rel-set-now', 'rel-reply-default'),
    replyNode('rel-reply-default'),
    httpIn('rel-http-reply-budget', '/reply-budget-1', 'rel-set-budget'),
    setInReplyTo('rel-set-budget', 'rel-reply-budget'),
    replyNode('rel-reply-budget', { retryBudgetSeconds: '1' }),
    { id: 'rel-http-ok', type: 'http response', z: TAB, name: '', statusCode: '', headers: {}, x: 680, y: 200, wires: [] },
    ...errorAnswer({ ids: ['rel-catch', 'rel-error-payload', 'rel-http-error'], x: [120, 300, 480], y: 300 }),
  ];
}
const credentials: Credentials = { ...whatsappCredentials('rel-in-whatsapp'), [ACCOUNT]: { accessToken: WA_TOKEN } };

// ---------------------------------------------------------------------------------------------
// Two Node-RED processes on one SQLite file
// ---------------------------------------------------------------------------------------------

let work: ReturnType<typeof workDir>;
let db: string;
let first: NodeRed;
let second: NodeRed;

beforeAll(async () => {
  provider = await startProvider((request) => {
    const scenario = scenarios.get(request.body?.to);
    if (!request.url.endsWith(`/v21.0/${PNID}/messages`) || request.headers.authorization !== `Bearer ${WA_TOKEN}` || !scenario) {
      return { status: 400, body: { error: { message: `unexpected request ${request.method} ${request.url}`, code: 100 } } };
    }
    return scenario(request, callsTo(request.body.to).length);
  });
  work = workDir();
  db = join(work.dir, 'omnithread.db');
  const flows = replyFlow(db, provider.base);
  [first, second] = await Promise.all([
    startNodeRed({ flows, credentials, userDir: join(work.dir, 'node-red-1') }),
    startNodeRed({ flows, credentials, userDir: join(work.dir, 'node-red-2') }),
  ]);
});
afterAll(async () => {
  await Promise.all([first?.stop(), second?.stop()]);
  await provider?.close();
  work?.cleanup();
});

/** One inbound WhatsApp message from waId, through the webhook of the first process: its event and contact. */
async function inbound(waId: string): Promise<{ eventId: string; contactId: string }> {
  const wamid = `wamid.rel-in-${waId}`;
  const answer = await postWhatsApp(first.base + WEBHOOK, whatsappDelivery(waId, wamid, 'Where is my parcel?'));
  expect({ status: answer.status, body: answer.json }).toEqual({ status: 200, body: { received: 1, recorded: 1, duplicates: 0 } });
  const [row] = eventRows(db, 'provider_message_id = ?', [wamid]);
  return { eventId: row.id, contactId: row.contact_id };
}

const replyNow = (nodeRed: NodeRed, path: string, target: { eventId: string; contactId: string }): Promise<Answer> =>
  post(nodeRed.base + path, JSON.stringify({ contactId: target.contactId, inReplyTo: target.eventId }), { 'content-type': 'application/json' });

const outboundOf = (contactId: string) => eventRows(db, `contact_id = ? AND direction = 'outbound'`, [contactId]).map((row) => ({ ...row, data: JSON.parse(row.data) }));

describe('concurrent replies: exactly one provider call', () => {
  async function fireConcurrently(waId: string, targets: NodeRed[], count: number) {
    scenarios.set(waId, (request) => sent(request, 300));
    const message = await inbound(waId);
    const answers = await Promise.all(Array.from({ length: count }, (_, i) => replyNow(targets[i % targets.length], '/reply-now', message)));
    const ok = answers.filter((a) => a.status === 200).map((a) => a.json);
    const conflicts = answers.filter((a) => a.status === 500 && a.json?.code === 'CONFLICT' && /in flight|being sent by another run/.test(a.json.message));
    return { message, answers, ok, conflicts };
  }

  function expectExactlyOnce(waId: string, contactId: string, run: Awaited<ReturnType<typeof fireConcurrently>>, count: number) {
    const { answers, ok, conflicts } = run;
    expect(callsTo(waId).length).toBe(1);
    expect(ok.length + conflicts.length).toBe(count);
    const originals = ok.filter((r) => r.duplicate === false);
    expect(originals).toHaveLength(1);
    const providerMessageId = originals[0].providerMessageId;
    expect(providerMessageId).toMatch(/^wamid\.out-/);
    for (const duplicate of ok.filter((r) => r.duplicate === true)) expect(duplicate.providerMessageId).toBe(providerMessageId);
    const outbound = outboundOf(contactId);
    expect(outbound).toHaveLength(1);
    expect(outbound[0]).toMatchObject({ provider_message_id: providerMessageId, data: { sendState: 'sent' } });
    console.log(`concurrent replies (${waId}): ${count} requests -> statuses ${answers.map((a) => a.status).join(',')}; duplicate false: 1, duplicate true: ${ok.length - 1}, CONFLICT in flight: ${conflicts.length}; provider calls: ${callsTo(waId).length}`);
  }

  test('5 concurrent POSTs to one Node-RED: one provider call, one answer sent, four duplicates of it, one outbound event', async () => {
    const waId = '447700900301';
    const run = await fireConcurrently(waId, [first], 5);
    expectExactlyOnce(waId, run.message.contactId, run, 5);
  });

  test('6 concurrent POSTs split between two Node-RED processes on the same SQLite file: still one provider call', async () => {
    const waId = '447700900302';
    const run = await fireConcurrently(waId, [first, second], 6);
    expectExactlyOnce(waId, run.message.contactId, run, 6);
  });
});

describe('back-off: rate limits retried within the Retry Budget', () => {
  test('429 with Retry-After: 1 twice, then 200: answered as sent after at least 2 s, 3 provider calls, attempts 3', async () => {
    const waId = '447700900401';
    scenarios.set(waId, (request, call) => (call <= 2 ? rateLimited('1') : sent(request)));
    const message = await inbound(waId);
    const answer = await replyNow(first, '/reply-now', message);
    console.log(`back-off: answered ${answer.status} after ${Math.round(answer.ms)} ms, provider calls ${callsTo(waId).length}`);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ duplicate: false, channel: 'whatsapp', via: 'message', event: { data: { sendState: 'sent', send: { attempts: 3 } } } });
    expect(answer.ms).toBeGreaterThanOrEqual(2_000);
    expect(callsTo(waId).length).toBe(3);
    const outbound = outboundOf(message.contactId);
    expect(outbound).toHaveLength(1);
    expect(outbound[0].data).toMatchObject({ sendState: 'sent', send: { attempts: 3 } });
  });

  test('Retry Budget 1 s and Retry-After: 5: RATE_LIMITED at once through the Catch node, one provider call, recorded as failed', async () => {
    const waId = '447700900402';
    scenarios.set(waId, () => rateLimited('5'));
    const message = await inbound(waId);
    const answer = await replyNow(first, '/reply-budget-1', message);
    console.log(`back-off beyond the budget: answered ${answer.status} ${answer.json?.code} after ${Math.round(answer.ms)} ms`);
    expect(answer.status).toBe(500);
    expect(answer.json).toMatchObject({ code: 'RATE_LIMITED', source: { id: 'rel-reply-budget', type: 'omnithread-reply' } });
    expect(answer.json.message).toContain('beyond the retry budget of 1 s');
    expect(answer.ms).toBeLessThan(2_500); // not the 5 s the provider asked for
    expect(callsTo(waId).length).toBe(1);
    const outbound = outboundOf(message.contactId);
    expect(outbound).toHaveLength(1);
    expect(outbound[0].data).toMatchObject({ sendState: 'failed' });
  });
});
