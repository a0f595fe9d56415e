/**
 * Timeline Lookup inside n8n's engine (input -> Timeline Lookup, run by WorkflowExecute): events with
 * filters and paging, the whole timeline, the transcript, appending events, and its errors.
 */
import { TYPES, chain, cleanupAfterAll, node, runWorkflow, type RunResult } from '../support/n8n-harness';
import type { INodeExecutionData, INodeParameters } from 'n8n-workflow';
import { omnithreadFor, resolveSettings, type Omnithread } from '../../shared';
import { email, message, phone } from '../support/messages';

cleanupAfterAll();

const items = (...json: object[]): INodeExecutionData[] => json.map((j) => ({ json: j as never }));

function runTimeline(parameters: INodeParameters, input: INodeExecutionData[], extra: { continueOnFail?: boolean } = {}): Promise<RunResult> {
  return runWorkflow(
    { nodes: [node('Input', TYPES.input), node('Timeline Lookup', TYPES.timeline, parameters, extra)], connections: chain('Input', 'Timeline Lookup') },
    'Input',
    input,
  );
}

async function timeline(parameters: INodeParameters, ...input: object[]): Promise<Record<string, any>[]> {
  return (await runTimeline(parameters, items(...input))).output('Timeline Lookup').map((i) => i.json as Record<string, any>);
}

const DAY = 24 * 3600 * 1000;
const START = Date.parse('2026-11-20T09:00:00Z');
let ot: Omnithread;
let contactId: string;

beforeAll(async () => {
  // The same embedded store the nodes use without a credential.
  ot = await omnithreadFor(resolveSettings(undefined, 'n8n'));
  const handles = [email('tess@fastmail.fm'), phone('+447911123100')];
  const chat = await ot.ingest(message(handles.slice(0, 1), { channel: 'webchat', text: 'chat: parcel missing', sentAt: START }));
  await ot.ingest(message(handles.slice(0, 1), { channel: 'email', text: 'email: still missing', sentAt: START + DAY }));
  await ot.ingest(message(handles, { channel: 'voice', text: 'call: refund please', sentAt: START + DAY + 3600_000 }));
  contactId = chat.contact.id;
});

describe('Timeline Lookup in WorkflowExecute', () => {
  test('Get Timeline (the default) takes the contact from the input item and returns one item with everything', async () => {
    const [fromTrigger] = await timeline({}, { contactId });
    const [fromIdentity] = await timeline({}, { contact: { id: contactId } });
    expect(fromIdentity).toEqual(fromTrigger);
    expect(fromTrigger.contact).toMatchObject({ id: contactId });
    expect(fromTrigger.conversations).toHaveLength(1);
    expect(fromTrigger.conversations[0].channels).toEqual(['webchat', 'email', 'voice']);
    const messages = fromTrigger.events.filter((e: { kind: string }) => e.kind === 'message');
    expect(messages.map((e: { text: string }) => e.text)).toEqual(['chat: parcel missing', 'email: still missing', 'call: refund please']);
    expect(fromTrigger.events.filter((e: { kind: string }) => e.kind === 'channel_switch')).toHaveLength(2);
    expect(fromTrigger.nextCursor).toBeNull();
  });

  test('Get Events puts out one item per event, paired with the input item, with filters', async () => {
    const result = await runTimeline({ operation: 'getEvents', filters: { kinds: 'message' } }, items({ contactId }));
    const out = result.output('Timeline Lookup');
    expect(out.map((i) => i.json.channel)).toEqual(['webchat', 'email', 'voice']);
    expect(out.every((i) => (i.pairedItem as { item: number }).item === 0)).toBe(true);

    const onChannels = await timeline({ operation: 'getEvents', filters: { channels: ['email', 'voice'], kinds: 'message' } }, { contactId });
    expect(onChannels.map((e) => e.channel)).toEqual(['email', 'voice']);

    const newest = await timeline({ operation: 'getEvents', order: 'newest-first', filters: { kinds: 'message, channel_switch' } }, { contactId });
    expect(newest[0].text).toBe('call: refund please');
    expect(newest).toHaveLength(5);

    // The date picker gives a local date-time without an offset; an ISO date with one works too.
    const since = await timeline({ operation: 'getEvents', filters: { kinds: 'message', since: new Date(START + DAY).toISOString() } }, { contactId });
    expect(since.map((e) => e.channel)).toEqual(['email', 'voice']);
    const local = new Date(START + DAY + 60_000);
    const pad = (n: number) => String(n).padStart(2, '0');
    const picker = `${local.getFullYear()}-${pad(local.getMonth() + 1)}-${pad(local.getDate())}T${pad(local.getHours())}:${pad(local.getMinutes())}:00`;
    const until = await timeline({ operation: 'getEvents', filters: { kinds: 'message', until: picker } }, { contactId });
    expect(until.map((e) => e.channel)).toEqual(['webchat', 'email']);
  });

  test('paging: Limit, then the returned nextCursor as Cursor', async () => {
    const [page1] = await timeline({ operation: 'getTimeline', limit: 2, filters: { kinds: 'message' } }, { contactId });
    expect(page1.events.map((e: { channel: string }) => e.channel)).toEqual(['webchat', 'email']);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const [page2] = await timeline({ operation: 'getTimeline', limit: 2, filters: { kinds: 'message', cursor: '={{ $json.nextCursor }}' } }, { contactId, nextCursor: page1.nextCursor });
    expect(page2.events.map((e: { channel: string }) => e.channel)).toEqual(['voice']);
    expect(page2.nextCursor).toBeNull();
  });

  test('Get Transcript: the history as text within the token budget', async () => {
    const [transcript] = await timeline({ operation: 'getTranscript', maxTokens: 500 }, { contactId });
    expect(transcript).toMatchObject({ text: expect.stringContaining('refund please') });
    expect(transcript.text).toContain('parcel missing');
  });

  test('Append Event: a note with data on the open conversation; the idempotency key makes a retry safe', async () => {
    const params = { operation: 'appendEvent', kind: 'note', text: 'Refund approved', data: '{"amount": 49.5, "currency": "EUR"}', channel: 'voice', idempotencyKey: '={{ "refund-" + $json.contactId }}' };
    const [event] = await timeline(params, { contactId });
    expect(event).toMatchObject({ kind: 'note', text: 'Refund approved', channel: 'voice', data: { amount: 49.5, currency: 'EUR' }, contactId });
    expect(event.conversationId).toEqual(expect.any(String));
    const [again] = await timeline(params, { contactId });
    expect(again.id).toBe(event.id);
    const notes = await timeline({ operation: 'getEvents', filters: { kinds: 'note' } }, { contactId });
    expect(notes).toHaveLength(1);

    const [custom] = await timeline({ operation: 'appendEvent', kind: 'order_placed', data: '={{ { orderId: $json.orderId } }}' }, { contactId, orderId: 'o-77' });
    expect(custom).toMatchObject({ kind: 'order_placed', data: { orderId: 'o-77' } });
  });

  test('Get Metrics: the continuity report for a period, without a contact', async () => {
    // A human answers the call five minutes after it: the first response is measured from her first message.
    await ot.recordOutbound(contactId, { channel: 'voice', text: 'Refund on its way', author: { id: 'sam', type: 'human' }, sentAt: START + DAY + 65 * 60_000 });
    const params = { operation: 'getMetrics', metricsFrom: '2026-11-20T00:00:00Z', metricsTo: '2026-11-22T00:00:00Z', bucket: 'day' };
    const [report] = await timeline(params, { something: 'else' });
    expect(report.query).toEqual({ from: '2026-11-20T00:00:00.000Z', to: '2026-11-22T00:00:00.000Z', bucket: 'day' });
    expect(report.totals).toMatchObject({
      conversations: 1,
      firstResponseSeconds: { count: 1, median: 86_400 + 65 * 60 },
      channelSwitches: { total: 2, continued: 2, perConversation: 2 },
      // "still missing" and "refund please" do not re-state "parcel missing".
      repeatRate: { repeats: 0, opportunities: 2, rate: 0 },
      handledBy: { human: 1, ai: 0 },
    });
    expect(report.series.map((s: { start: string }) => s.start)).toEqual(['2026-11-20T00:00:00.000Z', '2026-11-21T00:00:00.000Z']);
    expect(report.byAgent.sam.conversations).toBe(1);
    expect(report.definitions.repeatRate).toContain('re-stated');
    const [voice] = await timeline({ ...params, metricsChannel: 'voice' }, {});
    expect(voice.totals.conversations).toBe(0); // the conversation started on webchat
    const [sam] = await timeline({ ...params, agentId: '={{ $json.agent }}' }, { agent: 'sam' });
    expect(sam.totals.firstResponseSeconds.count).toBe(1);

    const tooMany = await runTimeline({ ...params, metricsFrom: '2026-01-01T00:00:00Z', bucket: 'hour' }, items({}));
    expect(tooMany.error('Timeline Lookup')!.message).toContain('more than 1000');
    expect(tooMany.error('Timeline Lookup')!.description).toContain('"Bucket"');
  });

  test('Continue On Fail: errors become items paired with their input item', async () => {
    const result = await runTimeline(
      { operation: 'getTimeline', filters: { cursor: '={{ $json.cursor }}' } },
      items({ contactId: 'ct_unknown' }, { contactId, cursor: 'not-a-cursor' }, { contactId }),
      { continueOnFail: true },
    );
    const out = result.output('Timeline Lookup');
    expect(out).toHaveLength(3);
    expect(out[0]).toEqual({ json: { error: expect.stringContaining('ct_unknown'), code: 'NOT_FOUND' }, pairedItem: { item: 0 } });
    expect(out[1]).toEqual({ json: { error: expect.stringContaining('cursor'), code: 'INVALID_INPUT', field: 'cursor' }, pairedItem: { item: 1 } });
    expect(out[2].json.contact).toMatchObject({ id: contactId });
  });

  test('without Continue On Fail: a NodeOperationError whose description names the parameter', async () => {
    const result = await runTimeline({ operation: 'appendEvent', kind: 'message', text: 'fake message' }, items({ contactId }));
    const error = result.error('Timeline Lookup');
    expect(error).toMatchObject({ name: 'NodeOperationError', context: expect.objectContaining({ itemIndex: 0 }) });
    expect(error!.message).toContain('kind');
    expect(error!.description).toContain('"Kind"');

    const badJson = await runTimeline({ operation: 'appendEvent', kind: 'note', data: '{oops' }, items({ contactId }));
    expect(badJson.error('Timeline Lookup')!.message).toContain('"Data (JSON)" parameter is not valid JSON');

    const noContact = await runTimeline({}, items({ something: 'else' }));
    expect(noContact.error('Timeline Lookup')!.message).toContain('contactId');
  });
});
