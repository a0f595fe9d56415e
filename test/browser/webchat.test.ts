/**
 * The web chat widget in a real browser, through an engine's real routes: Debian's headless Chromium
 * driven by playwright-core, against the `npm start` demo flow running in Node-RED 5 (its web chat
 * `omnithread-in` serves the demo page, the widget script, the reply feed and the POST endpoint on
 * RED.httpNode; the flow answers through `omnithread-reply`), plus the demo's pretend shop page with a
 * signed-in customer. (n8n's real webhook routes are driven by the same widget in `npm run test:e2e`.)
 *
 * - An anonymous visitor chats, the flow answers in the widget, a human agent takes over (an outbound
 *   message recorded by the Reply core) and shows too; a reload brings the history back, once.
 * - Maya, after the printed curl story (email, phone), chats on /shop signed in with a user hash: verified,
 *   one contact, and the answer names the channels her history already holds.
 *
 * Skipped when /usr/bin/chromium is missing, except under CI (process.env.CI), where it fails.
 * No browser is ever downloaded: playwright-core launches the system Chromium.
 */
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { acquireStore, createOmnithread, sendReply, webchatUserHash } from '../../shared';
import { FlowNode, helper, loadFlow, tempDir, unloadFlow } from '../support/node-red-helper';
import { browserSuite, launchChromium } from '../support/chromium';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const demo = require('../../scripts/demo.js') as {
  demoFlow(): FlowNode[];
  storyCurls(base: string, path: string): string[];
  shopPage(userHash: string): string;
  WEBCHAT: { path: string; siteId: string; identitySecret: string };
  MAYA: { email: string; name: string };
};


/** Reads until the value is the expected one (jest has no expect.poll), then asserts it. */
async function eventually<T>(read: () => T | Promise<T>, expected: T, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let value = await read();
  while (!Object.is(value, expected) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  expect(value).toBe(expected);
}

const suite = browserSuite('web chat widget in a real browser');

suite(`web chat widget in a real browser, served by the npm start demo in Node-RED`, () => {
  let browser: Browser;
  let server: http.Server;
  let base: string;
  let app: express.Express;
  let dir: string;
  let cleanup: () => void;

  beforeAll(async () => {
    ({ dir, cleanup } = tempDir());
    helper.settings({ userDir: dir });
    // What `npm start` deploys: the demo flow, with the web chat's identity secret as its credential.
    const httpNode = await loadFlow(demo.demoFlow(), { 'omnithread-demo-webchat-in': { identitySecret: demo.WEBCHAT.identitySecret } });
    app = express();
    app.get('/shop', (_req, res) => {
      res.type('html').send(demo.shopPage(webchatUserHash(demo.WEBCHAT.identitySecret, demo.MAYA.email)));
    });
    app.use('/', httpNode);
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    for (const release of releases) await release();
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    server?.closeAllConnections?.();
    await unloadFlow();
    helper.settings({});
    cleanup?.();
  });

  /** The store the demo flow writes to (its SQLite file in the user dir): the same connection in-process. */
  const demoStore = async () => {
    const { store, release } = await acquireStore({ type: 'sqlite', path: join(dir, 'omnithread', 'omnithread.db') });
    releases.push(release);
    return createOmnithread({ store });
  };
  const releases: (() => Promise<void>)[] = [];

  const messages = (page: Page) => page.locator('[data-omnithread-messages] [data-direction]');
  const bubbles = (page: Page) => messages(page).evaluateAll((ns) => ns.map((n) => [n.getAttribute('data-direction'), n.querySelector('span')!.textContent]));
  async function openChat(page: Page, url: string) {
    await page.goto(url);
    const button = page.locator('[data-omnithread-chat] > button');
    await button.waitFor({ state: 'visible' });
    await button.click();
    await page.getByRole('dialog').waitFor({ state: 'visible' });
  }
  async function type(page: Page, text: string) {
    const input = page.getByLabel('Message');
    await input.fill(text);
    await input.press('Enter');
  }
  async function visitorId(page: Page): Promise<string> {
    const id = await page.evaluate((key) => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem(key), `omnithread-chat:${demo.WEBCHAT.siteId}`);
    expect(id).toMatch(/^v-[0-9a-f]{32}$/);
    return id!;
  }

  test('an anonymous visitor chats on the page the node serves, the flow answers, a human takes over, and a reload keeps the history once', async () => {
    const context: BrowserContext = await browser.newContext({ viewport: { width: 900, height: 640 } });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await openChat(page, `${base}${demo.WEBCHAT.path}`);
      expect(await page.locator('[data-omnithread-chat] > button').textContent()).toBe('Chat with Example Store');
      await type(page, 'Where is my parcel?');

      // The flow's answer arrives through the widget's poll of the node's feed.
      await page.locator('[data-direction="outbound"]', { hasText: 'An agent will answer right here.' }).waitFor({ timeout: 10_000 });
      const vid = await visitorId(page);
      const ot = await demoStore();
      const contact = await ot.findContact({ kind: 'webchat_visitor', scope: demo.WEBCHAT.siteId, value: vid });
      expect(contact).toBeDefined();

      // A human agent takes over; the visitor sees the conversation continue.
      const human = await sendReply(ot, { contactId: contact!.id, channel: 'webchat', text: 'Sam here: it ships today!', author: { name: 'Sam', type: 'human' }, replyKey: 'sam' }, { channels: { webchat: {} } });
      expect(human).toMatchObject({ duplicate: false, channel: 'webchat', via: 'message' });
      await page.locator('[data-direction="outbound"]', { hasText: 'Sam here: it ships today!' }).waitFor({ timeout: 10_000 });
      const expected = [
        ['inbound', 'Where is my parcel?'],
        ['outbound', 'Thanks for your message! An agent will answer right here.'],
        ['outbound', 'Sam here: it ships today!'],
      ];
      expect(await bubbles(page)).toEqual(expected);

      // Reload: same visitor id from localStorage, the whole history shown again, once.
      await page.reload();
      await page.locator('[data-omnithread-chat] > button').click();
      await page.locator('[data-direction="outbound"]', { hasText: 'Sam here' }).waitFor({ timeout: 10_000 });
      expect(await visitorId(page)).toBe(vid);
      await page.waitForTimeout(1200); // several polls later, still nothing doubled
      expect(await bubbles(page)).toEqual(expected);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  test("after the printed curl story, Maya chats on the shop page signed in: verified, one contact, and the answer names her other channels", async () => {
    for (const curl of demo.storyCurls(base, '/omnithread/continuity')) {
      const body = JSON.parse(/-d '(.*)'$/s.exec(curl)![1]);
      const res = await request(app).post('/omnithread/continuity').set('content-type', 'application/json').send(body);
      expect(res.status).toBe(200);
    }
    const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
    try {
      const page = await context.newPage();
      await openChat(page, `${base}/shop`);
      await type(page, 'Hi, any news about order 5521?');
      await eventually(() => page.locator('[data-omnithread-identity]').getAttribute('data-omnithread-identity'), 'verified');
      const answer = page.locator('[data-direction="outbound"]').first();
      await answer.waitFor({ timeout: 10_000 });
      expect(await answer.locator('span').textContent()).toMatch(/^Thanks! I can see your earlier messages on (email, voice|voice, email)/);

      const ot = await demoStore();
      const byVisitor = await ot.findContact({ kind: 'webchat_visitor', scope: demo.WEBCHAT.siteId, value: await visitorId(page) });
      const byEmail = await ot.findContact({ kind: 'email', value: demo.MAYA.email });
      expect(byVisitor?.id).toBe(byEmail?.id);
      expect(byEmail!.identities).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'email', value: demo.MAYA.email, trust: 'verified' })]));
      const timeline = await ot.timeline(byEmail!.id, { kinds: ['message'] });
      expect(timeline.events.filter((e) => e.direction === 'inbound').map((e) => e.channel)).toEqual(['webchat', 'email', 'voice', 'webchat']);

      mkdirSync('test-output', { recursive: true });
      await page.screenshot({ path: join('test-output', 'webchat.png') });
    } finally {
      await context.close();
    }
  }, 60_000);
});
