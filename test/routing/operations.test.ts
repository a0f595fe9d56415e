/**
 * The routing operations both engines' nodes call (shared/routing/operations.ts), end to end over the
 * core on both stores: classify with the built-in rules, then route, with the output each node sends the
 * item to; the roster and handoff operations; and the default next candidate of an expired offer.
 */
import { runHandoffOperation, runRosterOperation, runRoute } from '../../shared';
import { account, message } from '../support/messages';
import { describeStores } from '../support/stores';

describeStores('routing operations', (ctx) => {
  const RULES = { intents: [{ name: 'billing', keywords: ['invoice', 'refund', 'bill'] }] };

  async function setup() {
    let now = Date.parse('2026-11-10T09:00:00Z');
    const ot = ctx().omnithread({ clock: () => now });
    await runRosterOperation(ot, 'importRoster', {
      roster: {
        agents: [
          { id: 'anna', kind: 'human', skills: { billing: 4 }, languages: ['en'] },
          { id: 'bot', kind: 'ai', skills: { billing: 5 }, languages: ['en'], capacity: 1000, channelCosts: { email: 1 }, aiConfidenceThreshold: 0.1 },
        ],
      },
    });
    return { ot, advance: (ms: number) => (now += ms) };
  }
  const inbound = async (ot: Awaited<ReturnType<typeof setup>>['ot'], customer: string, text: string) => {
    const r = await ot.ingest(message([account(customer)], { channel: 'email', text }));
    return { contactId: r.contact.id, eventId: r.event!.id, conversationId: r.conversation.id };
  };

  test('route: the rules classify, the AI agent takes a calm billing question, a request for a person goes to a human', async () => {
    const { ot } = await setup();
    const calm = await inbound(ot, 'c1', 'Where can I download my invoice?');
    const ai = await runRoute(ot, { ...calm, text: 'Where can I download my invoice?', channel: 'email', rules: RULES });
    expect(ai).toMatchObject({ output: 'ai', target: { kind: 'ai', agentId: 'bot' }, classification: { intent: 'billing', source: 'rules' } });

    const upset = await inbound(ot, 'c2', 'This invoice is wrong again, I want to talk to a human');
    const human = await runRoute(ot, { ...upset, text: 'This invoice is wrong again, I want to talk to a human', channel: 'email', rules: RULES });
    expect(human).toMatchObject({ output: 'human', target: { kind: 'human', agentId: 'anna' }, classification: { wantsHuman: true } });
    expect(human.alternatives).toEqual(expect.arrayContaining([expect.objectContaining({ agentId: 'bot' })]));
  });

  test('route settings are validated, naming the field', async () => {
    const { ot } = await setup();
    const m = await inbound(ot, 'c3', 'hello');
    await expect(runRoute(ot, { ...m, text: 'hello', channel: 'email', llm: { baseUrl: 'not a url', model: 'x' } as never })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'llm.baseUrl' });
  });

  test('handoff: offered to a human, not accepted in time, escalated by default to the least loaded available human not yet offered', async () => {
    const { ot, advance } = await setup();
    await runRosterOperation(ot, 'upsertAgent', { agent: { id: 'carl', kind: 'human', skills: ['billing'] } });
    const m = await inbound(ot, 'c4', 'Refund please');
    const packet = (await runHandoffOperation(ot, 'handOff', { conversationId: m.conversationId, toAgentId: 'anna', reason: 'refund over the bot limit' })) as { status: string; to: unknown };
    expect(packet.status).toBe('offered');
    advance(121_000);
    await runHandoffOperation(ot, 'escalate', { conversationId: m.conversationId });
    const state = (await runHandoffOperation(ot, 'state', { conversationId: m.conversationId })) as { status: string; offeredTo?: string };
    expect(state).toMatchObject({ status: 'offered', offeredTo: 'carl' });
    await runHandoffOperation(ot, 'accept', { conversationId: m.conversationId, agentId: 'carl' });
    const loads = (await runRosterOperation(ot, 'loads', { agentIds: ['carl'] })) as { agentId: string; openConversations: number }[];
    expect(loads).toEqual([expect.objectContaining({ agentId: 'carl', openConversations: 1 })]);
  });

  test("the next message of a conversation whose offer expired moves the offer on to the next human", async () => {
    const { ot, advance } = await setup();
    await runRosterOperation(ot, 'upsertAgent', { agent: { id: 'carl', kind: 'human', skills: ['billing'] } });
    const first = await inbound(ot, 'c5', 'Refund please');
    await runHandoffOperation(ot, 'handOff', { conversationId: first.conversationId, toAgentId: 'anna', reason: 'refund' });
    advance(30_000);
    const early = await inbound(ot, 'c5', 'Hello? Anyone there?');
    expect((await runRoute(ot, { ...early, text: 'Hello? Anyone there?', channel: 'email', rules: RULES })).escalation).toBeUndefined();
    advance(100_000);
    const later = await inbound(ot, 'c5', 'Still waiting for my refund');
    const routed = await runRoute(ot, { ...later, text: 'Still waiting for my refund', channel: 'email', rules: RULES });
    expect(routed.escalation).toMatchObject({ escalated: true });
    expect(await runHandoffOperation(ot, 'state', { conversationId: first.conversationId })).toMatchObject({ status: 'offered', offeredTo: 'carl' });
  });
});
