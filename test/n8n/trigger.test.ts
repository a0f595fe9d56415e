/**
 * The Omnithread Trigger through its real webhook(), as n8n's WebhookService calls it: verification,
 * parsing, recording, redeliveries and batches, and what reaches the workflow and the HTTP caller.
 */
import { TYPES, buildWorkflow, callWebhook, chain, cleanupAfterAll, node, runWorkflow } from '../support/n8n-harness';
import { Omnithread, OmnithreadError, acquireStore, omnithreadFor, resolveSettings, signGeneric, type GenericMessage } from '../../shared';
import { countRows } from '../support/stores';

cleanupAfterAll();

const SECRET = 'trigger-test-secret';
let sequence = 0;
const nextId = () => `trigger-${Date.now().toString(36)}-${++sequence}`;

function delivery(overrides: Partial<GenericMessage> = {}): GenericMessage {
  return { messageId: nextId(), from: { email: `maya+${sequence}@fastmail.fm`, name: 'Maya' }, text: 'My parcel never arrived', ...overrides };
}

function triggerWorkflow(parameters: Record<string, unknown> = {}) {
  return buildWorkflow({
    nodes: [node('Trigger', TYPES.trigger, { channel: 'generic', ...parameters } as never, { webhookId: 'b7c1f7a2-5d7e-4a8e-9a34-0c1d2e3f4a5b' })],
    connections: {},
  });
}

/** The embedded store the nodes use without a credential (in the test's n8n user folder). */
const embedded = () => resolveSettings(undefined, 'n8n');
const storeRows = async () => countRows((await acquireStore(embedded().store)).store);
const findByEmail = async (email: string) => (await omnithreadFor(embedded())).findContact({ kind: 'email', value: email });

describe('Omnithread Trigger webhook()', () => {
  test('a valid generic delivery is recorded and starts the workflow with one item', async () => {
    const body = delivery({ channel: 'webchat', from: { email: 'Ana@Fastmail.fm', name: 'Ana', handles: [{ kind: 'webchat_visitor', scope: 'shop', value: 'v-1', trust: 'verified' }] } });
    const { result, sent, items } = await callWebhook(triggerWorkflow(), 'Trigger', { body });

    expect(sent.status).toBeUndefined(); // n8n answers, not the node
    expect(result.webhookResponse).toEqual({ received: 1, recorded: 1, duplicates: 0 }); // Respond: Immediately
    expect(items).toHaveLength(1);
    const item = items[0].json as Record<string, any>;
    expect(Object.keys(item).sort()).toEqual(['channel', 'channelSwitch', 'contact', 'contactId', 'conversation', 'event', 'identity', 'message', 'text'].sort());
    expect(item).toMatchObject({
      channel: 'webchat',
      text: body.text,
      message: { channel: 'webchat', providerMessageId: body.messageId, text: body.text, from: { name: 'Ana' } },
      event: { kind: 'message', channel: 'webchat', direction: 'inbound', text: body.text },
      conversation: { status: 'open', channels: ['webchat'] },
      identity: { created: true },
      channelSwitch: null,
    });
    expect(item.contactId).toBe(item.contact.id);
    expect(item.contact.identities.map((i: { kind: string; value: string }) => `${i.kind}:${i.value}`).sort()).toEqual(['email:ana@fastmail.fm', 'webchat_visitor:v-1']);
    expect(item.identity.explanation).toEqual(expect.any(String));
    // The message is what the core recorded: it can be recorded again (idempotently) downstream.
    expect(item.message.from.handles).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'email', value: 'Ana@Fastmail.fm', trust: 'channel' })]));
    expect((await findByEmail('ana@fastmail.fm'))?.id).toBe(item.contactId);
  });

  test('the items start a real workflow run: the trigger passes them on to the next node', async () => {
    const workflowJson = {
      nodes: [
        node('Trigger', TYPES.trigger, { channel: 'generic' }, { webhookId: 'c1c1c1c1-0000-4000-8000-000000000001' }),
        node('Timeline', TYPES.timeline, { operation: 'getEvents' }),
      ],
      connections: chain('Trigger', 'Timeline'),
    };
    const { items } = await callWebhook(buildWorkflow(workflowJson), 'Trigger', { body: delivery({ text: 'hello from the engine' }) });
    const result = await runWorkflow(workflowJson, 'Trigger', items);
    expect(result.output('Trigger')).toHaveLength(1);
    expect(result.output('Timeline').map((i) => i.json.text)).toEqual(['hello from the engine']);
  });

  test('a correctly signed delivery passes; the signature covers the raw bytes', async () => {
    // Unusual spacing: the signature is over the bytes as sent, not over a re-serialised body.
    const raw = `{ "messageId": "${nextId()}",  "from": { "email": "signed@fastmail.fm" }, "text": "signed" }`;
    const { result, items } = await callWebhook(triggerWorkflow({ secret: SECRET }), 'Trigger', {
      body: raw,
      headers: { 'X-Omnithread-Signature': signGeneric(SECRET, raw) },
    });
    expect(result.noWebhookResponse).toBeUndefined();
    expect(items.map((i) => i.json.text)).toEqual(['signed']);

    const custom = delivery();
    const other = await callWebhook(triggerWorkflow({ secret: SECRET, signatureHeader: 'x-hub-signature-256' }), 'Trigger', {
      body: custom,
      headers: { 'x-hub-signature-256': signGeneric(SECRET, JSON.stringify(custom)) },
    });
    expect(other.items).toHaveLength(1);
  });

  test.each([
    ['a wrong signature', { 'x-omnithread-signature': signGeneric('not-the-secret', '{}') }, 'does not match the body'],
    ['no signature', {}, 'missing x-omnithread-signature header'],
  ])('%s gets 401, does not start the workflow and stores nothing', async (_case, headers, reason) => {
    const before = await storeRows();
    const body = delivery({ from: { email: 'intruder@fastmail.fm' } });
    const { result, sent, items } = await callWebhook(triggerWorkflow({ secret: SECRET }), 'Trigger', { body, headers });
    expect(result).toEqual({ noWebhookResponse: true });
    expect(sent.status).toBe(401);
    expect(sent.body).toEqual({ error: expect.stringContaining(reason) });
    expect(items).toHaveLength(0);
    expect(await findByEmail('intruder@fastmail.fm')).toBeUndefined();
    expect(await storeRows()).toEqual(before);
  });

  test('a malformed body gets 400 naming the problem, and stores nothing', async () => {
    const before = await storeRows();
    const missingId = await callWebhook(triggerWorkflow(), 'Trigger', { body: { from: { email: 'noid@fastmail.fm' }, text: 'no id' } });
    expect(missingId.result).toEqual({ noWebhookResponse: true });
    expect(missingId.sent.status).toBe(400);
    expect(missingId.sent.body).toMatchObject({ error: expect.stringContaining('messageId'), field: 'messageId' });

    const notJson = await callWebhook(triggerWorkflow(), 'Trigger', { body: '{"messageId": "x", ' });
    expect(notJson.sent.status).toBe(400);
    expect(notJson.sent.body).toMatchObject({ error: expect.stringContaining('not valid JSON') });

    const noSender = await callWebhook(triggerWorkflow(), 'Trigger', { body: { messageId: nextId(), from: {}, text: 'who?' } });
    expect(noSender.sent.status).toBe(400);
    expect(noSender.sent.body).toMatchObject({ error: expect.stringContaining('from') });

    // One bad message in a batch: nothing of the batch is stored.
    const batch = await callWebhook(triggerWorkflow(), 'Trigger', { body: [delivery({ from: { email: 'batch-ok@fastmail.fm' } }), { messageId: '', from: { email: 'x@fastmail.fm' } }] });
    expect(batch.sent.status).toBe(400);
    expect(batch.sent.body).toMatchObject({ error: expect.stringContaining('messageId') });
    expect(await findByEmail('batch-ok@fastmail.fm')).toBeUndefined();
    expect(await storeRows()).toEqual(before);
  });

  test('a redelivery does not start the workflow and is acknowledged', async () => {
    const body = delivery();
    const first = await callWebhook(triggerWorkflow(), 'Trigger', { body });
    expect(first.items).toHaveLength(1);
    const before = await storeRows();
    const again = await callWebhook(triggerWorkflow(), 'Trigger', { body });
    expect(again.result).toEqual({ webhookResponse: { received: 1, recorded: 0, duplicates: 1 } });
    expect(again.result.workflowData).toBeUndefined();
    expect(again.sent.status).toBeUndefined();
    expect(await storeRows()).toEqual(before);
  });

  test('a batch starts one run with one item per newly recorded message; redelivered ones are left out', async () => {
    const seen = delivery({ from: { email: 'batch@fastmail.fm' }, text: 'first' });
    await callWebhook(triggerWorkflow(), 'Trigger', { body: seen });
    const fresh = [delivery({ from: { email: 'batch@fastmail.fm' }, text: 'second' }), delivery({ from: { email: 'batch@fastmail.fm', phone: '+447911123456' }, channel: 'sms', text: 'third' })];
    const { result, items } = await callWebhook(triggerWorkflow(), 'Trigger', { body: { messages: [seen, ...fresh] } });
    expect(result.webhookResponse).toEqual({ received: 3, recorded: 2, duplicates: 1 });
    expect(items.map((i) => i.json.text)).toEqual(['second', 'third']);
    expect(new Set(items.map((i) => i.json.contactId)).size).toBe(1);
    expect(items[1].json.channelSwitch).toEqual({ from: 'generic', to: 'sms' });

    const arrayBody = await callWebhook(triggerWorkflow(), 'Trigger', { body: [delivery(), delivery()] });
    expect(arrayBody.items).toHaveLength(2);
  });

  test('Respond "When Last Node Finishes" leaves the answer to n8n (no immediate acknowledgement)', async () => {
    const workflow = triggerWorkflow({ responseMode: 'lastNode' });
    const { result, items } = await callWebhook(workflow, 'Trigger', { body: delivery() });
    expect(items).toHaveLength(1);
    expect(result.webhookResponse).toBeUndefined();
    // The webhook description resolves the mode from the parameter, as n8n's Webhook node does.
    const description = workflow.nodeTypes.getByNameAndVersion(TYPES.trigger).description.webhooks!.find((w) => w.name === 'default')!;
    expect(description.responseMode).toBe('={{$parameter["responseMode"]}}');
    const triggerNode = workflow.getNode('Trigger')!;
    expect(workflow.expression.getSimpleParameterValue(triggerNode, description.responseMode!, 'webhook', {})).toBe('lastNode');
    expect(workflow.expression.getSimpleParameterValue(triggerNode, description.responseData!, 'webhook', {})).toBe('firstEntryJson');
  });

  test('a store that cannot be opened gets 503 (the provider retries) and n8n does not crash', async () => {
    const workflow = buildWorkflow({
      nodes: [node('Trigger', TYPES.trigger, { channel: 'generic' }, { credentials: { omnithreadStoreApi: { id: '1', name: 'Broken store' } } })],
      connections: {},
    });
    const { result, sent } = await callWebhook(workflow, 'Trigger', { body: delivery() }, {
      credentials: { omnithreadStoreApi: { storeType: 'postgres', postgresUrl: 'postgres://nobody:wrong@127.0.0.1:1/none' } },
    });
    expect(result).toEqual({ noWebhookResponse: true });
    expect(sent.status).toBe(503);
    expect(sent.body).toEqual({ error: expect.stringMatching(/^Not recorded, please retry: .*PostgreSQL/) });
  });

  test('a store failure part-way through a batch: 503 so the provider retries, and the messages already recorded still start the workflow', async () => {
    const real = Omnithread.prototype.ingest;
    const ingest = jest.spyOn(Omnithread.prototype, 'ingest');
    let calls = 0;
    ingest.mockImplementation(async function (this: Omnithread, message) {
      if (++calls === 2) throw new OmnithreadError('STORE_UNAVAILABLE', 'disk full');
      return real.call(this, message);
    });
    const batch = [delivery({ from: { email: 'partial@fastmail.fm' }, text: 'one' }), delivery({ from: { email: 'partial@fastmail.fm' }, text: 'two' })];
    try {
      const { result, sent, items } = await callWebhook(triggerWorkflow(), 'Trigger', { body: batch });
      expect(sent).toMatchObject({ status: 503, body: { error: expect.stringContaining('disk full') } });
      expect(result.noWebhookResponse).toBe(true);
      expect(items.map((i) => i.json.text)).toEqual(['one']);
    } finally {
      ingest.mockRestore();
    }
    // The provider's retry records the rest and runs the workflow for it only.
    const retry = await callWebhook(triggerWorkflow(), 'Trigger', { body: batch });
    expect(retry.result.webhookResponse).toEqual({ received: 2, recorded: 1, duplicates: 1 });
    expect(retry.items.map((i) => i.json.text)).toEqual(['two']);
  });

  test('an invalid channel setting gets 500 naming it (503 means only an unreachable store), not a crash', async () => {
    const { sent } = await callWebhook(triggerWorkflow({ channelName: 'Not A Channel!' }), 'Trigger', { body: delivery() });
    expect(sent.status).toBe(500);
    expect(sent.body).toEqual({ error: expect.stringMatching(/^Not recorded: this trigger's settings are invalid: .*channelName/) });
  });

  test('webhook lifecycle: nothing to register for the generic channel', async () => {
    const hooks = new (await import('../../nodes/n8n/OmnithreadTrigger/OmnithreadTrigger.node')).OmnithreadTrigger().webhookMethods.default;
    const context = { getNodeParameter: () => 'generic' } as never;
    await expect(hooks.checkExists.call(context)).resolves.toBe(true);
    await expect(hooks.create.call(context)).resolves.toBe(true);
    await expect(hooks.delete.call(context)).resolves.toBe(true);
  });
});
