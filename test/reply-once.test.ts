/**
 * Replies exactly once under concurrency, timeouts, crashes and rate limits (shared/reply.ts,
 * shared/facade/sending.ts, shared/delivery.ts), on both stores. The sends go through the real WhatsApp
 * channel module and axios to a local stand-in of the Cloud API that counts its calls, answers late,
 * cuts connections and rate-limits with Retry-After as the Graph API does
 * (https://developers.facebook.com/docs/graph-api/overview/rate-limiting: 429 / error code 130429).
 */
import axios from 'axios';
import { ChannelModule, OmnithreadError, sendReply, whatsappChannel } from '../shared';
import type { ReplyOptions } from '../shared';
import { deliveryOf, isTemporary, withBackoff } from '../shared/delivery';
import { providerError } from '../shared/channels/http';
import { startProvider, type ProviderAnswer, type ProviderServer } from './support/provider-server';
import { describeStores } from './support/stores';
import { message, phone, scoped } from './support/messages';

const PNID = 'pn1';
let provider: ProviderServer;
let answer: () => ProviderAnswer | Promise<ProviderAnswer>;
const sent = (id: string): ProviderAnswer => ({ status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: '447911123456', wa_id: '447911123456' }], messages: [{ id }] } });
const rateLimited = (retryAfter: string): ProviderAnswer => ({
  status: 429,
  headers: { 'retry-after': retryAfter },
  body: { error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429, fbtrace_id: 'A1' } },
});

beforeAll(async () => {
  provider = await startProvider(() => answer());
});
afterAll(() => provider.close());
beforeEach(() => {
  provider.seen.length = 0;
  answer = () => sent(`wamid.${provider.seen.length}`);
});

describeStores('replies exactly once', (ctx) => {
  async function setup() {
    let now = Date.parse('2026-11-24T10:00:00Z');
    const ot = ctx().omnithread({ clock: () => now, rules: { defaultCountry: 'GB' } });
    const wa = await ot.ingest(message([phone('+447911123456'), scoped('whatsapp_id', PNID, '447911123456')], { channel: 'whatsapp', channelAccount: PNID, replyTo: { to: '447911123456', phoneNumberId: PNID }, text: 'Where is my parcel?' }));
    const waits: number[] = [];
    const options = (extra: Partial<ReplyOptions> = {}): ReplyOptions => ({
      channels: { whatsapp: { accessToken: 'EAAG-token', apiBaseUrl: provider.base } },
      http: axios.create({ timeout: 2_000 }),
      now: () => now,
      sleep: async (ms) => {
        waits.push(ms);
      },
      ...extra,
    });
    const request = { contactId: wa.contact.id, inReplyTo: wa.event!.id, text: 'It ships today' };
    return { ot, wa, options, request, waits, advance: (ms: number) => (now += ms) };
  }

  const outbound = async (ot: ReturnType<ReturnType<typeof ctx>['omnithread']>, contactId: string) =>
    (await ot.timeline(contactId, { kinds: ['message'] })).events.filter((e) => e.direction === 'outbound');

  test('five runs of the same reply at once: one provider call, and every run reports that one answer', async () => {
    const { ot, wa, options, request } = await setup();
    answer = () => ({ ...sent('wamid.once'), delayMs: 300 });
    const realSleep = { sleep: undefined, pollMs: 20 };
    const results = await Promise.all(Array.from({ length: 5 }, () => sendReply(ot, request, options(realSleep))));
    expect(provider.seen).toHaveLength(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(results.map((r) => r.event.id)).size).toBe(1);
    expect(results.map((r) => r.providerMessageId)).toEqual(Array(5).fill('wamid.once'));
    expect(await outbound(ot, wa.contact.id)).toHaveLength(1);
  });

  test('a run that may not wait as long as the sender takes reports "in flight" and sends nothing', async () => {
    const { ot, options, request } = await setup();
    answer = () => ({ ...sent('wamid.slow'), delayMs: 600 });
    const first = sendReply(ot, request, options({ sleep: undefined }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await sendReply(ot, request, options({ sleep: undefined, inFlightWaitMs: 100, pollMs: 20 })).catch((e: OmnithreadError) => e);
    expect(second).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('being sent by another run'), details: { inFlight: true, sendState: 'pending' } });
    await expect(first).resolves.toMatchObject({ duplicate: false, providerMessageId: 'wamid.slow' });
    await expect(sendReply(ot, request, options())).resolves.toMatchObject({ duplicate: true, providerMessageId: 'wamid.slow' });
    expect(provider.seen).toHaveLength(1);
  });

  test('an answer that comes after the timeout is "unknown": recorded so, never sent again on its own; Resend Unknown sends it', async () => {
    const { ot, wa, options, request } = await setup();
    answer = () => ({ ...sent('wamid.late'), delayMs: 800 });
    const timedOut = await sendReply(ot, request, options({ http: axios.create({ timeout: 200 }) })).catch((e: OmnithreadError) => e);
    expect(timedOut).toMatchObject({ code: 'PROVIDER_ERROR', details: { delivery: 'unknown', code: 'ECONNABORTED' } });
    expect((timedOut as Error).message).toContain('may or may not have been sent');
    const [event] = await outbound(ot, wa.contact.id);
    expect(event.data).toMatchObject({ sendState: 'unknown', send: { delivery: 'unknown' } });
    expect(provider.seen).toHaveLength(1);

    // A re-run (n8n's Retry On Fail, a Node-RED Catch loop) does not send it again.
    answer = () => sent('wamid.second');
    const rerun = await sendReply(ot, request, options()).catch((e: OmnithreadError) => e);
    expect(rerun).toMatchObject({ code: 'PROVIDER_ERROR', details: { delivery: 'unknown', sendState: 'unknown', eventId: event.id } });
    expect((rerun as Error).message).toContain('Resend Unknown');
    expect(provider.seen).toHaveLength(1);
    expect((await ot.getEvent(event.id))!.data.sendState).toBe('unknown');

    // The flow decides to send it anyway.
    await expect(sendReply(ot, { ...request, resendUnknown: true }, options())).resolves.toMatchObject({ duplicate: false, providerMessageId: 'wamid.second', event: { id: event.id } });
    expect(provider.seen).toHaveLength(2);
  });

  test('a cut connection is unknown too; a connection refused is "not sent" and is retried by a re-run', async () => {
    const { ot, options, request } = await setup();
    answer = () => ({ status: 200, body: {}, hangUp: true });
    await expect(sendReply(ot, request, options())).rejects.toMatchObject({ details: { delivery: 'unknown' } });

    const closed = await startProvider(() => sent('x'));
    const refusedBase = closed.base;
    await closed.close();
    const refused = { channels: { whatsapp: { accessToken: 'EAAG-token', apiBaseUrl: refusedBase } }, retryBudgetSeconds: 0 };
    const other = { ...request, replyKey: 'second' };
    const error = await sendReply(ot, { ...other, retryBudgetSeconds: 0 }, options({ channels: refused.channels })).catch((e: OmnithreadError) => e);
    expect(error).toMatchObject({ code: 'PROVIDER_ERROR', details: { delivery: 'not_sent', code: 'ECONNREFUSED' } });
    answer = () => sent('wamid.after-refusal');
    await expect(sendReply(ot, other, options())).resolves.toMatchObject({ duplicate: false, providerMessageId: 'wamid.after-refusal' });
  });

  test('a sender that died mid-send: its lease runs out, the answer is unknown, and it is reconciled with the provider, never blindly resent', async () => {
    const { ot, wa, options, request, advance } = await setup();
    // The first run reserves and calls a provider that does not answer (the process is killed while it waits).
    const held: ((a: ProviderAnswer) => void)[] = [];
    answer = () => new Promise<ProviderAnswer>((resolve) => held.push(resolve));
    const dying = sendReply(ot, request, options({ http: axios.create({ timeout: 0 }) })).catch((e: Error) => e);
    await waitFor(() => held.length === 1);
    advance(3 * 60_000); // past the lease (2 minutes + the 30 s retry budget)

    // Without a way to ask the provider: unknown, not sent again.
    answer = () => sent('wamid.never');
    const rerun = await sendReply(ot, request, options()).catch((e: OmnithreadError) => e);
    expect(rerun).toMatchObject({ code: 'PROVIDER_ERROR', details: { delivery: 'unknown' } });
    const [event] = await outbound(ot, wa.contact.id);
    expect(event.data).toMatchObject({ sendState: 'unknown', send: { reason: expect.stringContaining('never recorded the outcome') } });
    expect(provider.seen).toHaveLength(1);

    // A provider that can say whether it has the message: found -> recorded as sent with its id.
    let has: string | null = 'wamid.found';
    const asking: ChannelModule<unknown> = { ...whatsappChannel, findSent: async () => has };
    const reconciled = await sendReply(ot, request, options({ modules: { whatsapp: asking } }));
    expect(reconciled).toMatchObject({ duplicate: true, providerMessageId: 'wamid.found', event: { id: event.id, data: { sendState: 'sent' } } });
    expect(reconciled.explanation).toContain('the earlier send went through');
    expect(provider.seen).toHaveLength(1);
    // The dead sender's late outcome can not overwrite what was settled since.
    held[0]({ status: 200, body: {}, hangUp: true });
    await expect(dying).resolves.toMatchObject({ code: 'PROVIDER_ERROR', details: { delivery: 'unknown' } });
    expect((await ot.getEvent(event.id))!.data.sendState).toBe('sent');

    // For another answer the provider has none: it was not sent, so it is sent now.
    const other = { ...request, replyKey: 'other' };
    answer = () => new Promise<ProviderAnswer>((resolve) => held.push(resolve));
    const dying2 = sendReply(ot, other, options({ http: axios.create({ timeout: 0 }) })).catch((e: Error) => e);
    await waitFor(() => held.length === 2);
    advance(4 * 60_000);
    has = null;
    answer = () => sent('wamid.resent');
    await expect(sendReply(ot, other, options({ modules: { whatsapp: asking } }))).resolves.toMatchObject({ duplicate: false, providerMessageId: 'wamid.resent' });
    held[1]({ status: 200, body: {}, hangUp: true });
    await dying2;
    expect((await outbound(ot, wa.contact.id)).map((e) => e.data.sendState)).toEqual(['sent', 'sent']);
  });

  test('429 with Retry-After: waits as asked, then sends; the attempts are recorded', async () => {
    const { ot, options, request, waits } = await setup();
    const answers = [rateLimited('2'), rateLimited('2'), sent('wamid.third')];
    answer = () => answers.shift()!;
    const result = await sendReply(ot, request, options());
    expect(result).toMatchObject({ duplicate: false, providerMessageId: 'wamid.third', event: { data: { send: { attempts: 3 } } } });
    expect(provider.seen).toHaveLength(3);
    expect(waits).toHaveLength(2);
    expect(waits.every((w) => w >= 2000)).toBe(true);
  });

  test('5xx is retried with exponential back-off; a 4xx refusal is not; the budget bounds it all', async () => {
    const { ot, options, request, waits } = await setup();
    const unavailable: ProviderAnswer = { status: 503, body: { error: { message: 'Service temporarily unavailable', type: 'OAuthException', code: 2 } } };
    const answers = [unavailable, unavailable, unavailable, sent('wamid.fourth')];
    answer = () => answers.shift()!;
    await expect(sendReply(ot, request, options())).resolves.toMatchObject({ providerMessageId: 'wamid.fourth' });
    expect(waits).toHaveLength(3);
    expect(waits[0]).toBeGreaterThanOrEqual(500);
    expect(waits[0]).toBeLessThanOrEqual(1000);
    expect(waits[1]).toBeGreaterThanOrEqual(1000);
    expect(waits[2]).toBeGreaterThanOrEqual(2000);

    provider.seen.length = 0;
    answer = () => ({ status: 400, body: { error: { message: '(#100) Invalid parameter', type: 'OAuthException', code: 100 } } });
    await expect(sendReply(ot, { ...request, replyKey: 'refused' }, options())).rejects.toMatchObject({ code: 'PROVIDER_ERROR', details: { delivery: 'not_sent', attempts: 1 } });
    expect(provider.seen).toHaveLength(1);

    // A Retry-After longer than the budget: the error at once, saying why.
    provider.seen.length = 0;
    answer = () => rateLimited('120');
    const limited = await sendReply(ot, { ...request, replyKey: 'limited' }, options()).catch((e: OmnithreadError) => e);
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 120, attempts: 1, delivery: 'not_sent' } });
    expect((limited as Error).message).toContain('beyond the retry budget of 30 s');
    expect(provider.seen).toHaveLength(1);
    // The budget 0: one attempt.
    provider.seen.length = 0;
    answer = () => unavailable;
    await expect(sendReply(ot, { ...request, replyKey: 'once', retryBudgetSeconds: 0 }, options())).rejects.toMatchObject({ details: { attempts: 1 } });
    expect(provider.seen).toHaveLength(1);
  });
});

describe('delivery: not sent or unknown', () => {
  const axiosFailure = async (base: string, timeout = 1000) => axios.create({ timeout }).post(`${base}/v`, {}).catch((e: unknown) => providerError('P', e));

  test('from real HTTP failures', async () => {
    const server = await startProvider(() => answer());
    try {
      answer = () => ({ status: 503, body: {} });
      expect(deliveryOf(await axiosFailure(server.base))).toBe('not_sent');
      answer = () => ({ status: 504, body: {} });
      expect(deliveryOf(await axiosFailure(server.base))).toBe('unknown');
      answer = () => ({ status: 200, body: {}, delayMs: 300 });
      expect(deliveryOf(await axiosFailure(server.base, 50))).toBe('unknown');
    } finally {
      await server.close();
    }
    const refused = await axiosFailure(server.base);
    expect(deliveryOf(refused)).toBe('not_sent');
    expect(isTemporary(refused)).toBe(true);
    expect(deliveryOf(await axios.get('http://omnithread-no-such-host.invalid/').catch((e: unknown) => providerError('P', e)))).toBe('not_sent');
  });

  test('withBackoff gives up at once on what is not temporary, and stops within its budget', async () => {
    let calls = 0;
    const refuse = () => {
      calls++;
      throw new OmnithreadError('AUTH_FAILED', 'no');
    };
    await expect(withBackoff(async () => refuse(), { budgetSeconds: 30, sleep: async () => undefined })).rejects.toMatchObject({ code: 'AUTH_FAILED', details: { attempts: 1 } });
    expect(calls).toBe(1);
    let clock = 0;
    const busy = async () => {
      calls++;
      throw new OmnithreadError('PROVIDER_ERROR', 'HTTP 500', { details: { status: 500 } });
    };
    calls = 0;
    const error = await withBackoff(busy, { budgetSeconds: 10, now: () => clock, sleep: async (ms) => void (clock += ms), random: () => 1 }).catch((e: OmnithreadError) => e);
    // 1 + 2 + 4 s of waits fit in 10 s; the next (8 s) does not.
    expect(calls).toBe(4);
    expect(error).toMatchObject({ details: { attempts: 4 }, message: expect.stringContaining('beyond the retry budget of 10 s') });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
