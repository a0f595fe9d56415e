/**
 * workflows/n8n/slack-handoff.json, executed from its file through n8n-core (plus what an admin sets after
 * import: the WhatsApp trigger's secrets, a WhatsApp credential on the Reply nodes): a signed WhatsApp
 * message -> AI Route -> Handoff (to the agent, or to the queue) -> Slack "Send and Wait for Response"
 * (free text) -> Reply on WhatsApp with the answer typed in Slack.
 *
 * n8n's Slack node is not part of n8n-core: a stand-in takes its place with the template's parameters,
 * evaluates the message it would post (the handoff packet rendered by the template's expression) and
 * answers as send-and-wait does when the person submits the form ({ data: { text, respondedAt } }).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription, IWorkflowBase } from 'n8n-workflow';
import { metaSignature } from '../../shared';
import { OmnithreadReply } from '../../nodes/n8n/OmnithreadReply/OmnithreadReply.node';
import { PACKAGE, TYPES, buildWorkflow, callWebhook, chain, cleanupAfterAll, node, registerNodeType, runWorkflow } from '../support/n8n-harness';
import { startProvider, type ProviderServer } from '../support/provider-server';
import { connectionProblems, secretProblems, typeProblems, unknownParameters } from '../support/n8n-builtin-types';

const ANSWER = 'Hi Maya, I am Anna from the shop. Your parcel #5521 was delayed at the depot; it arrives tomorrow.';
const posted: { operation: string; select: string; channel: string; responseType: string; message: string }[] = [];

/** n8n's Slack node (2.3) as far as the template uses it: sendAndWait with a free-text answer. */
class SlackSendAndWait implements INodeType {
  description = {
    displayName: 'Slack',
    name: 'slack',
    group: ['output'],
    version: [2.3],
    description: 'Slack stand-in',
    defaults: { name: 'Slack' },
    inputs: ['main'],
    outputs: ['main'],
    // The parameters the template sets, as n8n 2.40's Slack node describes them (n8n keeps only described ones).
    properties: [
      { displayName: 'Operation', name: 'operation', type: 'string', default: 'post' },
      { displayName: 'Send Message To', name: 'select', type: 'string', default: 'user' },
      {
        displayName: 'Channel',
        name: 'channelId',
        type: 'resourceLocator',
        default: { mode: 'list', value: '' },
        modes: [
          { displayName: 'From List', name: 'list', type: 'list' },
          { displayName: 'By ID', name: 'id', type: 'string' },
          { displayName: 'By Name', name: 'name', type: 'string' },
        ],
      },
      { displayName: 'Message', name: 'message', type: 'string', default: '' },
      { displayName: 'Response Type', name: 'responseType', type: 'string', default: 'approval' },
      {
        displayName: 'Options',
        name: 'options',
        type: 'collection',
        default: {},
        options: ['messageButtonLabel', 'responseFormTitle', 'responseFormDescription', 'responseFormButtonLabel'].map((name) => ({ displayName: name, name, type: 'string', default: '' })),
      },
    ],
  } as unknown as INodeTypeDescription;
  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const channel = this.getNodeParameter('channelId', 0, '', { extractValue: true }) as string;
    posted.push({
      operation: this.getNodeParameter('operation', 0) as string,
      select: this.getNodeParameter('select', 0) as string,
      channel,
      responseType: this.getNodeParameter('responseType', 0) as string,
      message: this.getNodeParameter('message', 0) as string,
    });
    // What sendAndWaitWebhook() puts out when the form is submitted (n8n-nodes-base utils/sendAndWait).
    return [[{ json: { data: { text: ANSWER, respondedAt: new Date().toISOString() } } }]];
  }
}
registerNodeType('n8n-nodes-base.slack', new SlackSendAndWait());
registerNodeType(`${PACKAGE}.omnithreadReply`, new OmnithreadReply());
cleanupAfterAll();

const shipped = JSON.parse(readFileSync(join(__dirname, '..', '..', 'workflows', 'n8n', 'slack-handoff.json'), 'utf8')) as IWorkflowBase;
const fixture = JSON.parse(readFileSync(join(__dirname, '..', 'channels', 'fixtures', 'whatsapp', 'text.json'), 'utf8'));
const byName = (name: string) => shipped.nodes.find((n) => n.name === name)!;
const APP_SECRET = 'slack-template-app-secret';

let whatsapp: ProviderServer;
beforeAll(async () => {
  whatsapp = await startProvider(() => ({ status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: '447911123456', wa_id: '447911123456' }], messages: [{ id: `wamid.slack-${whatsapp.seen.length}` }] } }));
});
afterAll(() => whatsapp.close());

function configured(): IWorkflowBase {
  const workflow = JSON.parse(JSON.stringify(shipped)) as IWorkflowBase;
  for (const n of workflow.nodes) {
    if (n.name === 'WhatsApp') n.parameters = { ...n.parameters, appSecret: APP_SECRET, verifyToken: 'verify-me' };
    if (n.type === TYPES.reply) n.credentials = { omnithreadWhatsAppApi: { id: 'wa', name: 'WhatsApp account' } };
  }
  return workflow;
}
const credentials = () => ({ omnithreadWhatsAppApi: { accessToken: 'wa-token', phoneNumberId: '', apiVersion: 'v21.0', apiBaseUrl: whatsapp.base } });

async function handoffNode(parameters: Record<string, unknown>, input: INodeExecutionData[] = [{ json: {} }]) {
  const result = await runWorkflow({ nodes: [node('Input', TYPES.input), node('Handoff', TYPES.handoff, parameters as never)], connections: chain('Input', 'Handoff') }, 'Input', input);
  return result.output('Handoff').map((i) => i.json as Record<string, any>);
}

/** A signed WhatsApp message sent a minute ago (the 24-hour window open whatever day the test runs). */
async function whatsappMessage(id: string, text: string) {
  const delivery = JSON.parse(JSON.stringify(fixture));
  const message = delivery.entry[0].changes[0].value.messages[0];
  message.id = id;
  message.text.body = text;
  message.timestamp = String(Math.floor(Date.now() / 1000) - 60);
  const body = JSON.stringify(delivery);
  const workflow = configured();
  const call = await callWebhook(buildWorkflow(workflow), 'WhatsApp', { body, headers: { 'x-hub-signature-256': metaSignature(APP_SECRET, body) } });
  expect(call.items).toHaveLength(1);
  const result = await runWorkflow(workflow, 'WhatsApp', call.items, { credentials: credentials() });
  expect({ status: result.run.status, error: result.error()?.message }).toEqual({ status: 'success', error: undefined });
  const ran = Object.keys(result.run.data.resultData.runData).filter((name) => !['WhatsApp', 'AI Route'].includes(name));
  return { result, ran, item: call.items[0].json as Record<string, any> };
}

describe('workflows/n8n/slack-handoff.json', () => {
  test('WhatsApp -> AI Route -> Handoff (agent or queue) -> Slack send-and-wait (free text) -> Reply; n8n 2.40 types, importable as is', () => {
    expect(shipped.id).toBe('OmniSlackHandoff');
    expect(typeProblems(shipped)).toEqual([]);
    expect(unknownParameters(shipped)).toEqual([]);
    expect(connectionProblems(shipped)).toEqual([]);
    expect(secretProblems(shipped)).toEqual([]);
    expect(shipped.connections['AI Route'].main.map((targets) => targets!.map((t) => t.node))).toEqual([['Acknowledge (AI)'], ['Hand Off to Agent'], ['Queue Handoff'], ['Answer From History']]);
    expect(shipped.connections['Hand Off to Agent'].main[0]).toEqual([{ node: 'Ask in Slack', type: 'main', index: 0 }]);
    expect(shipped.connections['Queue Handoff'].main[0]).toEqual([{ node: 'Ask in Slack', type: 'main', index: 0 }]);
    expect(shipped.connections['Ask in Slack'].main[0]).toEqual([{ node: 'Reply With the Answer', type: 'main', index: 0 }]);
    expect(byName('Ask in Slack')).toMatchObject({
      type: 'n8n-nodes-base.slack',
      typeVersion: 2.3,
      webhookId: expect.stringMatching(/^[0-9a-f-]{36}$/), // send-and-wait resumes through the node's own webhook
      parameters: { operation: 'sendAndWait', select: 'channel', channelId: { __rl: true, mode: 'name' }, responseType: 'freeText' },
    });
    expect(byName('Ask in Slack').credentials).toBeUndefined();
    expect(byName('Reply With the Answer').parameters).toMatchObject({ text: '={{ $json.data.text }}', channel: 'same', author: { type: 'human' } });
  });

  describe('the story', () => {
    beforeAll(async () => {
      await handoffNode({ resource: 'agent', operation: 'importRoster', roster: JSON.stringify([{ id: 'anna', kind: 'human', skills: { delivery: 4 }, languages: ['en'] }]) });
    });

    test('a customer asks for a person: handed to Anna, the packet posted in Slack, her answer sent on WhatsApp once', async () => {
      posted.length = 0;
      whatsapp.seen.length = 0;
      const { ran, result, item } = await whatsappMessage('wamid.slack-story-1', 'My parcel #5521 never arrived, I want to talk to a human');
      expect(ran.sort()).toEqual(['Ask in Slack', 'Hand Off to Agent', 'Reply With the Answer']);
      const packet = result.output('Hand Off to Agent')[0].json as Record<string, any>;
      expect(packet).toMatchObject({ to: 'anna', status: 'offered', contact: { id: item.contactId }, intent: 'delivery' });

      expect(posted).toHaveLength(1);
      expect(posted[0]).toMatchObject({ operation: 'sendAndWait', select: 'channel', channel: '#support-handoffs', responseType: 'freeText' });
      const message = posted[0].message;
      expect(message).toContain(`*${packet.contact.name}* needs a person (delivery, ${packet.priority} priority, offered to anna)`);
      expect(message).toMatch(/\*Reply windows:\* whatsapp open until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
      expect(message).toContain('My parcel #5521 never arrived, I want to talk to a human');
      expect(message).not.toContain('{{');

      expect(result.output('Reply With the Answer')[0].json).toMatchObject({ duplicate: false, channel: 'whatsapp', event: { text: ANSWER, direction: 'outbound' } });
      expect(whatsapp.seen).toHaveLength(1);
      expect(whatsapp.seen[0].body).toMatchObject({ to: '447911123456', type: 'text', text: { body: ANSWER } });
    });

    test('nobody available: a queued handoff goes to the same Slack channel, the answer back on WhatsApp', async () => {
      await handoffNode({ resource: 'agent', operation: 'setStatus', agentId: 'anna', status: 'offline' });
      try {
        posted.length = 0;
        whatsapp.seen.length = 0;
        const { ran, result } = await whatsappMessage('wamid.slack-story-2', 'Where is my parcel? Order #4410');
        expect(ran.sort()).toEqual(['Ask in Slack', 'Queue Handoff', 'Reply With the Answer']);
        expect(result.output('Queue Handoff')[0].json).toMatchObject({ status: 'queued', queue: 'default', to: null });
        expect(posted[0].message).toContain('queue default)');
        expect(whatsapp.seen.map((r) => r.body.text.body)).toEqual([ANSWER]);
      } finally {
        await handoffNode({ resource: 'agent', operation: 'setStatus', agentId: 'anna', status: 'available' });
      }
    });
  });
});
