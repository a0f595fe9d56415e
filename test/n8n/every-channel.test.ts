/**
 * Every channel through the Omnithread Trigger's real webhook() in n8n's engine: a signed delivery in the
 * provider's documented format starts the workflow with a recognised contact; the same delivery with a
 * forged signature is refused and stores nothing.
 */
import { acquireStore, resolveSettings } from '../../shared';
import { CHANNEL_DELIVERIES, forged } from '../support/channel-deliveries';
import { TYPES, buildWorkflow, callWebhook, cleanupAfterAll, node } from '../support/n8n-harness';
import { countRows } from '../support/stores';

cleanupAfterAll();

const WEBHOOK_ID = 'e0b1c2d3-0000-4000-8000-0000000e7e11';
const storeRows = async () => countRows((await acquireStore(resolveSettings(undefined, 'n8n').store)).store);

describe.each(CHANNEL_DELIVERIES)('$channel through the n8n trigger', (delivery) => {
  const trigger = () =>
    buildWorkflow({
      nodes: [node('Trigger', TYPES.trigger, { channel: delivery.channel, ...delivery.settings, ...delivery.secrets } as never, { webhookId: WEBHOOK_ID })],
      connections: {},
    });
  const url = `http://localhost:5678/webhook/${WEBHOOK_ID}/webhook`;

  test('a forged signature is refused and stores nothing', async () => {
    const before = await storeRows();
    const signed = delivery.body(url);
    const call = await callWebhook(trigger(), 'Trigger', { ...forged(signed), contentType: signed.contentType });
    expect(call.sent.status).toBe(delivery.refusedWith);
    expect(call.items).toHaveLength(0);
    expect(await storeRows()).toEqual(before);
  });

  test('a signed delivery starts the workflow with the message and its recognised sender', async () => {
    const signed = delivery.body(url);
    const call = await callWebhook(trigger(), 'Trigger', { ...signed, contentType: signed.contentType });
    expect(call.items.length).toBeGreaterThanOrEqual(1);
    const item = call.items[0].json as { channel: string; contact: { identities: { kind: string; scope: string | null; value: string }[] } };
    expect(item.channel).toBe(delivery.channel);
    const handles = item.contact.identities.map((i) => `${i.kind}:${i.scope ? `${i.scope}:` : ''}${i.value}`);
    expect(handles).toContain(delivery.expectHandle);
    // The provider delivers again: recognised, the workflow does not start twice.
    expect((await callWebhook(trigger(), 'Trigger', { ...signed, contentType: signed.contentType })).items).toHaveLength(0);
  });
});
