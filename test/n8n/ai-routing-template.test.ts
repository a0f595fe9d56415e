/**
 * workflows/n8n/ai-routing.json, executed from its file (plus what an admin sets after import: the
 * Notify Agent URL). The roster comes from a Handoff node's Import Roster; messages arrive through the
 * trigger's real webhook(); AI Route sends each down one branch: the AI agent's acknowledgement, a
 * handoff to the human (whose packet is POSTed by n8n's HTTP Request node to a local stand-in), a queued
 * handoff, or the earlier answer replayed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INodeExecutionData, IWorkflowBase } from 'n8n-workflow';
import { PACKAGE, TYPES, buildWorkflow, callWebhook, chain, cleanupAfterAll, node, runWorkflow } from '../support/n8n-harness';
import { startProvider, type ProviderServer } from '../support/provider-server';

cleanupAfterAll();

const shipped = JSON.parse(readFileSync(join(__dirname, '..', '..', 'workflows', 'n8n', 'ai-routing.json'), 'utf8')) as IWorkflowBase;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let hook: ProviderServer;
beforeAll(async () => {
  hook = await startProvider(() => ({ status: 200, body: { ok: true } }));
});
afterAll(() => hook.close());

/** The template as an admin leaves it after import: the agents' webhook URL set. */
function configured(): IWorkflowBase {
  const workflow = JSON.parse(JSON.stringify(shipped)) as IWorkflowBase;
  workflow.nodes.find((n) => n.name === 'Notify Agent')!.parameters.url = `${hook.base}/handoff`;
  return workflow;
}

async function handoffNode(parameters: Record<string, unknown>, input: INodeExecutionData[] = [{ json: {} }]) {
  const result = await runWorkflow({ nodes: [node('Input', TYPES.input), node('Handoff', TYPES.handoff, parameters as never)], connections: chain('Input', 'Handoff') }, 'Input', input);
  return result.output('Handoff').map((i) => i.json as Record<string, any>);
}

/** One message through the template: the trigger's webhook, then the workflow; which nodes ran. */
async function send(template: IWorkflowBase, body: Record<string, unknown>) {
  const workflow = buildWorkflow(template);
  const call = await callWebhook(workflow, 'Omnithread Trigger', { body });
  expect(call.items).toHaveLength(1);
  const result = await runWorkflow(template, 'Omnithread Trigger', call.items);
  expect(result.run.status).toBe('success');
  const ran = Object.keys(result.run.data.resultData.runData).filter((name) => !['Omnithread Trigger', 'Identity Resolve', 'Timeline Lookup', 'AI Route'].includes(name));
  return { result, ran, item: call.items[0].json as Record<string, any> };
}

const webchat = (id: string, visitor: string, text: string, email: string) => ({
  messageId: id,
  channel: 'webchat',
  account: 'shop',
  from: { email, handles: [{ kind: 'webchat_visitor', scope: 'shop', value: visitor, trust: 'channel' }] },
  replyTo: { siteId: 'shop', visitorId: visitor },
  text,
});

describe('workflows/n8n/ai-routing.json', () => {
  test('Trigger -> Identity Resolve -> Timeline Lookup (transcript) -> AI Route, one branch per output; importable as is', () => {
    expect(shipped.id).toBe('OmniAiRouting001');
    const ours = shipped.nodes.filter((n) => n.type.startsWith(`${PACKAGE}.`));
    expect(ours.map((n) => [n.name, n.type])).toEqual([
      ['Omnithread Trigger', TYPES.trigger],
      ['Identity Resolve', TYPES.identity],
      ['Timeline Lookup', TYPES.timeline],
      ['AI Route', TYPES.aiRoute],
      ['AI Agent Reply', TYPES.reply],
      ['Hand Off to Agent', TYPES.handoff],
      ['Queue Handoff', TYPES.handoff],
      ['Answer From History', TYPES.reply],
    ]);
    expect(shipped.nodes.find((n) => n.name === 'Omnithread Trigger')).toMatchObject({ parameters: { channel: 'generic' }, webhookId: expect.stringMatching(UUID) });
    expect(shipped.nodes.find((n) => n.name === 'Timeline Lookup')!.parameters).toMatchObject({ operation: 'getTranscript' });
    expect(shipped.nodes.find((n) => n.type === 'n8n-nodes-base.stickyNote')).toBeDefined();
    expect(shipped.nodes.find((n) => n.name === 'Notify Agent')).toMatchObject({ type: 'n8n-nodes-base.httpRequest', parameters: { method: 'POST', url: 'https://example.com/handoff' } });
    expect(shipped.connections['Timeline Lookup'].main[0]![0].node).toBe('AI Route');
    expect(shipped.connections['AI Route'].main.map((targets) => targets!.map((t) => t.node))).toEqual([['AI Agent Reply'], ['Hand Off to Agent'], ['Queue Handoff'], ['Answer From History']]);
    expect(shipped.connections['Hand Off to Agent'].main[0]![0].node).toBe('Notify Agent');
    expect(shipped.nodes.find((n) => n.name === 'Answer From History')!.parameters.text).toBe('={{ $json.answer.text }}');
    expect(shipped.nodes.find((n) => n.name === 'AI Agent Reply')!.parameters).toMatchObject({ author: { type: 'ai' } });
    expect(shipped.nodes.find((n) => n.name === 'Hand Off to Agent')!.parameters.toAgentId).toBe('={{ $json.target.agentId }}');
    expect(new Set(shipped.nodes.map((n) => n.id)).size).toBe(shipped.nodes.length);
    expect(ours.every((n) => n.credentials === undefined)).toBe(true);
  });

  describe('the story', () => {
    beforeAll(async () => {
      const roster = [
        { id: 'anna', kind: 'human', skills: { billing: 4, account: 3 }, languages: ['en'] },
        { id: 'assistant', kind: 'ai', skills: { billing: 5 }, languages: ['en'], capacity: 1000, channelCosts: { webchat: 1, email: 1, whatsapp: 1 }, aiConfidenceThreshold: 0.1 },
      ];
      expect((await handoffNode({ resource: 'agent', operation: 'importRoster', roster: JSON.stringify(roster) })).map((a) => a.id)).toEqual(['anna', 'assistant']);
    });

    test('a billing question: the AI branch answers (author ai) on the same channel', async () => {
      const { ran, result } = await send(configured(), webchat('t-ai-1', 'v-ivy', 'A question about my invoice from March', 'ivy.moss@fastmail.fm'));
      expect(ran).toEqual(['AI Agent Reply']);
      expect(result.output('AI Route')[0].json).toMatchObject({ target: { kind: 'ai', agentId: 'assistant' } });
      expect(result.output('AI Agent Reply')[0].json).toMatchObject({ duplicate: false, channel: 'webchat', event: { text: 'Thanks for your message! Our assistant is on it and will answer right here.' } });
    });

    test('"talk to a human": handed off to the agent and the packet POSTed to the agents\' webhook', async () => {
      hook.seen.length = 0;
      const { ran, result, item } = await send(configured(), webchat('t-h-1', 'v-jon', 'I want to talk to a human about my refund', 'jon.pike@fastmail.fm'));
      expect(ran.sort()).toEqual(['Hand Off to Agent', 'Notify Agent']);
      const packet = result.output('Hand Off to Agent')[0].json as Record<string, any>;
      expect(packet).toMatchObject({ to: 'anna', status: 'offered', conversationId: item.conversation.id, contact: { id: item.contactId }, intent: 'billing' });
      expect(packet.transcript).toContain('I want to talk to a human about my refund');
      expect(hook.seen).toHaveLength(1);
      expect(hook.seen[0]).toMatchObject({ method: 'POST', url: '/handoff', headers: expect.objectContaining({ 'content-type': expect.stringMatching(/application\/json/) }) });
      expect(hook.seen[0].body).toMatchObject({ handoffId: packet.handoffId, to: 'anna', transcript: packet.transcript, channelWindows: [expect.objectContaining({ channel: 'webchat', open: true })] });
    });

    test('the same question again, answered before: the earlier answer is sent', async () => {
      const first = await send(configured(), webchat('t-a-1', 'v-kai', 'How do I change my password?', 'kai.lund@fastmail.fm'));
      expect(first.ran.sort()).toEqual(['Hand Off to Agent', 'Notify Agent']); // "account": only anna has the skill
      // Anna answers in her tool; Omnithread records it through a Reply node.
      await runWorkflow(
        {
          nodes: [node('Input', TYPES.input), node('Reply', TYPES.reply, { text: 'Open Settings > Security and choose Change password.', author: { name: 'Anna', type: 'human' } })],
          connections: chain('Input', 'Reply'),
        },
        'Input',
        [{ json: first.item }],
      );
      const again = await send(configured(), webchat('t-a-2', 'v-kai', 'Hi, how can I change my password please?', 'kai.lund@fastmail.fm'));
      expect(again.ran).toEqual(['Answer From History']);
      expect(again.result.output('Answer From History')[0].json).toMatchObject({ channel: 'webchat', event: { text: 'Open Settings > Security and choose Change password.' } });
    });

    test('nobody available: a queued handoff', async () => {
      const everyone = [{ json: { id: 'anna' } }, { json: { id: 'assistant' } }];
      await handoffNode({ resource: 'agent', operation: 'setStatus', agentId: '={{ $json.id }}', status: 'offline' }, everyone);
      try {
        hook.seen.length = 0;
        const { ran, result } = await send(configured(), webchat('t-q-1', 'v-lou', 'Where is my parcel? Order #4410', 'lou.vega@fastmail.fm'));
        expect(ran).toEqual(['Queue Handoff']);
        expect(result.output('Queue Handoff')[0].json).toMatchObject({ status: 'queued', queue: 'default', to: null, intent: 'delivery' });
        expect(hook.seen).toHaveLength(0);
      } finally {
        await handoffNode({ resource: 'agent', operation: 'setStatus', agentId: '={{ $json.id }}', status: 'available' }, everyone);
      }
    });
  });
});
