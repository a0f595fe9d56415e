/**
 * workflows/n8n/ai-agent-bot.json: a Telegram Omnithread Trigger -> n8n's AI Agent (3.1) with an OpenAI Chat
 * Model sub-node and two Omnithread nodes as its tools (Timeline Lookup "Get Transcript", Identity Resolve
 * "Get") -> Reply on Telegram.
 *
 * n8n's AI Agent and chat models are not part of n8n-core, so they are not run here: the structure is
 * checked against n8n 2.40's node types (test/support/n8n-builtin-types.ts), the agent is stood in for by a
 * node that answers with a fixed text, and the tools' parameters are run as the nodes they wrap (n8n makes
 * `<node>Tool` from every node that sets usableAsTool, with the same parameters): after a real signed
 * Telegram update, "Get Transcript" gives the sender's cross-channel transcript and "Get Customer" the
 * sender, and Reply sends the agent's answer to the Telegram chat through a Bot API stand-in, once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription, IWorkflowBase } from 'n8n-workflow';
import { omnithreadFor, resolveSettings } from '../../shared';
import { OmnithreadReply } from '../../nodes/n8n/OmnithreadReply/OmnithreadReply.node';
import { PACKAGE, TYPES, buildWorkflow, callWebhook, cleanupAfterAll, registerNodeType, runWorkflow } from '../support/n8n-harness';
import { startProvider, type ProviderServer } from '../support/provider-server';
import { telegram } from '../support/channel-deliveries';
import { connectionProblems, secretProblems, typeProblems, unknownParameters } from '../support/n8n-builtin-types';

const AGENT_ANSWER = 'Your parcel #5521 left our warehouse yesterday; the tracking link is in the email we sent you.';

/** A stand-in for a node n8n-core can't run here: no input needed, one output of the given kind. */
function standIn(name: string, outputs: string[], execute?: (this: IExecuteFunctions) => Promise<INodeExecutionData[][]>): INodeType {
  const description = { displayName: name, name, group: ['transform'], version: [1, 1.3, 3.1], description: name, defaults: { name }, inputs: outputs.includes('main') ? ['main'] : [], outputs, properties: [] } as unknown as INodeTypeDescription;
  return execute ? { description, execute } : { description };
}
registerNodeType(`${PACKAGE}.omnithreadReply`, new OmnithreadReply());
// The agent's answer, paired with its input item as n8n's agent does.
registerNodeType('@n8n/n8n-nodes-langchain.agent', standIn('agent', ['main'], async function () {
  return [this.getInputData().map((_item, index) => ({ json: { output: AGENT_ANSWER }, pairedItem: { item: index } }))];
}));
registerNodeType('@n8n/n8n-nodes-langchain.lmChatOpenAi', standIn('lmChatOpenAi', ['ai_languageModel']));
registerNodeType(`${PACKAGE}.omnithreadTimelineLookupTool`, standIn('omnithreadTimelineLookupTool', ['ai_tool']));
registerNodeType(`${PACKAGE}.omnithreadIdentityResolveTool`, standIn('omnithreadIdentityResolveTool', ['ai_tool']));
cleanupAfterAll();

const shipped = JSON.parse(readFileSync(join(__dirname, '..', '..', 'workflows', 'n8n', 'ai-agent-bot.json'), 'utf8')) as IWorkflowBase;
const byName = (name: string) => shipped.nodes.find((n) => n.name === name)!;
const delivery = telegram('telegram/text.json');

let bot: ProviderServer;
beforeAll(async () => {
  bot = await startProvider((req) => ({ status: 200, body: { ok: true, result: { message_id: 900 + bot.seen.length, date: 1795514460, chat: { id: req.body?.chat_id } } } }));
});
afterAll(() => bot.close());

/** The template as an admin leaves it after import: the bot's id and secret token, a Telegram credential on Reply. */
function configured(): IWorkflowBase {
  const workflow = JSON.parse(JSON.stringify(shipped)) as IWorkflowBase;
  for (const n of workflow.nodes) {
    if (n.name === 'Telegram') n.parameters = { ...n.parameters, ...delivery.settings, ...delivery.secrets };
    if (n.name === 'Reply') n.credentials = { omnithreadTelegramApi: { id: 'tg', name: 'Telegram bot' } };
  }
  return workflow;
}
const credentials = () => ({ omnithreadTelegramApi: { botToken: '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw', apiBaseUrl: bot.base } });

/** The fixture's update (real format, see test/channels/fixtures/telegram) as a new update and message. */
async function telegramUpdate(workflow: IWorkflowBase, n: number) {
  const signed = delivery.body('');
  const update = JSON.parse(signed.body);
  update.update_id += n;
  update.message.message_id += n;
  const call = await callWebhook(buildWorkflow(workflow), 'Telegram', { body: JSON.stringify(update), headers: signed.headers, contentType: signed.contentType });
  expect(call.items).toHaveLength(1);
  return call.items;
}

describe('workflows/n8n/ai-agent-bot.json', () => {
  test('Telegram -> AI Agent (OpenAI Chat Model; Get Transcript and Get Customer as tools) -> Reply: n8n 2.40 types, importable as is', () => {
    expect(shipped.id).toBe('OmniAiAgentBot01');
    expect(typeProblems(shipped)).toEqual([]);
    expect(unknownParameters(shipped)).toEqual([]);
    expect(connectionProblems(shipped)).toEqual([]);
    expect(secretProblems(shipped)).toEqual([]);
    expect(byName('Telegram')).toMatchObject({ type: TYPES.trigger, parameters: { channel: 'telegram' }, webhookId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(byName('AI Agent')).toMatchObject({ type: '@n8n/n8n-nodes-langchain.agent', typeVersion: 3.1, parameters: { promptType: 'define', text: '={{ $json.text }}' } });
    expect(String(byName('AI Agent').parameters.options && (byName('AI Agent').parameters.options as { systemMessage: string }).systemMessage)).toContain('Get Transcript');
    expect(byName('OpenAI Chat Model')).toMatchObject({ type: '@n8n/n8n-nodes-langchain.lmChatOpenAi', typeVersion: 1.3, parameters: { model: { __rl: true, mode: 'list' } } });
    expect(byName('OpenAI Chat Model').credentials).toBeUndefined();
    expect(byName('Get Transcript')).toMatchObject({ type: `${PACKAGE}.omnithreadTimelineLookupTool`, parameters: { operation: 'getTranscript', descriptionType: 'manual' } });
    expect(byName('Get Customer')).toMatchObject({ type: `${PACKAGE}.omnithreadIdentityResolveTool`, parameters: { resource: 'contact', operation: 'get', lookupBy: 'contactId' } });
    // The tools read the sender's own contact, never one the model names.
    for (const tool of ['Get Transcript', 'Get Customer']) expect(byName(tool).parameters.contactId).toBe("={{ $('Telegram').item.json.contactId }}");
    expect(shipped.connections).toEqual({
      Telegram: { main: [[{ node: 'AI Agent', type: 'main', index: 0 }]] },
      'OpenAI Chat Model': { ai_languageModel: [[{ node: 'AI Agent', type: 'ai_languageModel', index: 0 }]] },
      'Get Transcript': { ai_tool: [[{ node: 'AI Agent', type: 'ai_tool', index: 0 }]] },
      'Get Customer': { ai_tool: [[{ node: 'AI Agent', type: 'ai_tool', index: 0 }]] },
      'AI Agent': { main: [[{ node: 'Reply', type: 'main', index: 0 }]] },
    });
    expect(byName('Reply').parameters).toMatchObject({ text: '={{ $json.output }}', channel: 'same', author: { type: 'ai' } });
  });

  test("the tools' parameters, run as the nodes they wrap: the sender's transcript across channels and who they are", async () => {
    // The same person wrote by email before, and the desk merged their Telegram account into that contact.
    const ot = await omnithreadFor(resolveSettings(undefined, 'n8n'));
    const earlier = await ot.ingest({
      channel: 'email',
      providerMessageId: '<bot-template-1@fastmail.fm>',
      sentAt: Date.parse('2026-11-23T08:00:00Z'),
      from: { name: 'Maya Lindqvist', handles: [{ kind: 'email', value: 'maya.lindqvist@fastmail.fm', trust: 'channel' }] },
      text: 'Order #5521: where is my parcel?',
    });
    const workflow = configured();
    const items = await telegramUpdate(workflow, 1);
    await ot.merge(earlier.contact.id, String(items[0].json.contactId), { actor: 'desk:lena', reason: 'same person' });

    // Each tool becomes a plain node after the trigger: n8n evaluates its parameters the same way for the agent.
    const asNodes = (['Get Transcript', 'Get Customer'] as const).map((name) => {
      const tool = byName(name);
      const { descriptionType: _d, toolDescription: _t, ...parameters } = tool.parameters;
      return { ...tool, type: tool.type.replace(/Tool$/, ''), parameters };
    });
    const run = await runWorkflow(
      {
        nodes: [workflow.nodes.find((n) => n.name === 'Telegram')!, ...asNodes],
        connections: { Telegram: { main: [[{ node: 'Get Transcript', type: 'main', index: 0 }, { node: 'Get Customer', type: 'main', index: 0 }]] } },
      },
      'Telegram',
      items,
    );
    expect(run.run.status).toBe('success');
    const transcript = run.output('Get Transcript')[0].json as { contactId: string; text: string };
    expect(transcript.contactId).toBe(earlier.contact.id);
    expect(transcript.text).toContain('Order #5521: where is my parcel?');
    expect(transcript.text).toContain('Hi, my parcel never arrived');
    expect(transcript.text.indexOf('Order #5521')).toBeLessThan(transcript.text.indexOf('Hi, my parcel never arrived'));
    const customer = (run.output('Get Customer')[0].json as { contact: { id: string; identities: { kind: string }[] } }).contact;
    expect(customer.id).toBe(earlier.contact.id);
    expect(customer.identities.map((i) => i.kind).sort()).toEqual(expect.arrayContaining(['email', 'telegram_user']));
  });

  test("a Telegram update: the agent's answer is sent to the same chat once, and a rerun sends nothing more", async () => {
    const workflow = configured();
    const items = await telegramUpdate(workflow, 2);
    bot.seen.length = 0;
    for (let attempt = 0; attempt < 2; attempt++) {
      const run = await runWorkflow(workflow, 'Telegram', items, { credentials: credentials() });
      expect(run.run.status).toBe('success');
      expect(run.output('Reply')[0].json).toMatchObject({ channel: 'telegram', duplicate: attempt === 1, event: { text: AGENT_ANSWER, direction: 'outbound' } });
    }
    expect(bot.seen).toHaveLength(1);
    expect(bot.seen[0]).toMatchObject({ url: expect.stringMatching(/\/sendMessage$/), body: { chat_id: 5123456789, text: AGENT_ANSWER } });
  });
});
