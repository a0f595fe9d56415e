/**
 * omnithread-handoff inside Node-RED 5 (node-red-node-test-helper): the roster operations, a handoff
 * after an omnithread-route node (to the agent it chose, or to its queue) with the packet a person needs,
 * and the handoff's follow-up (accept, release, resolve, state), each a node with its operation; errors
 * reach a Catch node.
 */
import { join } from 'node:path';
import type { Omnithread } from '../../shared';
import { account, message } from '../support/messages';
import { FlowNode, collect, helper, loadFlow, tempDir, unloadFlow, waitForStatus } from '../support/node-red-helper';

const TAB = { id: 'f1', type: 'tab' };
const ROSTER = [
  { id: 'agent-a', kind: 'human', skills: { billing: 4 }, languages: ['en'] },
  { id: 'agent-b', kind: 'human', skills: { billing: 3 }, languages: ['en'] },
];

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  await unloadFlow();
  cleanup();
});

const OPS = ['importRoster', 'upsertAgent', 'setStatus', 'listAgents', 'getAgent', 'removeAgent', 'loads', 'handOff', 'accept', 'release', 'resolve', 'escalate', 'state'];
const opNode = (operation: string, extra: Record<string, unknown> = {}): FlowNode => ({ id: `op-${operation}`, z: 'f1', type: 'omnithread-handoff', store: 'store', operation, wires: [[`${operation}Out`]], ...extra });

async function load(extra: Record<string, Record<string, unknown>> = {}) {
  const flow: FlowNode[] = [
    TAB,
    { id: 'store', type: 'omnithread-store', storeType: 'sqlite', sqlitePath: join(dir, 'omnithread.db'), workspace: 'nodered', autoMergeTrust: 'channel' },
    {
      id: 'route',
      z: 'f1',
      type: 'omnithread-route',
      store: 'store',
      intents: JSON.stringify({ intents: [{ name: 'billing', keywords: ['invoice', 'charged'] }] }),
      routeOptions: JSON.stringify({ queue: 'billing-desk' }),
      wires: [[], ['op-handOff'], ['op-handOff'], []],
    },
    ...OPS.map((op) => opNode(op, { roster: op === 'importRoster' ? JSON.stringify(ROSTER) : undefined, ...(extra[op] ?? {}) })),
    ...OPS.map((op) => ({ id: `${op}Out`, z: 'f1', type: 'helper' })),
    { id: 'catcher', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'f1', type: 'helper' },
  ];
  await loadFlow(flow);
  const out = Object.fromEntries([...OPS.map((op) => [op, collect(`${op}Out`)]), ['caught', collect('caught')]]);
  const ot = await (helper.getNode('store') as unknown as { omnithread: Promise<Omnithread> }).omnithread;
  return { out, ot };
}

/** Runs one operation node with a msg; resolves with its output msg. */
async function run(out: Record<string, ReturnType<typeof collect>>, op: string, msg: Record<string, unknown> = {}) {
  const before = out[op].messages.length;
  helper.getNode(`op-${op}`).receive(msg);
  const messages = await out[op].next(before + 1);
  return messages[before];
}

test('roster operations: import (node JSON), upsert (msg.payload), set status, list, get, loads, remove', async () => {
  const { out } = await load({ listAgents: { filter: JSON.stringify({ status: 'available' }) }, setStatus: { agentStatus: 'away' } });
  const imported = await run(out, 'importRoster', { payload: 1764000000000 });
  expect(imported.payload.map((a: { id: string }) => a.id)).toEqual(['agent-a', 'agent-b']);
  await waitForStatus(helper.getNode('op-importRoster'), { text: 'imported 2 agents' });

  const saved = await run(out, 'upsertAgent', { payload: { id: 'bot', kind: 'ai', skills: ['faq'], capacity: 1000 } });
  expect(saved.payload).toMatchObject({ id: 'bot', kind: 'ai', status: 'available', skills: { faq: 3 } });

  const away = await run(out, 'setStatus', { agentId: 'agent-b' });
  expect(away.payload).toMatchObject({ id: 'agent-b', status: 'away' });
  const offline = await run(out, 'setStatus', { payload: { agentId: 'agent-b' }, status: 'offline' });
  expect(offline.payload).toMatchObject({ id: 'agent-b', status: 'offline' });

  const listed = await run(out, 'listAgents');
  expect(listed.payload.map((a: { id: string }) => a.id).sort()).toEqual(['agent-a', 'bot']);
  const humans = await run(out, 'listAgents', { filter: { kind: 'human' } });
  expect(humans.payload.map((a: { id: string }) => a.id).sort()).toEqual(['agent-a', 'agent-b']);

  expect((await run(out, 'getAgent', { agentId: 'agent-a' })).payload).toMatchObject({ id: 'agent-a', skills: { billing: 4 } });
  expect((await run(out, 'getAgent', { agentId: 'nobody' })).payload).toBeNull();

  const loads = await run(out, 'loads', { agentIds: ['agent-a'] });
  expect(loads.payload).toEqual([expect.objectContaining({ agentId: 'agent-a', used: 0 })]);

  expect((await run(out, 'removeAgent', { agentId: 'bot' })).payload).toEqual({ removed: true });
  expect((await run(out, 'removeAgent', { agentId: 'bot' })).payload).toEqual({ removed: false });
});

test('after a route node: handOff to the chosen agent with the packet; accept, release, state, resolve', async () => {
  const { out, ot } = await load();
  await run(out, 'importRoster');
  await ot.ingest(message([account('cust-1')], { channel: 'webchat', text: 'Hi, I need help' }));
  const result = await ot.ingest(message([account('cust-1')], { channel: 'email', text: 'I was charged twice on my invoice, I want to talk to a human' }));
  const conversationId = result.conversation.id;
  helper.getNode('route').receive({ payload: { contact: result.contact, event: result.event } });
  const [handed] = await out.handOff.next();
  const packet = handed.payload;
  expect(packet).toMatchObject({
    conversationId,
    contact: { id: result.contact.id },
    intent: 'billing',
    status: 'offered',
    to: expect.stringMatching(/^agent-[ab]$/),
    queue: null,
  });
  expect(packet.handoffId).toEqual(expect.any(String));
  expect(packet.transcript).toMatch(/charged twice/);
  expect(packet.summary).toEqual(expect.any(String));
  expect(packet.channelWindows.map((w: { channel: string }) => w.channel).sort()).toEqual(['email', 'webchat']);
  expect(packet.slaDueAt).toEqual(expect.any(String));
  expect(packet.reason).toEqual(expect.any(String));
  const agent = packet.to as string;
  await waitForStatus(helper.getNode('op-handOff'), { text: `offered to ${agent}` });

  // The same routed msg again hands off once (idempotent on the routed message).
  helper.getNode('op-handOff').receive({ payload: handed.route, conversationId });
  const [, again] = await out.handOff.next(2);
  expect(again.payload.handoffId).toBe(packet.handoffId);

  const accepted = await run(out, 'accept', { conversationId, agentId: agent });
  expect(accepted.payload).toMatchObject({ status: 'accepted', agentId: agent, conversationId });
  await waitForStatus(helper.getNode('op-accept'), { text: `accepted by ${agent}` });

  const released = await run(out, 'release', { conversationId, agentId: agent, reason: 'end of shift' });
  expect(released.payload.status).toMatch(/offered|queued/);

  const state = await run(out, 'state', { payload: { conversationId } });
  expect(state.payload).toMatchObject({ conversationId, handoffId: packet.handoffId });

  // Accept again by the handoff id (msg.payload.handoffId), then resolve.
  const reaccepted = await run(out, 'accept', { payload: { handoffId: packet.handoffId }, agentId: 'agent-b' });
  expect(reaccepted.payload).toMatchObject({ status: 'accepted', agentId: 'agent-b' });
  const resolved = await run(out, 'resolve', { conversationId, agentId: 'agent-b' });
  expect(resolved.payload.status).toBe('resolved');
  await waitForStatus(helper.getNode('op-resolve'), { text: 'resolved' });
});

test('after a route node with nobody available: handOff to its queue', async () => {
  const { out, ot } = await load();
  await run(out, 'importRoster', { roster: [{ id: 'agent-z', status: 'offline', skills: { billing: 3 } }] });
  const result = await ot.ingest(message([account('cust-2')], { channel: 'email', text: 'Question about my invoice' }));
  helper.getNode('route').receive({ payload: { contact: result.contact, event: result.event } });
  const [handed] = await out.handOff.next();
  expect(handed.payload).toMatchObject({ status: 'queued', queue: 'billing-desk', to: null, conversationId: result.conversation.id });
  await waitForStatus(helper.getNode('op-handOff'), { text: 'queued: billing-desk' });
  const state = await run(out, 'state', { conversationId: result.conversation.id });
  expect(state.payload.status).toBe('queued');
  const escalated = await run(out, 'escalate', { conversationId: result.conversation.id });
  expect(escalated.payload.escalated).toBe(false);
});

test('handOff from node properties alone (no route): to agent, reason, SLA', async () => {
  const { out, ot } = await load({ handOff: { toAgentId: 'agent-a', reason: 'VIP asked for a call back', slaMinutes: '30', botAttempts: 'sent the FAQ link, asked for the order number' } });
  await run(out, 'importRoster');
  const result = await ot.ingest(message([account('cust-3')], { channel: 'webchat', text: 'Call me please' }));
  const handed = await run(out, 'handOff', { conversationId: result.conversation.id });
  expect(handed.payload).toMatchObject({ to: 'agent-a', reason: 'VIP asked for a call back', botAttempts: ['sent the FAQ link', 'asked for the order number'], status: 'offered' });
  expect(Date.parse(handed.payload.slaDueAt) - Date.parse(handed.payload.offeredAt)).toBe(30 * 60_000);
});

describe('errors reach a Catch node', () => {
  test('handOff without a conversation, accept of an unknown conversation, a bad roster', async () => {
    const { out } = await load({ handOff: { reason: 'x' } });
    helper.getNode('op-handOff').receive({ payload: 'nothing' });
    const [first] = await out.caught.next();
    expect(first.error).toMatchObject({ code: 'INVALID_INPUT', cause: expect.objectContaining({ field: expect.stringMatching(/conversationId/) }) });
    await waitForStatus(helper.getNode('op-handOff'), { fill: 'red', text: 'invalid input' });

    helper.getNode('op-accept').receive({ conversationId: 'no-such-conversation', agentId: 'agent-a' });
    const [, second] = await out.caught.next(2);
    expect(['NOT_FOUND', 'INVALID_INPUT', 'CONFLICT']).toContain(second.error.code);

    helper.getNode('op-importRoster').receive({ roster: [{ id: 'x', capacity: 0 }] });
    const [, , third] = await out.caught.next(3);
    expect(third.error.code).toBe('INVALID_INPUT');
    expect(third.error.message).toMatch(/capacity/);
  });

  test('a bad JSON property names the field', async () => {
    const { out } = await load({ upsertAgent: { agent: '{"id": ' } });
    helper.getNode('op-upsertAgent').receive({ payload: 'not an agent' });
    const [caught] = await out.caught.next();
    expect(caught.error).toMatchObject({ code: 'INVALID_INPUT', cause: expect.objectContaining({ field: 'agent' }) });
  });
});
