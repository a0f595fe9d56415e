/**
 * The AI Route node in n8n's engine (WorkflowExecute): messages arrive through the Omnithread Trigger's
 * real webhook(), the roster comes from the Handoff node's Import Roster, and each item leaves on the
 * output of its route decision (AI, Human, Queue, Answer). Classification by the built-in rules, by a
 * connected Chat Model sub-node (supplyData, as n8n's LM nodes do) and by the Omnithread LLM API
 * credential against a local OpenAI-compatible server.
 */
import { TYPES, buildWorkflow, callWebhook, chain, cleanupAfterAll, node, registerNodeType, runWorkflow } from '../support/n8n-harness';
import type { IConnections, INode, INodeExecutionData, INodeParameters, INodeType, INodeTypeDescription, ISupplyDataFunctions, SupplyData } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';
import { OmnithreadLlmApi } from '../../credentials/OmnithreadLlmApi.credentials';
import { OmnithreadAiRoute } from '../../nodes/n8n/OmnithreadAiRoute/OmnithreadAiRoute.node';
import { startChatCompletions, type ChatCompletionsServer } from '../support/chat-completions-server';

cleanupAfterAll();

const DAY = 24 * 3600 * 1000;
const CHAT_MODEL = 'test.chatModel';

/** What the fake chat model was asked, and how it behaves. */
const modelCalls: unknown[] = [];

/** A Chat Model sub-node as n8n's LM nodes are: no main input, an ai_languageModel output, supplyData() hands out the model. */
class FakeChatModel implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Fake Chat Model',
    name: 'chatModel',
    group: ['transform'],
    version: 1,
    description: 'A chat model with invoke()',
    defaults: { name: 'Chat Model' },
    inputs: [],
    outputs: [NodeConnectionTypes.AiLanguageModel],
    properties: [{ displayName: 'Mode', name: 'mode', type: 'string', default: 'ok' }],
  };
  async supplyData(this: ISupplyDataFunctions, itemIndex: number): Promise<SupplyData> {
    const mode = this.getNodeParameter('mode', itemIndex) as string;
    return {
      response: {
        async invoke(messages: unknown) {
          modelCalls.push(messages);
          if (mode === 'throw') throw new Error('model exploded');
          // An AIMessage-like answer, as LangChain chat models give.
          return { content: JSON.stringify({ intent: 'billing', language: 'en', sentiment: 'neutral', urgency: 'high', confidence: 0.93, wantsHuman: false, reason: 'mentions an invoice' }) };
        },
      },
    };
  }
}
registerNodeType(CHAT_MODEL, new FakeChatModel());

const triggerWorkflow = buildWorkflow({ nodes: [node('Trigger', TYPES.trigger, { channel: 'generic', channelName: 'generic' })], connections: {} });

/** A message through the trigger's real webhook: the items it starts the workflow with. */
async function deliver(body: Record<string, unknown>): Promise<INodeExecutionData[]> {
  const call = await callWebhook(triggerWorkflow, 'Trigger', { body });
  expect(call.items).toHaveLength(1);
  return call.items;
}

/** Runs Input -> one Handoff node with these parameters; the node's output items. */
async function handoffNode(parameters: INodeParameters, input: INodeExecutionData[] = [{ json: {} }]) {
  const result = await runWorkflow({ nodes: [node('Input', TYPES.input), node('Handoff', TYPES.handoff, parameters)], connections: chain('Input', 'Handoff') }, 'Input', input);
  return result.output('Handoff').map((i) => i.json as Record<string, any>);
}

const INTENTS = { intent: [{ name: 'billing', keywords: 'invoice, bill, charged, refund', patterns: 'vat\\s+number', urgency: '' }] };

type Outputs = Record<'ai' | 'human' | 'queue' | 'answer', INodeExecutionData[]>;

/** Runs Input -> AI Route (plus extra nodes/connections); the items of each of its four outputs. */
async function route(
  input: INodeExecutionData[],
  parameters: INodeParameters = {},
  extra: { nodes?: INode[]; connections?: IConnections; routeNode?: Partial<INode>; credentials?: Record<string, any> } = {},
) {
  const result = await runWorkflow(
    {
      nodes: [node('Input', TYPES.input), node('AI Route', TYPES.aiRoute, { intents: INTENTS, ...parameters }, extra.routeNode), ...(extra.nodes ?? [])],
      connections: { ...chain('Input', 'AI Route'), ...(extra.connections ?? {}) },
    },
    'Input',
    input,
    { credentials: extra.credentials },
  );
  const task = result.run.data.resultData.runData['AI Route']?.[0];
  const main = task?.data?.main ?? [];
  const outputs: Outputs = { ai: main[0] ?? [], human: main[1] ?? [], queue: main[2] ?? [], answer: main[3] ?? [] };
  return { result, outputs, error: task?.error as (Error & { description?: string }) | undefined };
}

const only = (outputs: Outputs) => Object.entries(outputs).filter(([, items]) => items.length).map(([name, items]) => [name, items.length]);

beforeAll(async () => {
  const roster = [
    { id: 'anna', kind: 'human', skills: { billing: 4 }, languages: ['en', 'de'] },
    { id: 'ben', kind: 'human', skills: { billing: 3 }, languages: ['en'] },
    { id: 'bot', kind: 'ai', skills: { billing: 5 }, languages: ['en'], capacity: 1000, channelCosts: { email: 1, webchat: 1, whatsapp: 1 }, aiConfidenceThreshold: 0.1 },
  ];
  const imported = await handoffNode({ resource: 'agent', operation: 'importRoster', roster: JSON.stringify(roster) });
  expect(imported.map((a) => [a.id, a.kind])).toEqual([
    ['anna', 'human'],
    ['ben', 'human'],
    ['bot', 'ai'],
  ]);
});

describe('AI Route node', () => {
  test('four outputs named AI, Human, Queue, Answer; an optional Chat Model input; the LLM credential is optional', () => {
    const { description } = new OmnithreadAiRoute();
    expect(description.outputNames).toEqual(['AI', 'Human', 'Queue', 'Answer']);
    expect(description.outputs).toHaveLength(4);
    expect(description.inputs).toEqual([NodeConnectionTypes.Main, expect.objectContaining({ type: NodeConnectionTypes.AiLanguageModel, required: false, maxConnections: 1 })]);
    expect(description.credentials).toEqual(expect.arrayContaining([{ name: 'omnithreadLlmApi', displayName: 'LLM API (Optional Classifier)', required: false }]));
    expect(description.usableAsTool).toBe(true);
  });

  test('a WhatsApp chat handled by agent A yesterday, and now an email: the Human output, with A', async () => {
    const chat = await deliver({
      messageId: 'wa-kim-1',
      channel: 'whatsapp',
      sentAt: new Date(Date.now() - DAY).toISOString(),
      from: { phone: '+447700900101', email: 'kim.berg@fastmail.fm', name: 'Kim Berg' },
      text: 'My invoice shows the wrong VAT number',
    });
    // Anna took it (Hand Off -> Accept) and resolved it: three Handoff nodes in a row.
    const handled = await runWorkflow(
      {
        nodes: [
          node('Input', TYPES.input),
          node('Hand Off', TYPES.handoff, { resource: 'handoff', operation: 'handOff', conversationId: '={{ $json.conversation.id }}', toAgentId: 'anna', reason: 'VAT number on the invoice' }),
          node('Accept', TYPES.handoff, { resource: 'handoff', operation: 'accept', agentId: 'anna' }),
          node('Resolve', TYPES.handoff, { resource: 'handoff', operation: 'resolve', agentId: 'anna' }),
        ],
        connections: chain('Input', 'Hand Off', 'Accept', 'Resolve'),
      },
      'Input',
      chat,
    );
    expect(handled.run.status).toBe('success');
    expect(handled.output('Accept')[0].json).toMatchObject({ status: 'accepted', agentId: 'anna' });
    expect(handled.output('Resolve')[0].json).toMatchObject({ status: 'resolved' });

    // ben is less loaded than anna (anna has another open conversation); the known agent still wins.
    const other = await deliver({ messageId: 'wc-other-1', channel: 'webchat', from: { email: 'someone.else@fastmail.fm' }, text: 'hello there' });
    await handoffNode({ resource: 'handoff', operation: 'handOff', conversationId: '={{ $json.conversation.id }}', toAgentId: 'anna', reason: 'busy' }, other);
    await handoffNode({ resource: 'handoff', operation: 'accept', conversationId: '={{ $json.conversation.id }}', agentId: 'anna' }, other);

    const mail = await deliver({ messageId: '<kim-2@fastmail.fm>', channel: 'email', from: { email: 'kim.berg@fastmail.fm' }, text: 'Another question about my bill from March' });
    expect(mail[0].json.contactId).toBe(chat[0].json.contactId);
    const { outputs } = await route(mail);
    expect(only(outputs)).toEqual([['human', 1]]);
    const decision = outputs.human[0].json as Record<string, any>;
    expect(decision).toMatchObject({
      output: 'human',
      target: { kind: 'human', agentId: 'anna' },
      step: 'known_agent',
      assigned: true,
      duplicate: false,
      contactId: chat[0].json.contactId,
      channel: 'email',
      messageEventId: (mail[0].json.event as { id: string }).id,
      conversationId: (mail[0].json.conversation as { id: string }).id,
      classification: expect.objectContaining({ intent: 'billing', source: 'rules' }),
    });
    expect(decision.reason).toMatch(/anna handled this person before/);
    expect(outputs.human[0].pairedItem).toEqual({ item: 0 });

    // Routing the same message again returns the first decision.
    const again = await route(mail);
    expect(again.outputs.human[0].json).toMatchObject({ duplicate: true, target: { kind: 'human', agentId: 'anna' } });
  });

  test('"I want to talk to a human" never goes to the AI output; the same topic without it does', async () => {
    const human = await deliver({ messageId: 'wc-lea-1', channel: 'webchat', from: { email: 'lea.park@fastmail.fm' }, text: 'I want to talk to a human about my invoice' });
    const plain = await deliver({ messageId: 'wc-tom-1', channel: 'webchat', from: { email: 'tom.ng@fastmail.fm' }, text: 'A question about my invoice from March' });
    const { outputs } = await route([...human, ...plain]);
    expect(only(outputs)).toEqual([
      ['ai', 1],
      ['human', 1],
    ]);
    const toHuman = outputs.human[0];
    expect(toHuman.pairedItem).toEqual({ item: 0 });
    expect(toHuman.json).toMatchObject({ target: { kind: 'human' }, classification: expect.objectContaining({ wantsHuman: true }) });
    expect((toHuman.json.target as { agentId: string }).agentId).not.toBe('bot');
    expect(toHuman.json.alternatives).toEqual(expect.arrayContaining([expect.objectContaining({ agentId: 'bot', reason: expect.stringMatching(/AI excluded/) })]));
    expect(outputs.ai[0].pairedItem).toEqual({ item: 1 });
    expect(outputs.ai[0].json).toMatchObject({ output: 'ai', target: { kind: 'ai', agentId: 'bot' } });
  });

  test('a repeated question goes to the Answer output with the earlier answer', async () => {
    const first = await deliver({
      messageId: 'wc-noa-1',
      channel: 'webchat',
      account: 'shop',
      from: { email: 'noa.ito@fastmail.fm', handles: [{ kind: 'webchat_visitor', scope: 'shop', value: 'visitor-noa', trust: 'channel' }] },
      replyTo: { siteId: 'shop', visitorId: 'visitor-noa' },
      text: 'How do I reset my password?',
    });
    const replied = await runWorkflow(
      {
        nodes: [node('Input', TYPES.input), node('Reply', TYPES.reply, { text: 'Go to Settings > Security and choose Reset password.', author: { name: 'Anna', type: 'human' } })],
        connections: chain('Input', 'Reply'),
      },
      'Input',
      first,
    );
    expect(replied.error('Reply')?.message).toBeUndefined();
    expect(replied.run.status).toBe('success');
    const again = await deliver({ messageId: '<noa-2@fastmail.fm>', channel: 'email', from: { email: 'noa.ito@fastmail.fm' }, text: 'Hello, how can I reset my password please?' });
    const { outputs } = await route(again);
    expect(only(outputs)).toEqual([['answer', 1]]);
    expect(outputs.answer[0].json).toMatchObject({
      output: 'answer',
      step: 'answer_from_history',
      answer: { text: 'Go to Settings > Security and choose Reset password.', channel: 'webchat' },
      assigned: false,
    });
    // Switched off in the options, the same question goes to an agent.
    const third = await deliver({ messageId: '<noa-3@fastmail.fm>', channel: 'email', from: { email: 'noa.ito@fastmail.fm' }, text: 'How do I reset my password?' });
    const off = await route(third, { options: { answerFromHistory: false } });
    expect(off.outputs.answer).toHaveLength(0);
  });

  test('nobody available: the Queue output (the priority queue when urgent)', async () => {
    const everyone = [{ json: { id: 'anna' } }, { json: { id: 'ben' } }, { json: { id: 'bot' } }];
    const offline = await handoffNode({ resource: 'agent', operation: 'setStatus', agentId: '={{ $json.id }}', status: 'offline' }, everyone);
    expect(offline.map((a) => a.status)).toEqual(['offline', 'offline', 'offline']);
    try {
      const msg = await deliver({ messageId: 'wc-ole-1', channel: 'webchat', from: { email: 'ole.sand@fastmail.fm' }, text: 'Where can I download my invoice?' });
      const { outputs } = await route(msg, { options: { queue: 'support' } });
      expect(only(outputs)).toEqual([['queue', 1]]);
      expect(outputs.queue[0].json).toMatchObject({ output: 'queue', target: { kind: 'queue', queue: 'support' }, step: 'fallback_queue', assigned: false });
      const urgent = await deliver({ messageId: 'wc-ole-2', channel: 'webchat', from: { email: 'ole.sand@fastmail.fm' }, text: 'Urgent: I was charged twice, this is unacceptable!' });
      const second = await route(urgent, { options: { queue: 'support' } });
      expect(second.outputs.queue[0].json).toMatchObject({ target: { kind: 'queue', queue: 'support-priority' } });
    } finally {
      await handoffNode({ resource: 'agent', operation: 'setStatus', agentId: '={{ $json.id }}', status: 'available' }, everyone);
    }
  });

  describe('classification source', () => {
    const withModel = (mode: string) => ({
      nodes: [node('Chat Model', CHAT_MODEL, { mode })],
      connections: { 'Chat Model': { [NodeConnectionTypes.AiLanguageModel]: [[{ node: 'AI Route', type: NodeConnectionTypes.AiLanguageModel, index: 0 }]] } } as IConnections,
    });

    test('a connected Chat Model sub-node classifies (source chat-model)', async () => {
      modelCalls.length = 0;
      const msg = await deliver({ messageId: 'wc-cm-1', channel: 'webchat', from: { email: 'cm.one@fastmail.fm' }, text: 'Something about my account' });
      const { outputs } = await route(msg, {}, withModel('ok'));
      const [item] = Object.values(outputs).flat();
      expect(item.json.classification).toMatchObject({ source: 'chat-model', intent: 'billing', urgency: 'high', confidence: 0.93 });
      expect(modelCalls).toHaveLength(1);
      expect(JSON.stringify(modelCalls[0])).toContain('Something about my account');
    });

    test('a throwing Chat Model falls back to the rules and says so', async () => {
      const msg = await deliver({ messageId: 'wc-cm-2', channel: 'webchat', from: { email: 'cm.two@fastmail.fm' }, text: 'My invoice is missing' });
      const { outputs, result } = await route(msg, {}, withModel('throw'));
      expect(result.run.status).toBe('success');
      const [item] = Object.values(outputs).flat();
      expect(item.json.classification).toMatchObject({ source: 'rules', intent: 'billing', fallback: { from: 'chat-model', reason: expect.stringMatching(/model exploded/) } });
    });

    describe('the Omnithread LLM API credential', () => {
      let server: ChatCompletionsServer;
      beforeAll(async () => {
        server = await startChatCompletions({ apiKey: 'sk-route-key' });
      });
      afterAll(() => server.close());
      const llm = () => ({
        routeNode: { credentials: { omnithreadLlmApi: { id: 'llm', name: 'Local LLM' } } },
        credentials: { omnithreadLlmApi: { baseUrl: server.baseUrl, apiKey: 'sk-route-key', model: 'route-model' } },
      });

      test('classifies through an OpenAI-compatible API (source llm)', async () => {
        server.script({ kind: 'json', answer: { intent: 'billing', language: 'en', sentiment: 'negative', urgency: 'normal', confidence: 0.88, wantsHuman: true } });
        const msg = await deliver({ messageId: 'wc-llm-1', channel: 'webchat', from: { email: 'llm.one@fastmail.fm' }, text: 'Please let someone look at my bill' });
        const { outputs } = await route(msg, {}, llm());
        expect(only(outputs)).toEqual([['human', 1]]);
        expect(outputs.human[0].json.classification).toMatchObject({ source: 'llm', intent: 'billing', wantsHuman: true, confidence: 0.88 });
        const call = server.seen.at(-1)!;
        expect(call.headers.authorization).toBe('Bearer sk-route-key');
        expect(call.body.model).toBe('route-model');
        expect(JSON.stringify(call.body.messages)).toContain('Please let someone look at my bill');
      });

      test('a connected Chat Model wins over the credential', async () => {
        const before = server.seen.length;
        const msg = await deliver({ messageId: 'wc-llm-2', channel: 'webchat', from: { email: 'llm.two@fastmail.fm' }, text: 'About my account' });
        const model = withModel('ok');
        const { outputs } = await route(msg, {}, { ...llm(), ...model });
        expect(Object.values(outputs).flat()[0].json.classification).toMatchObject({ source: 'chat-model' });
        expect(server.seen.length).toBe(before);
      });

      test('the credential: Base URL, API Key (password), Model; tested with GET {baseUrl}/models and a Bearer token', () => {
        const credential = new OmnithreadLlmApi();
        expect(credential.name).toBe('omnithreadLlmApi');
        expect(credential.properties.map((p) => p.name)).toEqual(['baseUrl', 'apiKey', 'model']);
        expect(credential.properties.find((p) => p.name === 'apiKey')?.typeOptions?.password).toBe(true);
        expect(credential.test.request).toMatchObject({ url: '/models', method: 'GET' });
        expect(credential.authenticate.properties.headers).toEqual({ Authorization: '=Bearer {{$credentials.apiKey}}' });
      });
    });
  });

  describe('errors', () => {
    test('an invalid pattern names the Intents parameter; Continue On Fail puts the item on the Queue output', async () => {
      const msg = await deliver({ messageId: 'wc-err-1', channel: 'webchat', from: { email: 'err.one@fastmail.fm' }, text: 'Hello' });
      const bad = { intents: { intent: [{ name: 'billing', keywords: '', patterns: '([', urgency: '' }] } };
      const failed = await route(msg, bad);
      expect(failed.error?.description).toMatch(/"Intents"/);
      const soft = await route(msg, bad, { routeNode: { continueOnFail: true } });
      expect(only(soft.outputs)).toEqual([['queue', 1]]);
      expect(soft.outputs.queue[0]).toMatchObject({ json: { code: 'INVALID_INPUT', error: expect.stringMatching(/regular expression/) }, pairedItem: { item: 0 } });
    });

    test('a missing contact ID names the Contact ID parameter', async () => {
      const failed = await route([{ json: { text: 'hi', channel: 'webchat' } }]);
      expect(failed.error?.description).toMatch(/"Contact ID"/);
    });

    test('invalid Required Skills JSON names the option', async () => {
      const msg = await deliver({ messageId: 'wc-err-2', channel: 'webchat', from: { email: 'err.two@fastmail.fm' }, text: 'Hello' });
      const failed = await route(msg, { options: { requiredSkills: '{not json' } });
      expect(failed.error?.message).toMatch(/Required Skills \(JSON\)/);
    });
  });
});
