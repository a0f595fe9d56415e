/**
 * The Handoff node in n8n's engine (WorkflowExecute): the roster (Import Roster, Upsert, Set Status, List,
 * Get, Get Loads, Remove) and a conversation handed off with its packet, then accepted, released,
 * accepted again and resolved; an expired offer escalated; errors that name the parameter.
 */
import { TYPES, buildWorkflow, callWebhook, chain, cleanupAfterAll, node, runWorkflow } from '../support/n8n-harness';
import type { INode, INodeExecutionData, INodeParameters } from 'n8n-workflow';
import { OmnithreadHandoff } from '../../nodes/n8n/OmnithreadHandoff/OmnithreadHandoff.node';

cleanupAfterAll();

const triggerWorkflow = buildWorkflow({ nodes: [node('Trigger', TYPES.trigger, { channel: 'generic', channelName: 'generic' })], connections: {} });

async function deliver(body: Record<string, unknown>): Promise<INodeExecutionData[]> {
  const call = await callWebhook(triggerWorkflow, 'Trigger', { body });
  expect(call.items).toHaveLength(1);
  return call.items;
}

/** Runs Input -> Handoff with these parameters; its output items, or its error. */
async function handoff(parameters: INodeParameters, input: INodeExecutionData[] = [{ json: {} }], extra: Partial<INode> = {}) {
  const result = await runWorkflow({ nodes: [node('Input', TYPES.input), node('Handoff', TYPES.handoff, parameters, extra)], connections: chain('Input', 'Handoff') }, 'Input', input);
  const error = result.error('Handoff');
  return { items: error ? [] : result.output('Handoff').map((i) => i.json as Record<string, any>), error, raw: error ? [] : result.output('Handoff') };
}

const agent = (operation: string, parameters: INodeParameters = {}) => ({ resource: 'agent', operation, ...parameters });
const hand = (operation: string, parameters: INodeParameters = {}) => ({ resource: 'handoff', operation, ...parameters });

describe('Handoff node: the roster', () => {
  test('Import Roster, Upsert, Set Status, List, Get, Get Loads, Remove', async () => {
    const roster = { agents: [{ id: 'anna', skills: { billing: 4 }, languages: ['en'] }, { id: 'bot', kind: 'ai', skills: ['billing'] }] };
    const imported = await handoff(agent('importRoster', { roster: JSON.stringify(roster) }));
    expect(imported.items.map((a) => a.id)).toEqual(['anna', 'bot']);

    const upserted = await handoff(agent('upsertAgent', { agentId: 'ben', agentFields: { name: 'Ben Ode', skills: 'billing:4, refunds', languages: 'en, de', channels: 'email, whatsapp', capacity: 60 } }));
    expect(upserted.items[0]).toMatchObject({ id: 'ben', name: 'Ben Ode', kind: 'human', status: 'available', skills: { billing: 4, refunds: 3 }, languages: ['en', 'de'], channels: ['email', 'whatsapp'], capacity: 60 });

    const away = await handoff(agent('setStatus', { agentId: 'ben', status: 'away' }));
    expect(away.items[0]).toMatchObject({ id: 'ben', status: 'away' });

    const ais = await handoff(agent('listAgents', { filters: { kind: 'ai' } }));
    expect(ais.items.map((a) => a.id)).toEqual(['bot']);
    const all = await handoff(agent('listAgents'));
    expect(all.items.map((a) => a.id).sort()).toEqual(['anna', 'ben', 'bot']);
    expect(all.raw.every((i, n) => (i.pairedItem as { item: number }).item === 0 && n >= 0)).toBe(true);

    expect((await handoff(agent('getAgent', { agentId: 'anna' }))).items[0]).toMatchObject({ id: 'anna', skills: { billing: 4 } });
    expect((await handoff(agent('getAgent', { agentId: 'nobody' }))).items[0]).toEqual({ agentId: 'nobody', found: false });

    const loads = await handoff(agent('loads', { agentIds: 'anna, ben' }));
    expect(loads.items.map((l) => [l.agentId, l.share])).toEqual([
      ['anna', 0],
      ['ben', 0],
    ]);

    expect((await handoff(agent('removeAgent', { agentId: 'ben' }))).items[0]).toEqual({ removed: true });
    expect((await handoff(agent('listAgents'))).items.map((a) => a.id).sort()).toEqual(['anna', 'bot']);
  });

  test('an invalid agent names its parameter; Continue On Fail puts out the error item', async () => {
    const failed = await handoff(agent('upsertAgent', { agentId: 'not valid!' }));
    expect(failed.error?.description).toMatch(/"Agent ID"/);
    const soft = await handoff(agent('upsertAgent', { agentId: 'x', agentFields: { skills: 'billing:9' } }), [{ json: {} }], { continueOnFail: true });
    expect(soft.raw[0]).toMatchObject({ json: { code: 'INVALID_INPUT', error: expect.stringMatching(/skills/) }, pairedItem: { item: 0 } });
  });
});

describe('Handoff node: handing off', () => {
  beforeAll(async () => {
    await handoff(agent('importRoster', { roster: JSON.stringify([{ id: 'anna' }, { id: 'carl' }]) }));
  });

  test('Hand Off: a packet with transcript, summary, bot attempts and channel windows; Accept, Release, Accept, Resolve; Get State', async () => {
    await deliver({ messageId: 'wa-h-1', channel: 'whatsapp', from: { phone: '+447700900201', email: 'hana.s@fastmail.fm' }, text: 'My parcel #88 is two weeks late' });
    const mail = await deliver({ messageId: '<hana-2@fastmail.fm>', channel: 'email', from: { email: 'hana.s@fastmail.fm' }, text: 'Still nothing. I want a refund.' });
    const conversationId = (mail[0].json.conversation as { id: string }).id;
    const classification = { intent: 'delivery', language: 'en', sentiment: 'negative', urgency: 'high', confidence: 0.8, wantsHuman: true, source: 'rules', reasons: ['test'] };

    const packet = (
      await handoff(
        hand('handOff', {
          toAgentId: 'anna',
          reason: 'Customer asked for a refund',
          fromAgentId: 'bot',
          botAttempts: 'Sent the tracking link\nOffered a voucher',
          classification: '={{ $json.classification }}',
          offerTimeoutSeconds: 300,
        }),
        [{ json: { conversationId, classification } }],
      )
    ).items[0];
    expect(packet).toMatchObject({
      conversationId,
      contact: { id: mail[0].json.contactId },
      to: 'anna',
      from: 'bot',
      status: 'offered',
      reason: 'Customer asked for a refund',
      botAttempts: ['Sent the tracking link', 'Offered a voucher'],
      intent: 'delivery',
      sentiment: 'negative',
      priority: 'urgent', // high urgency and negative sentiment
    });
    expect(packet.transcript).toContain('My parcel #88 is two weeks late');
    expect(packet.transcript).toContain('Still nothing. I want a refund.');
    expect(packet.summary).toEqual(expect.any(String));
    expect(packet.channelWindows.map((w: { channel: string; open: boolean }) => [w.channel, w.open])).toEqual(expect.arrayContaining([['whatsapp', true], ['email', true]]));
    expect(Date.parse(packet.expiresAt) - Date.parse(packet.offeredAt)).toBe(300_000);
    expect(Date.parse(packet.slaDueAt) - Date.parse(packet.offeredAt)).toBe(15 * 60_000); // urgent: 15 minutes

    // The next nodes read the conversation from the packet ($json.conversationId, the default).
    const flow = await runWorkflow(
      {
        nodes: [
          node('Input', TYPES.input),
          node('Accept', TYPES.handoff, hand('accept', { agentId: 'anna' })),
          node('Release', TYPES.handoff, hand('release', { agentId: 'anna', reason: 'Going off shift' })),
          node('Accept Carl', TYPES.handoff, hand('accept', { agentId: 'carl' })),
          node('Resolve', TYPES.handoff, hand('resolve', { agentId: 'carl' })),
          node('State', TYPES.handoff, hand('state')),
        ],
        connections: chain('Input', 'Accept', 'Release', 'Accept Carl', 'Resolve', 'State'),
      },
      'Input',
      [{ json: packet }],
    );
    expect(flow.run.status).toBe('success');
    expect(flow.output('Accept')[0].json).toMatchObject({ status: 'accepted', agentId: 'anna', handoffId: packet.handoffId });
    expect(flow.output('Release')[0].json).toMatchObject({ status: 'queued', agentId: null });
    expect(flow.output('Accept Carl')[0].json).toMatchObject({ status: 'accepted', agentId: 'carl' });
    expect(flow.output('Resolve')[0].json).toMatchObject({ status: 'resolved' });
    expect(flow.output('State')[0].json).toMatchObject({ status: 'resolved', conversationId, handoffId: packet.handoffId });
  });

  test('to a queue; an expired offer is escalated to another available human', async () => {
    const msg = await deliver({ messageId: 'wc-q-1', channel: 'webchat', from: { email: 'quinn.r@fastmail.fm' }, text: 'Can someone call me back?' });
    const conversationId = (msg[0].json.conversation as { id: string }).id;
    const queued = (await handoff(hand('handOff', { conversationId, queue: 'callbacks', reason: 'Callback wanted' }))).items[0];
    expect(queued).toMatchObject({ status: 'queued', queue: 'callbacks', to: null, priority: 'normal' });
    expect((await handoff(hand('state', { conversationId }))).items[0]).toMatchObject({ status: 'queued', queue: 'callbacks' });

    const other = await deliver({ messageId: 'wc-q-2', channel: 'webchat', from: { email: 'rhea.t@fastmail.fm' }, text: 'Hello?' });
    const otherId = (other[0].json.conversation as { id: string }).id;
    await handoff(hand('handOff', { conversationId: otherId, toAgentId: 'anna', reason: 'Needs a person', offerTimeoutSeconds: 1 }));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const escalated = (await handoff(hand('escalate', { conversationId: otherId }))).items[0];
    expect(escalated).toMatchObject({ escalated: true });
    expect(escalated.state).toMatchObject({ status: 'offered', offeredTo: expect.not.stringMatching(/^anna$/) });

    expect((await handoff(hand('state', { conversationId: 'no-such-conversation' }))).error).toBeDefined();
  });

  test('errors name the parameter: an empty Reason, a missing Conversation ID', async () => {
    const msg = await deliver({ messageId: 'wc-e-1', channel: 'webchat', from: { email: 'sam.u@fastmail.fm' }, text: 'Hi' });
    const conversationId = (msg[0].json.conversation as { id: string }).id;
    const noReason = await handoff(hand('handOff', { conversationId, reason: '={{ $json.reason ?? "" }}' }));
    expect(noReason.error?.description).toMatch(/"Reason"/);
    const noConversation = await handoff(hand('accept', { agentId: 'anna' }));
    expect(noConversation.error?.description).toMatch(/Conversation ID/);
  });

  test('operations are sorted and each has an action; the node is usable as a tool', () => {
    const { description } = new OmnithreadHandoff();
    expect(description.usableAsTool).toBe(true);
    const ops = description.properties.filter((p) => p.name === 'operation');
    expect(ops.map((p) => (p.options as { value: string }[]).map((o) => o.value).sort())).toEqual([
      ['accept', 'escalate', 'handOff', 'release', 'resolve', 'state'],
      ['getAgent', 'importRoster', 'listAgents', 'loads', 'removeAgent', 'setStatus', 'upsertAgent'],
    ]);
  });
});
