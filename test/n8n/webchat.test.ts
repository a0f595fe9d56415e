/**
 * The web chat through the Omnithread Trigger's real webhook() (n8n-core's WebhookContext) and the Reply
 * node in n8n's WorkflowExecute: the trigger's URL serves the demo page and the widget script, takes the
 * visitor's messages (identity verified by HMAC user hash), and serves the visitor's reply feed, where the
 * Reply node's answer (sent with no credential) shows up. CORS: allowed origins only.
 */
import type { INode, IWorkflowBase } from 'n8n-workflow';
import { webchatUserHash } from '../../shared';
import { TYPES, buildWorkflow, callWebhook, chain, cleanupAfterAll, node, runWorkflow } from '../support/n8n-harness';

cleanupAfterAll();

const SECRET = 'chat-identity-secret';
const WEBHOOK_ID = '5b0c7a8e-2f41-4c9d-9e3a-6d1f0b2c3a01';
const ENDPOINT = `http://localhost:5678/webhook/${WEBHOOK_ID}/webhook`;
const ORIGIN = 'https://shop.example';

const chat: INode = node(
  'Web Chat',
  TYPES.trigger,
  { channel: 'webchat', siteId: 'shop', identitySecret: SECRET, allowedOrigins: ORIGIN, widgetTitle: 'Shop help', responseMode: 'onReceived' },
  { webhookId: WEBHOOK_ID },
);
const reply: INode = node('Reply', TYPES.reply, { channel: 'same', text: 'Hi Maya, an agent is on it.', replyKey: 'ack', author: { name: 'Shop bot', type: 'ai' } });
const flow: Pick<IWorkflowBase, 'nodes' | 'connections'> = { nodes: [chat, reply], connections: chain('Web Chat', 'Reply') };
const workflow = buildWorkflow(flow);

const visitorMessage = (visitorId: string, messageId: string, text: string, user?: Record<string, string>) => ({ siteId: 'shop', visitorId, messageId, text, ...(user ? { user } : {}) });

describe('web chat through the Omnithread Trigger webhook', () => {
  test('GET with no query serves the demo page embedding the widget from this webhook URL', async () => {
    const call = await callWebhook(workflow, 'Web Chat', { method: 'GET', body: '' });
    expect(call.sent).toMatchObject({ status: 200, contentType: 'text/html; charset=utf-8' });
    expect(call.sent.body).toEqual(expect.stringContaining(`<script src="${ENDPOINT}?asset=widget.js"`));
    expect(call.items).toEqual([]);
  });

  test('GET ?asset=widget.js serves the widget script, calling back this endpoint', async () => {
    const call = await callWebhook(workflow, 'Web Chat', { method: 'GET', body: '', query: { asset: 'widget.js' } });
    expect(call.sent).toMatchObject({ status: 200, contentType: 'text/javascript; charset=utf-8' });
    expect(call.sent.body).toEqual(expect.stringContaining(JSON.stringify(ENDPOINT).slice(1, -1)));
    expect(call.sent.body).toEqual(expect.stringContaining('Shop help'));
  });

  test('a verified visitor message starts the workflow; the Reply node (no credential) answers into the feed', async () => {
    const user = { email: 'maya.chat@fastmail.fm', name: 'Maya', userHash: webchatUserHash(SECRET, 'maya.chat@fastmail.fm') };
    const call = await callWebhook(workflow, 'Web Chat', { body: visitorMessage('v-maya', 'm-1', 'Where is my parcel?', user), headers: { origin: ORIGIN } });
    expect(call.result.webhookResponse).toEqual({ received: 1, recorded: 1, duplicates: 0, identity: 'verified', messageId: 'm-1' });
    expect(call.items).toHaveLength(1);
    const item = call.items[0].json as Record<string, any>;
    expect(item).toMatchObject({ channel: 'webchat', text: 'Where is my parcel?', message: { replyTo: { visitorId: 'v-maya', siteId: 'shop' } } });
    expect(item.contact.identities.map((i: { kind: string; trust: string }) => `${i.kind}:${i.trust}`).sort()).toEqual(['email:verified', 'webchat_visitor:channel']);

    const run = await runWorkflow(flow, 'Web Chat', call.items);
    expect(run.run.status).toBe('success');
    expect(run.output('Reply')[0].json).toMatchObject({ duplicate: false, channel: 'webchat', via: 'message', providerMessageId: expect.stringMatching(/^webchat:/) });

    const feed = await callWebhook(workflow, 'Web Chat', { method: 'GET', body: '', query: { visitorId: 'v-maya', siteId: 'shop' }, headers: { origin: ORIGIN } });
    expect(feed.sent).toMatchObject({ status: 200, contentType: 'application/json; charset=utf-8' });
    const body = feed.sent.body as { messages: { direction: string; text: string; messageId?: string; author?: object }[]; cursor: string; more: boolean };
    expect(body.messages.map((m) => [m.direction, m.text])).toEqual([
      ['inbound', 'Where is my parcel?'],
      ['outbound', 'Hi Maya, an agent is on it.'],
    ]);
    expect(body.messages[0].messageId).toBe('m-1');
    expect(body.messages[1].author).toEqual({ name: 'Shop bot', type: 'ai' });
    // An allowed origin may read the answer (CORS); the widget polls on from the cursor.
    expect(feed.sent.headers).toMatchObject({ 'Access-Control-Allow-Origin': ORIGIN, Vary: 'Origin' });
    const next = await callWebhook(workflow, 'Web Chat', { method: 'GET', body: '', query: { visitorId: 'v-maya', siteId: 'shop', after: body.cursor } });
    expect(next.sent.body).toEqual({ messages: [], cursor: body.cursor, more: false });

    // The workflow run again (n8n's retry) answers nothing new.
    const rerun = await runWorkflow(flow, 'Web Chat', call.items);
    expect(rerun.output('Reply')[0].json).toMatchObject({ duplicate: true });
    const after = await callWebhook(workflow, 'Web Chat', { method: 'GET', body: '', query: { visitorId: 'v-maya', siteId: 'shop' } });
    expect((after.sent.body as { messages: unknown[] }).messages).toHaveLength(2);
  });

  test('a forged user hash is answered "unverified": the message is kept, the email only asserted', async () => {
    const user = { email: 'victim@fastmail.fm', userHash: webchatUserHash('not-the-secret', 'victim@fastmail.fm') };
    const call = await callWebhook(workflow, 'Web Chat', { body: visitorMessage('v-forger', 'm-1', 'Give me their orders', user), headers: { origin: ORIGIN } });
    expect(call.result.webhookResponse).toEqual({
      received: 1,
      recorded: 1,
      duplicates: 0,
      identity: 'unverified',
      identityReason: 'userHash does not match the email',
      messageId: 'm-1',
    });
    expect(call.items).toHaveLength(1);
    const item = call.items[0].json as Record<string, any>;
    expect(item.text).toBe('Give me their orders');
    expect(item.message.from.handles).toEqual(expect.arrayContaining([{ kind: 'email', value: 'victim@fastmail.fm', trust: 'asserted' }]));
  });

  test('a disallowed origin gets 403 and nothing is stored; an unknown visitor has an empty feed', async () => {
    const call = await callWebhook(workflow, 'Web Chat', { body: visitorMessage('v-evil', 'm-1', 'hello from elsewhere'), headers: { origin: 'https://evil.example' } });
    expect(call.sent.status).toBe(403);
    expect(call.sent.body).toEqual({ error: 'Signature check failed: origin https://evil.example is not allowed' });
    expect(call.sent.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
    expect(call.items).toEqual([]);
    const feed = await callWebhook(workflow, 'Web Chat', { method: 'GET', body: '', query: { visitorId: 'v-evil', siteId: 'shop' }, headers: { origin: 'https://evil.example' } });
    expect(feed.sent.body).toEqual({ messages: [], cursor: null, more: false });
    expect(feed.sent.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
  });
});
