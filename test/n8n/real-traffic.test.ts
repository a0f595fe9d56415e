/**
 * Real traffic through the Omnithread Trigger's real webhook() in n8n's engine: the deliveries of
 * test/channels/fixtures/real (written from the providers' documentation; see its README), replayed in
 * order, each answered as the provider expects; then the store holds one Joana across Telegram,
 * WhatsApp, SMS and the phone line, edits in place, receipts on our messages, shared and withheld numbers
 * handled (test/support/real-traffic.ts, shared with the Node-RED twin).
 */
import { acquireStore, createOmnithread, resolveSettings } from '../../shared';
import { useRuntimeClock } from '../support/clock';
import { REAL_TRAFFIC, REPLAY_CLOCK, expectRealTrafficRecorded, isTwiml } from '../support/real-traffic';
import { TYPES, buildWorkflow, callWebhook, cleanupAfterAll, node } from '../support/n8n-harness';

cleanupAfterAll();
useRuntimeClock(REPLAY_CLOCK);

const WEBHOOK_ID = 'e0b1c2d3-0000-4000-8000-00000000ea11';
const url = `http://localhost:5678/webhook/${WEBHOOK_ID}/webhook`;
const store = async () => (await acquireStore(resolveSettings(undefined, 'n8n').store)).store;

test('a day of real-format deliveries from every provider, replayed through the n8n trigger', async () => {
  for (const step of REAL_TRAFFIC) {
    if (step.before) await step.before(createOmnithread({ store: await store() }));
    const { delivery } = step;
    const workflow = buildWorkflow({
      nodes: [node('Trigger', TYPES.trigger, { channel: delivery.channel, ...delivery.settings, ...delivery.secrets } as never, { webhookId: WEBHOOK_ID })],
      connections: {},
    });
    const signed = delivery.body(url);
    const call = await callWebhook(workflow, 'Trigger', { ...signed, contentType: signed.contentType });
    const status = call.sent.status ?? 200;
    expect({ step: step.name, status }).toEqual({ step: step.name, status: 200 });
    if (isTwiml(step)) expect({ step: step.name, type: call.sent.contentType }).toEqual({ step: step.name, type: 'text/xml; charset=utf-8' });
    else expect({ step: step.name, answer: call.result.webhookResponse }).toMatchObject({ step: step.name, answer: step.answer });
    // The workflow runs for new customer messages only: never for an edit, a redelivery, our own message or a receipt.
    const recorded = (step.answer as { recorded?: number }).recorded;
    if (recorded !== undefined) expect({ step: step.name, items: call.items.length }).toEqual({ step: step.name, items: recorded });
  }
  await expectRealTrafficRecorded(await store(), 'default');
});
