/**
 * The Omnithread Desk in a real browser, served by each engine with the Omnithread nodes running for real:
 * Debian's headless Chromium (playwright-core) against
 * - Node-RED 5 (node-red-node-test-helper): a flow with omnithread-store (SQLite in a temp dir), omnithread-in
 *   for web chat, email (the inbound-mail webhook, raw MIME) and WhatsApp (Meta-signed deliveries), a WhatsApp
 *   omnithread-channel account pointing at a local Cloud API stand-in, and omnithread-desk with an admin;
 * - n8n (n8n-core): the same channels through the Omnithread Trigger's real webhook(), and the Omnithread Desk
 *   node's webhook() hosted on a small express server, as n8n's webhook service calls it.
 *
 * The story, the same in both: Maya chats signed in (verified email), emails from that address with her phone
 * in the signature (asserted), then writes on WhatsApp from that phone: a separate contact and a merge
 * suggestion (the phone matches only at asserted trust). The WhatsApp conversation is handed off to a queue.
 * In the browser the admin signs in by password and issues a sign-in link for agent Ben from the Agents panel,
 * accepts the merge suggestion (one person, one timeline: web chat + email + WhatsApp); Ben signs in by the
 * link, takes the handoff, replies on WhatsApp (the Cloud API stand-in gets exactly one send), adds a note and
 * resolves; the admin unmerges once (the WhatsApp contact is its own person again) and reads the metrics.
 *
 * Skipped when /usr/bin/chromium is missing, except under CI (process.env.CI), where it fails.
 */
import { mkdirSync, copyFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { INode } from 'n8n-workflow';
import { handOff, metaSignature, omnithreadFor, resolveSettings, webchatUserHash } from '../../shared';
import type { Omnithread } from '../../shared';
import { useRuntimeClock } from '../support/clock';
import { FlowNode, helper, loadFlow, tempDir, unloadFlow } from '../support/node-red-helper';
import { TYPES, buildWorkflow, callWebhook, cleanupAfterAll, node, webhookHandler } from '../support/n8n-harness';
import { ProviderServer, startProvider } from '../support/provider-server';
import { browserSuite, chromiumAvailable, launchChromium } from '../support/chromium';

const ROOT = join(__dirname, '..', '..');
const OUT = join(ROOT, 'test-output');

const ADMIN = { id: 'ada', name: 'Ada Admin', password: 'desk-admin-password-1' };
const AGENT = { id: 'ben', name: 'Ben Agent' };
const MAYA = { email: 'maya.lindqvist@fastmail.fm', name: 'Maya Lindqvist', phone: '+447911123456', waId: '447911123456' };
const SITE = { siteId: 'shop', identitySecret: 'shop-identity-secret', origin: 'https://shop.example' };
const WA = { appSecret: 'wa-app-secret', verifyToken: 'wa-verify', accessToken: 'EAAG-desk-test-token', phoneNumberId: '106540352242922', wabaId: '102290129340398' };
const MAILBOX = 'support@shop.example';
const REPLY_TEXT = 'Hi Maya, Ben here: your parcel left our warehouse today.';
const NOTE_TEXT = 'Courier confirmed the pickup; check again Friday.';

cleanupAfterAll();

// ---------------------------------------------------------------------------------------------
// The customer's deliveries, in each provider's format
// ---------------------------------------------------------------------------------------------

const webchatBody = (messageId: string, text: string) => ({
  siteId: SITE.siteId,
  visitorId: 'v-0123456789abcdef0123456789abcdef',
  messageId,
  text,
  user: { email: MAYA.email, name: MAYA.name, userHash: webchatUserHash(SITE.identitySecret, MAYA.email) },
});

/** Raw MIME from Maya's address; her phone number is in the signature (an asserted phone handle). */
const emailMime = (at: number) =>
  [
    `From: ${MAYA.name} <${MAYA.email}>`,
    `To: ${MAILBOX}`,
    'Subject: Order 5521 has not arrived',
    `Message-ID: <order-5521-${at}@fastmail.fm>`,
    `Date: ${new Date(at).toUTCString()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello, I asked on your chat already: order 5521 still has not arrived. Can you check with the courier?',
    '',
    '-- ',
    MAYA.name,
    `Tel: +44 7911 123456`,
    '',
  ].join('\r\n');

/** A WhatsApp Cloud API `messages` delivery, as Meta posts it, and its X-Hub-Signature-256. */
function whatsappDelivery(at: number, text: string): { body: string; signature: string } {
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: WA.wabaId,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: WA.phoneNumberId },
              contacts: [{ profile: { name: MAYA.name }, wa_id: MAYA.waId }],
              messages: [{ from: MAYA.waId, id: `wamid.desk-${at}`, timestamp: String(Math.floor(at / 1000)), type: 'text', text: { body: text } }],
            },
          },
        ],
      },
    ],
  });
  return { body, signature: metaSignature(WA.appSecret, body) };
}

/** The WhatsApp Cloud API stand-in: every send is recorded and answered with a wamid. */
const startWhatsApp = () =>
  startProvider((request) => {
    const ok = request.method === 'POST' && request.url === `/v21.0/${WA.phoneNumberId}/messages` && request.headers.authorization === `Bearer ${WA.accessToken}`;
    return ok
      ? { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: request.body.to, wa_id: request.body.to }], messages: [{ id: 'wamid.agent-reply-1' }] } }
      : { status: 401, body: { error: { message: 'Invalid OAuth access token', type: 'OAuthException', code: 190 } } };
  });

// ---------------------------------------------------------------------------------------------
// What both engines' suites share
// ---------------------------------------------------------------------------------------------

async function eventually<T>(read: () => T | Promise<T>, accept: (value: T) => boolean, timeoutMs = 8000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let value = await read();
  while (!accept(value) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  return value;
}

interface Engine {
  name: 'node-red' | 'n8n';
  /** The desk's absolute URL. */
  deskUrl: string;
  /** The store the engine's nodes write to, in this process. */
  ot: Omnithread;
  whatsapp: ProviderServer;
  /** The customer writes: each delivery goes through the engine's real channel route/webhook; resolves when answered 2xx. */
  webchat(messageId: string, text: string): Promise<void>;
  email(mime: string): Promise<void>;
  whatsappMessage(body: string, signature: string): Promise<void>;
}

/** Maya on three channels, then the WhatsApp conversation handed off to the "shipping" queue. */
async function customerStory(engine: Engine): Promise<{ person: string; whatsappContact: string; whatsappConversation: string }> {
  const { ot } = engine;
  await ot.roster().upsert({ id: ADMIN.id, name: ADMIN.name, kind: 'human' });
  await ot.roster().upsert({ id: AGENT.id, name: AGENT.name, kind: 'human' });
  await engine.webchat('chat-1', 'Hi! My order 5521 has not arrived yet.');
  const person = await eventually(() => ot.findContact({ kind: 'email', value: MAYA.email }), (c) => Boolean(c));
  expect(person).toBeDefined();
  await engine.email(emailMime(ot.now()));
  await eventually(async () => (await ot.timeline(person!.id, { kinds: ['message'] })).events.length, (n) => n >= 2);
  const wa = whatsappDelivery(ot.now(), 'Hello, writing from WhatsApp now: any news on 5521?');
  await engine.whatsappMessage(wa.body, wa.signature);
  const waContact = await eventually(() => ot.findContact({ kind: 'whatsapp_id', scope: WA.wabaId, value: MAYA.waId }), (c) => Boolean(c));

  // Two contacts (the phone matched only at asserted trust), and a suggestion to merge them.
  expect(waContact!.id).not.toBe(person!.id);
  const suggestions = await ot.suggestions({ contactId: person!.id });
  expect(suggestions).toHaveLength(1);
  expect([...suggestions[0].contactIds].sort()).toEqual([person!.id, waContact!.id].sort());
  const inbound = (await ot.timeline(person!.id, { kinds: ['message'] })).events.map((e) => e.channel);
  expect(inbound.sort()).toEqual(['email', 'webchat']);

  const [conversation] = await ot.conversations(waContact!.id);
  await handOff(ot, { conversationId: conversation.id, queue: 'shipping', reason: 'Parcel lost in transit: needs a human', priority: 'high' });
  return { person: person!.id, whatsappContact: waContact!.id, whatsappConversation: conversation.id };
}

/** The browser part: admin and agent, merge and unmerge, handoff, reply on WhatsApp, note, resolve, metrics. */
async function deskStory(browser: Browser, engine: Engine, ids: { person: string; whatsappContact: string; whatsappConversation: string }): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    page.on('dialog', (dialog) => void dialog.accept());
  };
  const shot = (page: Page, what: string) => page.screenshot({ path: join(OUT, `desk-${engine.name}-${what}.png`) });
  const contexts: BrowserContext[] = [];
  try {
    // The admin signs in with the node's password.
    const adminContext = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    contexts.push(adminContext);
    const admin = await adminContext.newPage();
    watch(admin);
    const a = (id: string) => admin.locator(`[data-test="${id}"]`);
    await admin.goto(engine.deskUrl);
    await a('signin-form').waitFor({ state: 'visible' });
    await a('signin-agent').fill(ADMIN.id);
    await a('signin-password').fill(ADMIN.password);
    await a('signin-submit').click();
    await a('me-name').waitFor({ state: 'visible' });
    expect(await a('me-name').textContent()).toBe(ADMIN.name);

    // Agents panel: Ben gets desk access and a one-time sign-in link.
    await a('nav-agents').click();
    const benRow = admin.locator(`[data-test="agent-row"][data-agent-id="${AGENT.id}"]`);
    await benRow.waitFor();
    await benRow.locator('[data-test="agent-role"]').selectOption('agent');
    await benRow.locator('[data-test="agent-save"]').click();
    await eventually(() => benRow.locator('[data-test="agent-link"]').isEnabled(), (v) => v);
    await benRow.locator('[data-test="agent-link"]').click();
    await a('agent-link-url').waitFor();
    const link = await a('agent-link-url').inputValue();
    expect(link).toMatch(new RegExp(`^${engine.deskUrl.replace(/[.?]/g, '\\$&')}#signin=[A-Za-z0-9_-]+$`));

    // The admin opens Maya: the suggestion names the WhatsApp contact; accepting merges them.
    await a('nav-inbox').click();
    await a('queue-open').click();
    const personRow = admin.locator(`[data-test="inbox-row"][data-contact-id="${ids.person}"]`).first();
    await personRow.waitFor();
    expect(await a('inbox-row').evaluateAll((rows) => new Set(rows.map((r) => r.getAttribute('data-contact-id'))).size)).toBe(2);
    await personRow.click();
    await admin.locator(`[data-test="person"][data-contact-id="${ids.person}"]`).waitFor();
    const suggestion = a('suggestion');
    await suggestion.waitFor();
    expect(await suggestion.innerText()).toContain(MAYA.waId);
    await a('suggestion-accept').click();
    await admin.locator('[data-test="identity-row"][data-kind="whatsapp_id"]').waitFor();
    await a('merge-row').waitFor();
    expect(await a('suggestion').count()).toBe(0);

    // Ben signs in through the link: one person in the inbox, one timeline across the three channels.
    const agentContext = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    contexts.push(agentContext);
    const ben = await agentContext.newPage();
    watch(ben);
    const b = (id: string) => ben.locator(`[data-test="${id}"]`);
    await ben.goto(link);
    await b('me-name').waitFor({ state: 'visible' });
    expect(await b('me-name').textContent()).toBe(AGENT.name);
    expect(ben.url()).toBe(engine.deskUrl);
    expect(await b('nav-agents').count()).toBe(0);
    const handoffRow = ben.locator(`[data-test="inbox-row"][data-conversation-id="${ids.whatsappConversation}"]`);
    await handoffRow.waitFor();
    expect(await handoffRow.getAttribute('data-contact-id')).toBe(ids.person);
    await b('queue-open').click();
    await eventually(() => b('inbox-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-contact-id'))), (c) => c.length > 0 && c.every((id) => id === ids.person));
    expect(await b('inbox-row').evaluateAll((rows) => [...new Set(rows.map((r) => r.getAttribute('data-contact-id')))])).toEqual([ids.person]);
    await shot(ben, 'inbox');
    await handoffRow.click();
    await ben.locator(`[data-test="person"][data-contact-id="${ids.person}"]`).waitFor();
    const inboundChannels = await ben.locator('[data-test="event"][data-kind="message"][data-direction="inbound"]').evaluateAll((ns) => ns.map((n) => n.textContent ?? ''));
    expect(inboundChannels.join('\n')).toMatch(/order 5521 has not arrived yet/);
    expect(inboundChannels.join('\n')).toMatch(/still has not arrived/);
    expect(inboundChannels.join('\n')).toMatch(/writing from WhatsApp/);
    expect(await ben.locator('[data-test="identity-row"]').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-kind')).sort())).toEqual(
      expect.arrayContaining(['email', 'phone', 'webchat_visitor', 'whatsapp_id']),
    );

    // Take the handoff, answer on WhatsApp, leave a note, resolve.
    await b('action-accept').click();
    await ben.locator('[data-test="episode"][data-conversation-id="' + ids.whatsappConversation + '"] [data-test="event"][data-kind="handoff_accepted"]').waitFor();
    await b('channel-select').selectOption('whatsapp');
    await b('composer-text').fill(REPLY_TEXT);
    await b('send').click();
    const outbound = ben.locator('[data-test="event"][data-kind="message"][data-direction="outbound"]', { hasText: REPLY_TEXT });
    await outbound.waitFor();
    expect(await outbound.innerText()).toContain(AGENT.name);
    await b('note-toggle').click();
    await b('composer-text').fill(NOTE_TEXT);
    await b('send').click();
    await ben.locator('[data-test="event"][data-kind="note"]', { hasText: NOTE_TEXT }).waitFor();
    await b('action-resolve').click();
    await ben.locator(`[data-test="episode"][data-conversation-id="${ids.whatsappConversation}"][data-status="resolved"]`).waitFor();
    await ben.locator('[data-test="event"][data-kind="status_change"]', { hasText: /Resolved/ }).first().waitFor();
    await shot(ben, 'person');

    // The customer's side got the answer exactly once: one request to the Cloud API, with the text.
    await new Promise((r) => setTimeout(r, 300));
    const sends = engine.whatsapp.seen.filter((r) => r.method === 'POST' && r.url.endsWith('/messages'));
    expect(sends).toHaveLength(1);
    expect(sends[0].body).toMatchObject({ messaging_product: 'whatsapp', to: MAYA.waId, type: 'text', text: { body: REPLY_TEXT } });
    const events = (await engine.ot.timeline(ids.person, { limit: 200 })).events;
    const replies = events.filter((e) => e.kind === 'message' && e.direction === 'outbound');
    // ...in the conversation Ben took, the one he answered from.
    expect(replies.map((e) => [e.channel, e.text, (e.data.author as { name?: string } | undefined)?.name, e.conversationId])).toEqual([['whatsapp', REPLY_TEXT, AGENT.name, ids.whatsappConversation]]);
    expect(events.filter((e) => e.kind === 'note').map((e) => e.text)).toEqual([NOTE_TEXT]);
    expect(events.some((e) => e.kind === 'handoff_accepted' && e.conversationId === ids.whatsappConversation)).toBe(true);
    expect(events.some((e) => e.kind === 'status_change' && e.conversationId === ids.whatsappConversation)).toBe(true);

    // The admin unmerges once: the WhatsApp contact is its own person again.
    await a('merge-row').waitFor();
    await a('unmerge').click();
    await eventually(() => admin.locator('[data-test="identity-row"][data-kind="whatsapp_id"]').count(), (n) => n === 0);
    expect(await admin.locator('[data-test="identity-row"][data-kind="whatsapp_id"]').count()).toBe(0);
    expect(await a('unmerge').count()).toBe(0);
    expect((await engine.ot.getContact(ids.whatsappContact)).mergedInto).toBeNull();
    expect((await engine.ot.findContact({ kind: 'whatsapp_id', scope: WA.wabaId, value: MAYA.waId }))?.id).toBe(ids.whatsappContact);

    // Metrics: the conversations are counted, the charts drawn.
    await a('nav-metrics').click();
    for (const chart of ['chart-times', 'chart-volume', 'chart-distribution']) await admin.locator(`[data-test="${chart}"] canvas`).waitFor();
    const conversations = await a('metric-conversations').innerText();
    expect(Number(/\d+/.exec(conversations)?.[0] ?? 0)).toBeGreaterThanOrEqual(1);
    await shot(admin, 'metrics');
    expect(problems).toEqual([]);
  } finally {
    for (const context of contexts) await context.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The suites
// ---------------------------------------------------------------------------------------------

const suite = browserSuite('desk in a real browser');

let browser: Browser;
if (chromiumAvailable) {
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
}

async function listen(app: express.Express): Promise<{ server: http.Server; base: string }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
async function close(server: http.Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
async function expectOk(res: Response, what: string): Promise<void> {
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${await res.text()}`);
}

suite('Omnithread Desk in a real browser, served by Node-RED', () => {
  useRuntimeClock('2026-03-09T09:00:00Z');
  let dir: string;
  let cleanup: () => void;
  let server: http.Server;
  let engine: Engine;

  beforeAll(async () => {
    ({ dir, cleanup } = tempDir());
    helper.settings({ userDir: dir });
    const whatsapp = await startWhatsApp();
    const tab = { id: 'f1', type: 'tab' };
    const flow: FlowNode[] = [
      tab,
      { id: 'store', type: 'omnithread-store', storeType: 'sqlite', sqlitePath: join(dir, 'omnithread.db'), workspace: 'nodered' },
      { id: 'wa', type: 'omnithread-channel', name: 'WhatsApp', channel: 'whatsapp', phoneNumberId: WA.phoneNumberId, apiVersion: 'v21.0', apiBaseUrl: whatsapp.base },
      { id: 'in-webchat', z: 'f1', type: 'omnithread-in', store: 'store', path: '/omnithread/webchat', channel: 'webchat', respond: 'ack', siteId: SITE.siteId, allowedOrigins: SITE.origin, widgetTitle: 'Chat', widgetGreeting: 'Hi', wires: [[]] },
      { id: 'in-email', z: 'f1', type: 'omnithread-in', store: 'store', path: '/omnithread/email', channel: 'email', respond: 'ack', mailbox: MAILBOX, wires: [[]] },
      { id: 'in-whatsapp', z: 'f1', type: 'omnithread-in', store: 'store', path: '/omnithread/whatsapp', channel: 'whatsapp', respond: 'ack', phoneNumberId: WA.phoneNumberId, wires: [[]] },
      { id: 'desk', z: 'f1', type: 'omnithread-desk', store: 'store', path: '/omnithread/desk', title: 'Omnithread Desk', slaMinutes: '60', adminAgentId: ADMIN.id, whatsappAccount: 'wa' },
    ];
    const httpNode = await loadFlow(flow, {
      wa: { accessToken: WA.accessToken },
      'in-webchat': { identitySecret: SITE.identitySecret },
      'in-email': { secret: 'mail-secret' },
      'in-whatsapp': { appSecret: WA.appSecret, verifyToken: WA.verifyToken },
      desk: { adminPassword: ADMIN.password },
    });
    const app = express();
    app.use('/', httpNode);
    let base: string;
    ({ server, base } = await listen(app));
    const ot = await (helper.getNode('store') as unknown as { omnithread: Promise<Omnithread> }).omnithread;
    engine = {
      name: 'node-red',
      deskUrl: `${base}/omnithread/desk`,
      ot,
      whatsapp,
      webchat: async (messageId, text) =>
        expectOk(await fetch(`${base}/omnithread/webchat`, { method: 'POST', headers: { 'content-type': 'application/json', origin: SITE.origin }, body: JSON.stringify(webchatBody(messageId, text)) }), 'web chat'),
      email: async (mime) => expectOk(await fetch(`${base}/omnithread/email`, { method: 'POST', headers: { 'content-type': 'message/rfc822', 'x-omnithread-secret': 'mail-secret' }, body: mime }), 'email'),
      whatsappMessage: async (body, signature) =>
        expectOk(await fetch(`${base}/omnithread/whatsapp`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body }), 'whatsapp'),
    };
  }, 60_000);

  afterAll(async () => {
    await close(server);
    await engine?.whatsapp.close();
    await unloadFlow();
    helper.settings({});
    cleanup?.();
  });

  test('merge, unmerge, a handoff taken, a WhatsApp reply sent once, a note, resolved, metrics', async () => {
    const ids = await customerStory(engine);
    await deskStory(browser, engine, ids);
    // The README's screenshot is refreshed on request only, so a test run leaves the checkout as it was.
    if (process.env.OMNITHREAD_UPDATE_DOCS) copyFileSync(join(OUT, 'desk-node-red-person.png'), join(ROOT, 'docs', 'desk.png'));
  }, 60_000);
});

suite('Omnithread Desk in a real browser, served by n8n', () => {
  useRuntimeClock('2026-03-09T09:00:00Z');
  let server: http.Server;
  let engine: Engine;

  beforeAll(async () => {
    const whatsapp = await startWhatsApp();
    const credentials = {
      omnithreadDeskApi: { adminAgentId: ADMIN.id, adminPassword: ADMIN.password },
      omnithreadWhatsAppApi: { accessToken: WA.accessToken, phoneNumberId: WA.phoneNumberId, apiVersion: 'v21.0', apiBaseUrl: whatsapp.base },
    };
    const trigger = (name: string, webhookId: string, parameters: Record<string, unknown>): INode => node(name, TYPES.trigger, { responseMode: 'onReceived', ...parameters } as never, { webhookId });
    const workflow = buildWorkflow({
      nodes: [
        trigger('Web Chat', 'b8d2c0de-0000-4000-8000-00000000c4a7', { channel: 'webchat', siteId: SITE.siteId, identitySecret: SITE.identitySecret, allowedOrigins: SITE.origin }),
        trigger('Email', 'b8d2c0de-0000-4000-8000-0000000e4a11', { channel: 'email', mailbox: MAILBOX, secret: 'mail-secret' }),
        trigger('WhatsApp', 'b8d2c0de-0000-4000-8000-00000000a7a5', { channel: 'whatsapp', appSecret: WA.appSecret, verifyToken: WA.verifyToken, phoneNumberId: WA.phoneNumberId }),
        node('Omnithread Desk', TYPES.desk, { path: 'desk', title: 'Omnithread Desk', slaMinutes: 60 }, {
          credentials: { omnithreadDeskApi: { id: '1', name: 'Desk admin' }, omnithreadWhatsAppApi: { id: '2', name: 'WhatsApp' } },
        }),
      ],
      connections: {},
    });
    // n8n's webhook server: the raw body kept on req.rawBody, the Desk node's webhook() on /webhook/desk.
    const app = express();
    app.use(express.raw({ type: () => true, limit: '1mb' }), (req, _res, next) => {
      (req as unknown as { rawBody?: Buffer }).rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      next();
    });
    const desk = webhookHandler(workflow, 'Omnithread Desk', { credentials });
    app.all('/webhook/desk', (req, res, next) => void desk(req, res).catch(next));
    let base: string;
    ({ server, base } = await listen(app));
    const ot = await omnithreadFor(resolveSettings(undefined, 'n8n'));
    const deliver = async (nodeName: string, body: string, contentType: string, headers: Record<string, string>) => {
      const call = await callWebhook(workflow, nodeName, { body, contentType, headers }, { credentials });
      const status = call.sent.status ?? 200;
      if (status >= 300) throw new Error(`${nodeName}: ${status} ${JSON.stringify(call.sent.body)}`);
    };
    engine = {
      name: 'n8n',
      deskUrl: `${base}/webhook/desk`,
      ot,
      whatsapp,
      webchat: (messageId, text) => deliver('Web Chat', JSON.stringify(webchatBody(messageId, text)), 'application/json', { origin: SITE.origin }),
      email: (mime) => deliver('Email', mime, 'message/rfc822', { 'x-omnithread-secret': 'mail-secret' }),
      whatsappMessage: (body, signature) => deliver('WhatsApp', body, 'application/json', { 'x-hub-signature-256': signature }),
    };
  }, 60_000);

  afterAll(async () => {
    await close(server);
    await engine?.whatsapp.close();
  });

  test('merge, unmerge, a handoff taken, a WhatsApp reply sent once, a note, resolved, metrics', async () => {
    const ids = await customerStory(engine);
    await deskStory(browser, engine, ids);
  }, 60_000);
});
