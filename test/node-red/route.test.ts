/**
 * omnithread-route (AI Route) and omnithread-llm inside Node-RED 5 (node-red-node-test-helper): the roster
 * is imported by an omnithread-handoff node, customer messages are recorded in the flow's store, and each
 * routed msg must leave on the output of its decision (AI, human, queue, answer) with the RouteResult.
 * The LLM config is checked against a local OpenAI-compatible stand-in (test/support/chat-completions-server.ts).
 */
import { join } from 'node:path';
import type { Omnithread } from '../../shared';
import { account, message } from '../support/messages';
import { ChatCompletionsServer, startChatCompletions } from '../support/chat-completions-server';
import { FlowNode, collect, helper, loadFlow, tempDir, unloadFlow, waitForStatus } from '../support/node-red-helper';

const TAB = { id: 'f1', type: 'tab' };
const ROSTER = [
  { id: 'agent-a', kind: 'human', skills: { billing: 4 }, languages: ['en'] },
  { id: 'agent-b', kind: 'human', skills: { billing: 3 }, languages: ['en'] },
  { id: 'bot', kind: 'ai', skills: { billing: 5 }, languages: ['en'], capacity: 1000, channelCosts: { email: 1, webchat: 1, whatsapp: 1 } },
];
const INTENTS = { intents: [{ name: 'billing', keywords: ['invoice', 'bill', 'charged', 'refund', 'vat'] }] };

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  await unloadFlow();
  cleanup();
});

const store = (): FlowNode => ({ id: 'store', type: 'omnithread-store', storeType: 'sqlite', sqlitePath: join(dir, 'omnithread.db'), workspace: 'nodered', autoMergeTrust: 'channel' });
const routeNode = (extra: Record<string, unknown> = {}): FlowNode => ({
  id: 'route',
  z: 'f1',
  type: 'omnithread-route',
  store: 'store',
  llm: '',
  intents: JSON.stringify(INTENTS),
  routeOptions: JSON.stringify({ aiConfidenceThreshold: 0.1 }),
  wires: [['ai'], ['human'], ['queue'], ['answer']],
  ...extra,
});
const rosterNode: FlowNode = { id: 'roster', z: 'f1', type: 'omnithread-handoff', store: 'store', operation: 'importRoster', roster: JSON.stringify(ROSTER), wires: [['rosterOut']] };
const helpers: FlowNode[] = ['ai', 'human', 'queue', 'answer', 'rosterOut', 'caught'].map((id) => ({ id, z: 'f1', type: 'helper' }));
const catcher: FlowNode = { id: 'catcher', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] };

async function load(route: Record<string, unknown> = {}, extra: FlowNode[] = [], credentials: Record<string, Record<string, string>> = {}) {
  await loadFlow([TAB, store(), routeNode(route), rosterNode, ...helpers, catcher, ...extra], credentials);
  const outputs = Object.fromEntries(['ai', 'human', 'queue', 'answer', 'rosterOut', 'caught'].map((id) => [id, collect(id)]));
  const ot = await (helper.getNode('store') as unknown as { omnithread: Promise<Omnithread> }).omnithread;
  return { outputs, ot };
}

async function importRoster(outputs: Record<string, ReturnType<typeof collect>>) {
  helper.getNode('roster').receive({ payload: 'go' });
  const [msg] = await outputs.rosterOut.next();
  expect(msg.payload.map((a: { id: string }) => a.id).sort()).toEqual(['agent-a', 'agent-b', 'bot']);
}

/** A customer message recorded as omnithread in records it; the msg as omnithread identity (resolve) sends it on. */
async function inbound(ot: Omnithread, customer: string, channel: string, text: string) {
  const result = await ot.ingest(message([account(customer)], { channel, text }));
  return { payload: { duplicate: false, contact: result.contact, conversation: result.conversation, event: result.event }, ids: { contactId: result.contact.id, conversationId: result.conversation.id } };
}

test('the roster is imported by the handoff node; a billing question goes to the AI agent on output 1', async () => {
  const { outputs, ot } = await load();
  await importRoster(outputs);
  const msg = await inbound(ot, 'cust-ai', 'webchat', 'Can I pay my invoice by card?');
  helper.getNode('route').receive({ payload: msg.payload });
  const [out] = await outputs.ai.next();
  expect(out.payload.target).toEqual({ kind: 'ai', agentId: 'bot' });
  expect(out.payload.output).toBe('ai');
  expect(out.payload.classification).toMatchObject({ intent: 'billing', source: 'rules', wantsHuman: false });
  expect(out.route).toEqual(out.payload);
  expect(out.contactId).toBe(msg.ids.contactId);
  expect(out.conversationId).toBe(msg.ids.conversationId);
  expect(out.inReplyTo).toBe(msg.payload.event!.id);
  expect(outputs.human.messages.length + outputs.queue.messages.length + outputs.answer.messages.length).toBe(0);
  await waitForStatus(helper.getNode('route'), { text: 'ai: bot' });
});

test('cross-channel known agent: handled by agent-a on WhatsApp, now email -> human output with agent-a; agent-a offline -> another qualified agent', async () => {
  const { outputs, ot } = await load();
  await importRoster(outputs);
  const wa = await inbound(ot, 'cust-known', 'whatsapp', 'My invoice shows the wrong VAT number');
  await ot.assignConversation(wa.ids.conversationId, 'agent-a');
  await ot.recordOutbound(wa.ids.contactId, { channel: 'whatsapp', text: 'Fixed, a corrected invoice is on its way.', author: { id: 'agent-a', type: 'human' } });
  await ot.resolveConversation(wa.ids.conversationId);

  const mail = await inbound(ot, 'cust-known', 'email', 'Another question about my bill from March');
  helper.getNode('route').receive({ payload: mail.payload });
  const [out] = await outputs.human.next();
  expect(out.payload.target).toEqual({ kind: 'human', agentId: 'agent-a' });
  expect(out.payload.step).toBe('known_agent');
  expect(out.payload.assigned).toBe(true);
  await waitForStatus(helper.getNode('route'), { text: 'human: agent-a' });

  // agent-a goes offline (setStatus through the roster API); the next message goes to agent-b.
  await ot.roster().setStatus('agent-a', 'offline');
  await ot.resolveConversation(mail.ids.conversationId);
  const again = await inbound(ot, 'cust-known', 'email', 'And why was I charged twice?');
  helper.getNode('route').receive({ payload: again.payload, routeOptions: { aiAgents: false } });
  const [, second] = await outputs.human.next(2);
  expect(second.payload.target).toEqual({ kind: 'human', agentId: 'agent-b' });
  expect(second.payload.alternatives).toEqual(expect.arrayContaining([expect.objectContaining({ agentId: 'agent-a', reason: 'known agent, but offline' })]));
  expect(outputs.ai.messages).toHaveLength(0);
});

test('"talk to a human" never goes to the AI agent', async () => {
  const { outputs, ot } = await load();
  await importRoster(outputs);
  const msg = await inbound(ot, 'cust-human', 'webchat', 'I want to talk to a human about my invoice');
  helper.getNode('route').receive({ payload: msg.payload });
  const [out] = await outputs.human.next();
  expect(out.payload.classification.wantsHuman).toBe(true);
  expect(out.payload.target.kind).toBe('human');
  expect(out.payload.alternatives).toEqual(expect.arrayContaining([expect.objectContaining({ agentId: 'bot', reason: 'AI excluded: wants a human' })]));
  expect(outputs.ai.messages).toHaveLength(0);
});

test('a repeated question leaves on the answer output with the earlier answer; omnithread in\'s payload shape works too', async () => {
  const { outputs, ot } = await load();
  await importRoster(outputs);
  const chat = await inbound(ot, 'cust-faq', 'webchat', 'How do I reset my password?');
  await ot.recordOutbound(chat.ids.contactId, { channel: 'webchat', text: 'Settings > Security > Reset password.', author: { id: 'bot', type: 'ai' } });
  await ot.resolveConversation(chat.ids.conversationId);
  const text = 'Hello, how can I reset my password please?';
  const result = await ot.ingest(message([account('cust-faq')], { channel: 'email', text }));
  // As omnithread in sends it: contactId, channel, text and the event at the top of the payload.
  helper.getNode('route').receive({ topic: result.contact.id, payload: { contactId: result.contact.id, channel: 'email', text, event: result.event } });
  const [out] = await outputs.answer.next();
  expect(out.payload.target).toEqual({ kind: 'answer' });
  expect(out.payload.answer).toMatchObject({ text: 'Settings > Security > Reset password.', channel: 'webchat' });
  await waitForStatus(helper.getNode('route'), { text: 'answer' });
});

test('nobody available -> queue output', async () => {
  const { outputs, ot } = await load({ routeOptions: JSON.stringify({ queue: 'billing-desk' }) });
  helper.getNode('roster').receive({ roster: [{ id: 'agent-z', kind: 'human', status: 'offline', skills: { billing: 3 } }] });
  await outputs.rosterOut.next();
  const msg = await inbound(ot, 'cust-queue', 'email', 'Please refund my invoice');
  helper.getNode('route').receive({ payload: msg.payload });
  const [out] = await outputs.queue.next();
  expect(out.payload.target).toEqual({ kind: 'queue', queue: 'billing-desk' });
  expect(out.payload.step).toBe('fallback_queue');
  await waitForStatus(helper.getNode('route'), { text: 'queue: billing-desk', fill: 'yellow' });
});

test('a routed message is routed once: the same msg again returns the first decision', async () => {
  const { outputs, ot } = await load();
  await importRoster(outputs);
  const msg = await inbound(ot, 'cust-dup', 'webchat', 'Question about my invoice');
  helper.getNode('route').receive({ payload: msg.payload });
  helper.getNode('route').receive({ payload: msg.payload });
  const [first, second] = await outputs.ai.next(2);
  expect(first.payload.duplicate).toBe(false);
  expect(second.payload.duplicate).toBe(true);
  expect(second.payload.eventId).toBe(first.payload.eventId);
});

describe('with an omnithread-llm config', () => {
  let llm: ChatCompletionsServer;
  beforeAll(async () => (llm = await startChatCompletions({ apiKey: 'sk-node-red' })));
  afterAll(() => llm.close());
  beforeEach(() => llm.seen.splice(0));

  const llmConfig = (extra: Record<string, unknown> = {}): FlowNode => ({ id: 'llm', type: 'omnithread-llm', name: 'stand-in', baseUrl: llm.baseUrl, model: 'gpt-test', timeoutMs: '5000', retries: '0', ...extra });

  test('classifies through the API (source llm), the key sent as a bearer token', async () => {
    const { outputs, ot } = await load({ llm: 'llm' }, [llmConfig()], { llm: { apiKey: 'sk-node-red' } });
    await importRoster(outputs);
    llm.script({ kind: 'json', answer: { intent: 'billing', language: 'en', sentiment: 'negative', urgency: 'high', confidence: 0.95, wantsHuman: false } });
    const msg = await inbound(ot, 'cust-llm', 'email', 'You billed me twice, fix it now');
    helper.getNode('route').receive({ payload: msg.payload });
    const [out] = await outputs.human.next();
    expect(out.payload.classification).toMatchObject({ source: 'llm', intent: 'billing', sentiment: 'negative', urgency: 'high' });
    expect(out.payload.classification.fallback).toBeUndefined();
    expect(llm.seen).toHaveLength(1);
    expect(llm.seen[0].headers.authorization).toBe('Bearer sk-node-red');
    expect(llm.seen[0].body.model).toBe('gpt-test');
  });

  test('an HTTP 500 falls back to the rules, and the classification records it', async () => {
    const { outputs, ot } = await load({ llm: 'llm' }, [llmConfig()], { llm: { apiKey: 'sk-node-red' } });
    await importRoster(outputs);
    llm.script({ kind: 'status', status: 500, message: 'The server had an error' });
    const msg = await inbound(ot, 'cust-500', 'webchat', 'Question about my invoice');
    helper.getNode('route').receive({ payload: msg.payload });
    const [out] = await outputs.ai.next();
    expect(out.payload.classification).toMatchObject({ source: 'rules', intent: 'billing', fallback: { from: 'llm', reason: expect.stringMatching(/500/) } });
    await waitForStatus(helper.getNode('route'), { text: 'ai: bot (rules fallback)' });
  });

  test('a wrong API key (401) falls back too, saying so', async () => {
    const { outputs, ot } = await load({ llm: 'llm' }, [llmConfig()], { llm: { apiKey: 'sk-wrong' } });
    await importRoster(outputs);
    const msg = await inbound(ot, 'cust-401', 'webchat', 'Question about my invoice');
    helper.getNode('route').receive({ payload: msg.payload });
    const [out] = await outputs.ai.next();
    expect(out.payload.classification.fallback).toMatchObject({ from: 'llm', reason: expect.stringMatching(/401/) });
  });
});

describe('errors reach a Catch node', () => {
  test('a msg without a contact', async () => {
    const { outputs } = await load();
    helper.getNode('route').receive({ payload: { text: 'hello', channel: 'email' } });
    const [caught] = await outputs.caught.next();
    expect(caught.error.code).toBe('INVALID_INPUT');
    expect(caught.error.message).toMatch(/contact/);
    await waitForStatus(helper.getNode('route'), { fill: 'red', text: 'invalid input' });
  });

  test('invalid intents JSON names the field', async () => {
    const { outputs } = await load({ intents: '{"intents": [' });
    helper.getNode('route').receive({ payload: { contactId: 'c1', text: 'hello', channel: 'email' } });
    const [caught] = await outputs.caught.next();
    expect(caught.error).toMatchObject({ code: 'INVALID_INPUT', cause: expect.objectContaining({ field: 'intents' }) });
  });

  test('an intent named "other" is refused by the rules schema', async () => {
    const { outputs } = await load({ intents: JSON.stringify([{ name: 'other', keywords: ['x'] }]) });
    helper.getNode('route').receive({ payload: { contactId: 'c1', text: 'hello', channel: 'email' } });
    const [caught] = await outputs.caught.next();
    expect(caught.error.code).toBe('INVALID_INPUT');
    expect(caught.error.message).toMatch(/reserved/);
  });

  test('an LLM config that does not exist', async () => {
    const { outputs } = await load({ llm: 'missing' });
    helper.getNode('route').receive({ payload: { contactId: 'c1', text: 'hello', channel: 'email' } });
    const [caught] = await outputs.caught.next();
    expect(caught.error).toMatchObject({ code: 'INVALID_INPUT', cause: expect.objectContaining({ field: 'llm' }) });
  });
});
