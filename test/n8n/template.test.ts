/**
 * workflows/n8n/continuity-basics.json, executed as shipped: the story of the product (the same person on
 * web chat, then email, then the phone) goes through the trigger's real webhook() and n8n's engine, and
 * the webhook's answer (the last node's first item) is one contact with one timeline.
 */
import { PACKAGE, TYPES, buildWorkflow, callWebhook, cleanupAfterAll, runWorkflow } from '../support/n8n-harness';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IWorkflowBase } from 'n8n-workflow';
import { story } from '../../test-e2e/lib';

cleanupAfterAll();

const template = JSON.parse(readFileSync(join(__dirname, '..', '..', 'workflows', 'n8n', 'continuity-basics.json'), 'utf8')) as IWorkflowBase;
const trigger = template.nodes.find((n) => n.type === TYPES.trigger)!;

/** What n8n answers in "When Last Node Finishes" mode with "First Entry JSON": the last node's first item. */
function lastNodeResponse(result: Awaited<ReturnType<typeof runWorkflow>>) {
  const last = result.run.data.resultData.lastNodeExecuted!;
  return { last, body: result.output(last)[0]?.json as Record<string, any> };
}

describe('workflows/n8n/continuity-basics.json', () => {
  test('is an importable n8n workflow of our nodes: fixed ids, webhook answered by the last node, no credential', () => {
    expect(template.id).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(trigger).toMatchObject({ webhookId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/), parameters: { channel: 'generic', responseMode: 'lastNode' } });
    const ours = template.nodes.filter((n) => n.type.startsWith(`${PACKAGE}.`));
    expect(ours.map((n) => n.type)).toEqual([TYPES.trigger, TYPES.identity, TYPES.timeline]);
    expect(ours.every((n) => n.credentials === undefined)).toBe(true);
    expect(new Set(template.nodes.map((n) => n.id)).size).toBe(template.nodes.length);
  });

  test('the story: three channels, one person, one chronological timeline as the webhook response', async () => {
    const workflow = buildWorkflow(template);
    const responses: Record<string, any>[] = [];
    for (const delivery of story('n8n-template')) {
      const call = await callWebhook(workflow, trigger.name, { body: delivery });
      expect(call.sent.status).toBeUndefined();
      expect(call.result.webhookResponse).toBeUndefined(); // n8n answers with the last node's output
      expect(call.items).toHaveLength(1);
      const result = await runWorkflow(template, trigger.name, call.items);
      expect(result.run.status).toBe('success');
      const { last, body } = lastNodeResponse(result);
      expect(last).toBe('Timeline Lookup');
      // Identity Resolve recognised the sender of every message as the contact the trigger saw.
      expect((result.output('Identity Resolve')[0].json.contact as { id: string }).id).toBe(call.items[0].json.contactId);
      responses.push(body);
    }

    const final = responses[2];
    expect(final.contact.name).toBe('Maya Lindqvist');
    expect(final.contact.identities.map((i: { kind: string; value: string }) => `${i.kind}:${i.value}`).sort()).toEqual([
      'email:maya.lindqvist@fastmail.fm',
      'phone:+447911123456',
      'webchat_visitor:visitor-n8n-template',
    ]);
    const messages = final.events.filter((e: { kind: string }) => e.kind === 'message');
    expect(messages.map((e: { channel: string; text: string }) => [e.channel, e.text])).toEqual([
      ['webchat', 'Hi, my parcel #5521 never arrived.'],
      ['email', 'Following up on my chat: still no parcel.'],
      ['voice', 'Phone call: customer asks for a refund for #5521.'],
    ]);
    expect(new Set(messages.map((e: { contactId: string }) => e.contactId))).toEqual(new Set([final.contact.id]));
    const times = final.events.map((e: { occurredAt: string }) => Date.parse(e.occurredAt));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(final.events.filter((e: { kind: string }) => e.kind === 'channel_switch').map((e: { data: object }) => e.data)).toEqual([
      { from: 'webchat', to: 'email' },
      { from: 'email', to: 'voice' },
    ]);
    expect(final.conversations).toEqual([expect.objectContaining({ status: 'open', channels: ['webchat', 'email', 'voice'], messageCount: 3 })]);
    // Every answer was about the same person; the first already had the first message.
    expect(new Set(responses.map((r) => r.contact.id)).size).toBe(1);
    expect(responses[0].events.filter((e: { kind: string }) => e.kind === 'message')).toHaveLength(1);
  });

  test('a redelivered story message is acknowledged without running the workflow again', async () => {
    const workflow = buildWorkflow(template);
    const [first] = story('n8n-redelivery');
    expect((await callWebhook(workflow, trigger.name, { body: first })).items).toHaveLength(1);
    const again = await callWebhook(workflow, trigger.name, { body: first });
    expect(again.result).toEqual({ webhookResponse: { received: 1, recorded: 0, duplicates: 1 } });
  });
});
