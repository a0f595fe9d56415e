/**
 * workflows/n8n/messaging-continuity.json, executed as shipped (plus what an admin fills in after import:
 * the WhatsApp trigger's secrets and the Reply node's WhatsApp credential): a signed WhatsApp delivery
 * goes through the trigger's real webhook(), Identity Resolve, Timeline Lookup and Reply, and the reply
 * reaches a local server standing in for the WhatsApp Cloud API (checked as Meta documents the call).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IWorkflowBase } from 'n8n-workflow';
import { metaSignature } from '../../shared';
import { OmnithreadReply } from '../../nodes/n8n/OmnithreadReply/OmnithreadReply.node';
import { ProviderRequest, ProviderServer, startProvider } from '../support/provider-server';
import { PACKAGE, buildWorkflow, callWebhook, cleanupAfterAll, registerNodeType, runWorkflow } from '../support/n8n-harness';

registerNodeType(`${PACKAGE}.omnithreadReply`, new OmnithreadReply());
cleanupAfterAll();

const shipped = JSON.parse(readFileSync(join(__dirname, '..', '..', 'workflows', 'n8n', 'messaging-continuity.json'), 'utf8')) as IWorkflowBase;
// The WhatsApp text fixture in the format Meta documents (see test/channels/fixtures/whatsapp/README.md).
const fixture = JSON.parse(readFileSync(join(__dirname, '..', 'channels', 'fixtures', 'whatsapp', 'text.json'), 'utf8'));
const APP_SECRET = 'template-app-secret';

let provider: ProviderServer;
let base = '';
let received: ProviderRequest[] = [];
beforeAll(async () => {
  provider = await startProvider(() => ({
    status: 200,
    body: { messaging_product: 'whatsapp', contacts: [{ input: '447911123456', wa_id: '447911123456' }], messages: [{ id: 'wamid.template-reply' }] },
  }));
  ({ base, seen: received } = provider);
});
afterAll(() => provider.close());

/** The template as an admin leaves it after import: trigger secrets set, a WhatsApp credential on Reply. */
function configured(): IWorkflowBase {
  const workflow = JSON.parse(JSON.stringify(shipped)) as IWorkflowBase;
  for (const n of workflow.nodes) {
    if (n.name === 'WhatsApp') n.parameters = { ...n.parameters, appSecret: APP_SECRET, verifyToken: 'verify-me' };
    if (n.name === 'Reply') n.credentials = { omnithreadWhatsAppApi: { id: 'wa', name: 'WhatsApp account' } };
  }
  return workflow;
}

describe('workflows/n8n/messaging-continuity.json', () => {
  test('four channel triggers into Identity Resolve -> Timeline Lookup -> Reply, importable as is', () => {
    const triggers = shipped.nodes.filter((n) => n.type === `${PACKAGE}.omnithreadTrigger`);
    expect(triggers.map((n) => n.parameters.channel)).toEqual(['whatsapp', 'telegram', 'messenger', 'sms']);
    expect(new Set(triggers.map((n) => n.webhookId)).size).toBe(4);
    for (const t of triggers) expect(shipped.connections[t.name].main[0]).toEqual([{ node: 'Identity Resolve', type: 'main', index: 0 }]);
    expect(shipped.connections['Identity Resolve'].main[0]![0].node).toBe('Timeline Lookup');
    expect(shipped.connections['Timeline Lookup'].main[0]![0].node).toBe('Reply');
    // No secrets ship with a template: the admin sets them.
    expect(JSON.stringify(shipped)).not.toMatch(/appSecret|accessToken|botToken|authToken/);
  });

  test('a signed WhatsApp message is recognised, its transcript read, and the customer answered on WhatsApp once', async () => {
    const workflow = configured();
    const delivery = JSON.parse(JSON.stringify(fixture));
    // Sent a minute ago, so the 24-hour window is open whatever day the test runs.
    delivery.entry[0].changes[0].value.messages[0].timestamp = String(Math.floor(Date.now() / 1000) - 60);
    const body = JSON.stringify(delivery);
    const call = await callWebhook(buildWorkflow(workflow), 'WhatsApp', { body, headers: { 'x-hub-signature-256': metaSignature(APP_SECRET, body) } });
    expect(call.sent.status).toBeUndefined(); // answered by n8n itself ('onReceived')
    expect(call.items).toHaveLength(1);

    const credentials = { omnithreadWhatsAppApi: { accessToken: 'wa-system-user-token', phoneNumberId: '', apiVersion: 'v21.0', apiBaseUrl: base } };
    const run = await runWorkflow(workflow, 'WhatsApp', call.items, { credentials });
    expect(run.run.status).toBe('success');
    const transcript = run.output('Timeline Lookup')[0].json as { text: string };
    expect(transcript.text).toContain('Customer: Hi, my parcel never arrived');
    const reply = run.output('Reply')[0].json as Record<string, unknown>;
    expect(reply).toMatchObject({ duplicate: false, channel: 'whatsapp', via: 'message', providerMessageId: 'wamid.template-reply' });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      url: '/v21.0/106540352242922/messages',
      headers: { authorization: 'Bearer wa-system-user-token' },
      body: { messaging_product: 'whatsapp', to: '447911123456', type: 'text', text: { body: expect.stringContaining('We have your whole history') } },
    });

    // The provider redelivers: the trigger does not start the workflow again, nothing is sent twice.
    const again = await callWebhook(buildWorkflow(workflow), 'WhatsApp', { body, headers: { 'x-hub-signature-256': metaSignature(APP_SECRET, body) } });
    expect(again.items).toHaveLength(0);
    // And a re-run of the same execution (n8n's "retry") does not send again either.
    const rerun = await runWorkflow(workflow, 'WhatsApp', call.items, { credentials });
    expect(rerun.output('Reply')[0].json).toMatchObject({ duplicate: true });
    expect(received).toHaveLength(1);
  });
});
