/**
 * Continuity metrics (shared/timeline/metrics.ts, facade/metrics.ts): a week of support built through the
 * real facade on an injected clock, on SQLite and PostgreSQL, and every figure checked against numbers
 * worked out by hand below. Plus the pure parts: re-stated issues, distributions, buckets, reopenings.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OmnithreadError, bucketStarts, computeMetrics, contentWords, distribution, isRestatement, METRIC_DEFINITIONS } from '../shared';
import type { MetricsReport, Omnithread, TimelineEvent } from '../shared';
import { acceptHandoff, handOff, resolveHandoff } from '../shared/routing/handoff';
import { describeStores } from './support/stores';
import { email, message, phone, scoped } from './support/messages';

const T = (iso: string) => Date.parse(iso);

describe('metrics: pure parts', () => {
  test('a re-stated issue: content words shared, greetings and follow-up words ignored', () => {
    const earlier = contentWords('Hi, my order 4411 never arrived');
    expect([...earlier].sort()).toEqual(['4411', 'arriv', 'order']);
    expect(isRestatement(contentWords('Hi, order 4411 has not arrived yet'), earlier)).toBe(true);
    expect(isRestatement(contentWords('Hello again!! My ORDER #4411 still hasn’t arrived :('), earlier)).toBe(true);
    expect(isRestatement(contentWords('any update?'), earlier)).toBe(false);
    expect(isRestatement(contentWords('Any update on order 4411?'), earlier)).toBe(false); // two content words: too short to re-state
    // Continuing the story: new facts, one shared reference.
    expect(isRestatement(contentWords('I checked with my neighbour, the parcel for order 4411 is not there either'), earlier)).toBe(false);
    // A longer re-statement with some new detail still is one (3 of 5 content words shared).
    expect(isRestatement(contentWords('Order 4411 from last week never arrived'), contentWords('My order 4411 has not arrived'))).toBe(true);
    expect(isRestatement(contentWords('Mein Paket 4411 ist nicht angekommen'), contentWords('Paket 4411 nicht angekommen, bitte helfen'))).toBe(true);
    expect([...contentWords('Addresses, address; arriving, arrives')].sort()).toEqual(['address', 'arriv']);
  });

  test('distributions: linear-interpolated median and p90, mean, histogram with fixed bounds', () => {
    expect(distribution([])).toEqual({ count: 0, median: null, p90: null, mean: null, histogram: expect.any(Array) });
    const d = distribution([9000, 300, 2280, 1500]);
    expect(d).toMatchObject({ count: 4, median: 1890, p90: 6984, mean: 3270 });
    expect(d.histogram).toEqual([
      { le: 60, count: 0 },
      { le: 300, count: 1 },
      { le: 900, count: 0 },
      { le: 3600, count: 2 },
      { le: 14400, count: 1 },
      { le: 86400, count: 0 },
      { le: 259200, count: 0 },
      { le: null, count: 0 },
    ]);
    expect(distribution([60, 120]).median).toBe(90);
    expect(distribution([5 * 86400]).histogram.at(-1)).toEqual({ le: null, count: 1 });
  });

  test('buckets: UTC hours, days and weeks from Monday; too many is INVALID_INPUT', () => {
    const wed = T('2026-11-04T10:30:00Z');
    expect(bucketStarts(wed, wed + 2 * 3600_000, 'hour').map((s) => new Date(s).toISOString())).toEqual([
      '2026-11-04T10:00:00.000Z',
      '2026-11-04T11:00:00.000Z',
      '2026-11-04T12:00:00.000Z',
    ]);
    expect(bucketStarts(wed, T('2026-11-10T00:00:00Z'), 'week').map((s) => new Date(s).toISOString())).toEqual(['2026-11-02T00:00:00.000Z', '2026-11-09T00:00:00.000Z']);
    expect(bucketStarts(T('2026-11-02T00:00:00Z'), T('2026-11-05T00:00:00Z'), 'day')).toHaveLength(3);
    expect(() => bucketStarts(0, 1001 * 3600_000, 'hour')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', field: 'bucket' }));
    expect(bucketStarts(0, 1000 * 3600_000, 'hour')).toHaveLength(1000);
  });

  test('a conversation resolved, reopened by a reply and resolved again counts once, at the last resolution', () => {
    let seq = 0;
    const ev = (kind: string, at: string, extra: Partial<TimelineEvent> = {}): TimelineEvent => ({
      id: `ev${++seq}`,
      seq,
      workspace: 'w',
      contactId: 'ct',
      conversationId: 'cv',
      kind,
      channel: 'email',
      channelAccount: null,
      direction: null,
      text: '',
      occurredAt: at,
      recordedAt: at,
      providerMessageId: null,
      threadKey: null,
      data: {},
      ...extra,
    });
    const events = [
      ev('message', '2026-11-02T09:00:00.000Z', { direction: 'inbound', text: 'Invoice 77 is wrong' }),
      ev('message', '2026-11-02T09:10:00.000Z', { direction: 'outbound', data: { author: { id: 'sam', type: 'human' } } }),
      ev('conversation_reopened', '2026-11-02T12:00:00.000Z', { data: { from: 'resolved', closedAt: '2026-11-02T10:00:00.000Z' } }),
      ev('message', '2026-11-02T12:00:00.000Z', { direction: 'inbound', text: 'Still wrong' }),
      ev('message', '2026-11-02T12:30:00.000Z', { direction: 'outbound', data: { author: { id: 'sam', type: 'human' } } }),
      ev('message', '2026-11-02T12:40:00.000Z', { direction: 'outbound', data: { author: { id: 'sam', type: 'human' }, sendState: 'failed' } }),
    ];
    const conversation = {
      id: 'cv',
      workspace: 'w',
      contactId: 'ct',
      status: 'resolved' as const,
      channels: ['email'],
      lastChannel: 'email',
      messageCount: 4,
      openedAt: '2026-11-02T09:00:00.000Z',
      lastActivityAt: '2026-11-02T12:40:00.000Z',
      closedAt: '2026-11-02T13:00:00.000Z',
      assignedAgentId: null,
    };
    const report = (to: string) =>
      computeMetrics({ from: '2026-11-02T00:00:00Z', to, bucket: 'day' }, [{ conversation, events }], { idleTimeoutMs: 7 * 86400_000, generatedAt: 0 }).totals;
    const full = report('2026-11-03T00:00:00Z');
    expect(full.resolved).toBe(1);
    expect(full.resolutionSeconds.median).toBe(4 * 3600);
    expect(full.messagesPerResolution).toBe(4); // the failed send is not a message
    // Two waits: from the first message, and from the message that reopened it.
    expect(full.firstResponseSeconds).toMatchObject({ count: 2, median: 20 * 60 });
    // Before the second resolution, as a report up to 12:50 saw it: reopened, so not resolved.
    expect(report('2026-11-02T12:50:00Z').resolved).toBe(0);
    expect(report('2026-11-02T11:00:00Z')).toMatchObject({ resolved: 1, resolutionSeconds: { median: 3600 } });
  });

  test('the README states every definition word for word', () => {
    const docs = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    for (const [name, text] of Object.entries(METRIC_DEFINITIONS)) {
      expect({ name, inDocs: docs.includes(text) }).toEqual({ name, inDocs: true });
    }
  });
});

describeStores('metrics', (ctx) => {
  let now = 0;
  let ot: Omnithread;
  const at = (iso: string) => (now = T(iso));
  const query = { from: '2026-11-02T00:00:00Z', to: '2026-11-05T00:00:00Z' };

  /**
   * Five people, worked out by hand:
   *  Ben   sms      opened 11-01 22:00 (before the period); sam answers 11-02 00:30: first response 9000 s.
   *  Maya  webchat  11-02 09:00 "my order 4411 never arrived"; the AI answers; handed off to the queue 09:02,
   *                 sam accepts 09:10; she writes on WhatsApp 09:30 "order 4411 has not arrived yet" (a
   *                 switch, and a repeat); sam answers 09:40 (first response from the handoff: 2280 s); she
   *                 thanks him 09:45; sam resolves the handoff 09:50 (3000 s; 5 messages; handle 0 + 600 + 300
   *                 = 900 s); CSAT 5 at 09:55.
   *  Omar   email   11-02 14:00, answered by the AI only: AI-handled, agent "bot".
   *  Li    webchat  11-03 10:00; lea answers 10:05 (300 s); resolved 11:00 (3600 s; 2 messages; handle 300 s);
   *                 CSAT "3" (rating) at 11:10 on the ended conversation. At 15:00 she emails: a new conversation
   *                 on another channel within the idle timeout: a switch that did not continue.
   *  Ana   whatsapp 11-04 08:00 "parcel 5521 arrived damaged"; AI answers 08:03; handed off to lea 08:05, accepted
   *                 08:06; she emails "any update?" 08:20 (a switch, not a repeat); lea answers 08:30 (1500 s from
   *                 the handoff); resolved 11-05 01:00, after the period.
   */
  beforeAll(async () => {
    ot = ctx().omnithread({ clock: () => now });
    for (const agent of [{ id: 'sam' }, { id: 'lea' }, { id: 'bot', kind: 'ai' as const }]) await ot.roster().upsert(agent);
    const human = (id: string) => ({ id, type: 'human' as const });
    const ai = { id: 'bot', type: 'ai' as const };
    const say = async (handles: Parameters<typeof message>[0], channel: string, text: string, iso: string) => ot.ingest(message(handles, { channel, text, sentAt: at(iso) }));
    const answer = async (contactId: string, channel: string, author: { id: string; type: 'human' | 'ai' }, iso: string) =>
      ot.recordOutbound(contactId, { channel, text: 'answer', author, sentAt: at(iso) });

    const ben = [phone('+447700900100')];
    const b = await say(ben, 'sms', 'My router keeps dropping the connection', '2026-11-01T22:00:00Z');
    await answer(b.contact.id, 'sms', human('sam'), '2026-11-02T00:30:00Z');

    const maya = [scoped('webchat_visitor', 'shop.io', 'v-1'), phone('+447700900001')];
    const m = await say(maya, 'webchat', 'Hi, my order 4411 never arrived', '2026-11-02T09:00:00Z');
    await answer(m.contact.id, 'webchat', ai, '2026-11-02T09:00:05Z');
    await handOff(ot, { conversationId: m.conversation.id, reason: 'order lost', now: at('2026-11-02T09:02:00Z') });
    await acceptHandoff(ot, { conversationId: m.conversation.id, agentId: 'sam', now: at('2026-11-02T09:10:00Z') });
    const switched = await say([phone('+447700900001')], 'whatsapp', 'Hi, order 4411 has not arrived yet', '2026-11-02T09:30:00Z');
    expect(switched.channelSwitch).toEqual({ from: 'webchat', to: 'whatsapp' });
    await answer(m.contact.id, 'whatsapp', human('sam'), '2026-11-02T09:40:00Z');
    await say([phone('+447700900001')], 'whatsapp', 'thanks!', '2026-11-02T09:45:00Z');
    await resolveHandoff(ot, { conversationId: m.conversation.id, agentId: 'sam', now: at('2026-11-02T09:50:00Z') });
    await ot.appendEvent(m.contact.id, { kind: 'csat', conversationId: m.conversation.id, occurredAt: at('2026-11-02T09:55:00Z'), data: { score: 5 } });

    const o = await say([email('omar@mail.io')], 'email', 'Can I change the delivery address for order 7720?', '2026-11-02T14:00:00Z');
    await answer(o.contact.id, 'email', ai, '2026-11-02T14:01:00Z');

    const li = [scoped('webchat_visitor', 'shop.io', 'v-2'), email('li@mail.io')];
    const l = await say(li, 'webchat', 'Hello, I need a refund for order 9001', '2026-11-03T10:00:00Z');
    await answer(l.contact.id, 'webchat', human('lea'), '2026-11-03T10:05:00Z');
    at('2026-11-03T11:00:00Z');
    await ot.resolveConversation(l.conversation.id);
    await ot.appendEvent(l.contact.id, { kind: 'csat', conversationId: l.conversation.id, occurredAt: at('2026-11-03T11:10:00Z'), data: { rating: '3' } });
    const again = await say([email('li@mail.io')], 'email', 'I still have not received the refund for order 9001', '2026-11-03T15:00:00Z');
    expect(again.conversation.id).not.toBe(l.conversation.id);

    const ana = [phone('+447700900002'), email('ana@mail.io')];
    const a = await say(ana, 'whatsapp', 'My parcel 5521 arrived damaged, the box was crushed', '2026-11-04T08:00:00Z');
    await answer(a.contact.id, 'whatsapp', ai, '2026-11-04T08:03:00Z');
    await handOff(ot, { conversationId: a.conversation.id, toAgentId: 'lea', reason: 'damaged goods', now: at('2026-11-04T08:05:00Z') });
    await acceptHandoff(ot, { conversationId: a.conversation.id, agentId: 'lea', now: at('2026-11-04T08:06:00Z') });
    await say([email('ana@mail.io')], 'email', 'any update?', '2026-11-04T08:20:00Z');
    await answer(a.contact.id, 'email', human('lea'), '2026-11-04T08:30:00Z');
    at('2026-11-05T01:00:00Z');
    await ot.resolveConversation(a.conversation.id);
  });

  let report: MetricsReport;
  beforeAll(async () => {
    report = await ot.metrics(query);
  });

  test('totals over the period, as worked out by hand', () => {
    expect(report.query).toEqual({ from: '2026-11-02T00:00:00.000Z', to: '2026-11-05T00:00:00.000Z', bucket: 'day' });
    expect(report.generatedAt).toBe('2026-11-05T01:00:00.000Z');
    const t = report.totals;
    expect(t.conversations).toBe(5); // Maya, Omar, Li twice, Ana (Ben's opened before)
    expect(t.resolved).toBe(2); // Maya, Li (Ana after `to`)
    expect(t.firstResponseSeconds).toMatchObject({ count: 4, median: 1890, p90: 6984, mean: 3270 });
    expect(t.firstResponseSeconds.histogram.map((b) => b.count)).toEqual([0, 1, 0, 2, 1, 0, 0, 0]);
    expect(t.resolutionSeconds).toMatchObject({ count: 2, median: 3300, p90: 3540, mean: 3300 });
    expect(t.handleSeconds).toMatchObject({ count: 2, median: 600, p90: 840, mean: 600 });
    expect(t.messagesPerResolution).toBe(3.5);
    expect(t.repeatRate).toEqual({ rate: 0.5, repeats: 1, opportunities: 2 });
    expect(t.channelSwitches).toEqual({ total: 3, perConversation: 0.6, continued: 2, continuedShare: 0.6667 });
    expect(t.csat).toEqual({ responses: 2, average: 4, satisfiedShare: 0.5 });
    expect(t.handledBy).toEqual({ ai: 1, human: 4, aiShare: 0.2 });
    expect(Object.keys(report.definitions)).toEqual(expect.arrayContaining(['firstResponseSeconds', 'repeatRate', 'channelSwitches', 'handleSeconds']));
  });

  test('series: one bucket per day, each figure at the event that ends its measure', () => {
    expect(report.series.map((s) => s.start)).toEqual(['2026-11-02T00:00:00.000Z', '2026-11-03T00:00:00.000Z', '2026-11-04T00:00:00.000Z']);
    const [mon, tue, wed] = report.series.map((s) => s.figures);
    expect(mon).toMatchObject({ conversations: 2, resolved: 1, firstResponseSeconds: { count: 2, median: 5640 }, csat: { responses: 1, average: 5 } });
    expect(mon.repeatRate).toEqual({ rate: 1, repeats: 1, opportunities: 1 });
    expect(mon.handledBy).toEqual({ ai: 1, human: 2, aiShare: 0.3333 });
    expect(tue).toMatchObject({ conversations: 2, resolved: 1, firstResponseSeconds: { count: 1, median: 300 }, csat: { responses: 1, average: 3, satisfiedShare: 0 } });
    expect(tue.channelSwitches).toEqual({ total: 1, perConversation: 0.5, continued: 0, continuedShare: 0 });
    expect(wed).toMatchObject({ conversations: 1, resolved: 0, firstResponseSeconds: { count: 1, median: 1500 }, repeatRate: { rate: 0, opportunities: 1 } });
    expect(wed.resolutionSeconds).toMatchObject({ count: 0, median: null });
  });

  test('byChannel (the channel a conversation started on) and byAgent (who is responsible)', () => {
    expect(Object.keys(report.byChannel)).toEqual(['email', 'sms', 'webchat', 'whatsapp']);
    expect(report.byChannel.webchat).toMatchObject({ conversations: 2, resolved: 2, firstResponseSeconds: { count: 2, median: 1290 }, csat: { responses: 2 } });
    expect(report.byChannel.email).toMatchObject({ conversations: 2, channelSwitches: { total: 1, continued: 0 }, handledBy: { ai: 1, human: 0 } });
    expect(report.byChannel.sms).toMatchObject({ conversations: 0, firstResponseSeconds: { count: 1, median: 9000 } });
    expect(report.byChannel.whatsapp).toMatchObject({ conversations: 1, repeatRate: { repeats: 0, opportunities: 1 } });
    expect(Object.keys(report.byAgent)).toEqual(['bot', 'lea', 'sam']);
    expect(report.byAgent.sam).toMatchObject({ conversations: 1, resolved: 1, firstResponseSeconds: { count: 2, median: 5640 }, handledBy: { human: 2 } });
    expect(report.byAgent.lea).toMatchObject({ conversations: 2, resolved: 1, firstResponseSeconds: { count: 2, median: 900 }, handledBy: { human: 2 } });
    expect(report.byAgent.bot).toMatchObject({ conversations: 1, handledBy: { ai: 1, human: 0, aiShare: 1 } });
  });

  test('filters: channel and agent keep their conversations only', async () => {
    const webchat = await ot.metrics({ ...query, channel: 'webchat' });
    expect(webchat.totals).toEqual(report.byChannel.webchat);
    expect(webchat.query.channel).toBe('webchat');
    expect(Object.keys(webchat.byChannel)).toEqual(['webchat']);
    const lea = await ot.metrics({ ...query, agentId: 'lea' });
    expect(lea.totals).toEqual(report.byAgent.lea);
    expect(Object.keys(lea.byAgent)).toEqual(['lea']);
    expect((await ot.metrics({ ...query, agentId: 'nobody' })).totals.conversations).toBe(0);
  });

  test('other buckets: hourly places Maya at 09:00, weekly is one bucket from Monday', async () => {
    const hourly = await ot.metrics({ ...query, bucket: 'hour' });
    expect(hourly.series).toHaveLength(72);
    const nine = hourly.series.find((s) => s.start === '2026-11-02T09:00:00.000Z')!.figures;
    expect(nine).toMatchObject({ conversations: 1, resolved: 1, firstResponseSeconds: { count: 1, median: 2280 } });
    expect(hourly.totals).toEqual(report.totals);
    const weekly = await ot.metrics({ from: '2026-11-04T12:00:00Z', to: '2026-11-05T00:00:00Z', bucket: 'week' });
    expect(weekly.series.map((s) => s.start)).toEqual(['2026-11-02T00:00:00.000Z']);
    expect(weekly.totals).toMatchObject({ conversations: 0, firstResponseSeconds: { count: 0 } });
  });

  test('defaults: the 7 days before the facade clock, by day; the cut at `to` is exclusive', async () => {
    const last = await ot.metrics();
    expect(last.query).toEqual({ from: '2026-10-29T01:00:00.000Z', to: '2026-11-05T01:00:00.000Z', bucket: 'day' });
    expect(last.series).toHaveLength(8);
    expect(last.totals.conversations).toBe(6); // Ben too
    expect(last.totals.resolved).toBe(2); // Ana's resolution is at `to` exactly
    const later = await ot.metrics({ ...query, to: '2026-11-05T01:00:01Z' });
    expect(later.totals.resolved).toBe(3);
  });

  test('an empty period: zeros and nulls, every bucket present', async () => {
    const empty = await ot.metrics({ from: '2026-10-01T00:00:00Z', to: '2026-10-03T00:00:00Z' });
    expect(empty.series).toHaveLength(2);
    expect(empty.totals).toMatchObject({
      conversations: 0,
      resolved: 0,
      firstResponseSeconds: { count: 0, median: null, p90: null, mean: null },
      messagesPerResolution: null,
      repeatRate: { rate: null, opportunities: 0 },
      channelSwitches: { total: 0, perConversation: null, continuedShare: null },
      csat: { responses: 0, average: null, satisfiedShare: null },
      handledBy: { ai: 0, human: 0, aiShare: null },
    });
    expect(empty.byChannel).toEqual({});
  });

  test('invalid input: INVALID_INPUT naming the field', async () => {
    const fails = async (input: unknown, field: string) => {
      const error = await ot.metrics(input as never).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(OmnithreadError);
      expect(error).toMatchObject({ code: 'INVALID_INPUT', field });
    };
    await fails({ ...query, bucket: 'month' }, 'bucket');
    await fails({ from: '2026-11-05T00:00:00Z', to: '2026-11-02T00:00:00Z' }, 'to');
    await fails({ from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z', bucket: 'hour' }, 'bucket');
    await fails({ ...query, from: 'last tuesday' }, 'from');
    await fails({ ...query, channel: 'Web Chat' }, 'channel');
    await fails({ ...query, colour: 'blue' }, '(root)');
  });
});
