/**
 * The web chat widget in a real browser: Debian's headless Chromium driven by playwright-core, against
 * a tiny node:http server made of shared/ code only (test/support/webchat-server.ts), as the engine
 * adapters serve it. A visitor sends a message, an agent answers with sendReply, the answer shows in the
 * widget by polling, the history comes back after a reload (the visitor id kept in localStorage), and a
 * signed-in visitor (window.OmnithreadChat.user with a user hash) is verified.
 *
 * Skipped when /usr/bin/chromium is missing, except under CI (process.env.CI), where it fails.
 * No browser is ever downloaded: playwright-core launches the system Chromium.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Omnithread, Store, channelConfig, createOmnithread, openStore, sendReply } from '../../shared';
import { webchatChannel, webchatUserHash } from '../../shared/channels/webchat';
import { createTestStoreConfig, uniqueWorkspace } from '../support/stores';
import { WebchatServer, startWebchatServer } from '../support/webchat-server';

const CHROMIUM = '/usr/bin/chromium';
const SECRET = 'browser-test-identity-secret';
const SITE = 'shop';
const available = existsSync(CHROMIUM);

/** Reads until the value is the expected one (jest has no expect.poll), then asserts it. */
async function eventually<T>(read: () => T | Promise<T>, expected: T, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let value = await read();
  while (!Object.is(value, expected) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  expect(value).toBe(expected);
}

if (!available && process.env.CI) {
  test('web chat widget in a real browser', () => {
    throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (apt-get install chromium)`);
  });
}

const suite = available ? describe : describe.skip;
if (!available && !process.env.CI) {
  // eslint-disable-next-line no-console
  console.warn(`web chat browser test skipped: ${CHROMIUM} is missing (apt-get install chromium)`);
}

suite(`web chat widget in a real browser${available ? '' : ` (skipped: ${CHROMIUM} is missing)`}`, () => {
  let store: Store;
  let ot: Omnithread;
  let server: WebchatServer;
  let browser: Browser;
  let cleanupStore: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const created = await createTestStoreConfig('sqlite');
    cleanupStore = created.cleanup;
    store = await openStore(created.config);
    ot = createOmnithread({ workspace: uniqueWorkspace(), store });
    server = await startWebchatServer(ot, channelConfig(webchatChannel, { siteId: SITE, identitySecret: SECRET }), { title: 'Chat with Shop' });
    const { chromium } = await import('playwright-core');
    // playwright-core gives every launch a fresh profile (--user-data-dir) in a temp folder of its own, and
    // deletes it on close; it refuses a --user-data-dir argument on launch().
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await store?.close();
    await cleanupStore?.();
  });

  const messages = (page: Page) => page.locator('[data-omnithread-messages] [data-direction]');
  async function openChat(page: Page) {
    await page.goto(server.url + '/');
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
    const id = await page.evaluate((key) => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem(key), `omnithread-chat:${SITE}`);
    expect(id).toMatch(/^v-[0-9a-f]{32}$/);
    return id!;
  }

  test('a visitor chats, an agent answers, the answer shows, and the history survives a reload', async () => {
    const context: BrowserContext = await browser.newContext({ viewport: { width: 900, height: 640 } });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await openChat(page);
      await type(page, 'Where is my parcel?');

      // The server recorded it, on the contact found by the visitor handle.
      await eventually(() => server.posts.length, 1);
      expect(server.posts[0]).toMatchObject({ status: 200, body: { received: 1, recorded: 1, identity: 'anonymous' } });
      const vid = await visitorId(page);
      const contact = await ot.findContact({ kind: 'webchat_visitor', scope: SITE, value: vid });
      expect(contact).toBeDefined();
      const timeline = await ot.timeline(contact!.id, { channels: ['webchat'] });
      expect(timeline.events.map((e) => [e.direction, e.text])).toEqual([['inbound', 'Where is my parcel?']]);
      // The bubble is confirmed (full opacity) once the server answered 200.
      await eventually(() => messages(page).first().evaluate((n) => (n as unknown as { style: { opacity: string } }).style.opacity), '1');

      // An agent answers through the Reply core; the widget's poll shows it.
      const reply = await sendReply(
        ot,
        { contactId: contact!.id, channel: 'webchat', text: 'It ships today, Maya!', author: { name: 'Sam from Shop', type: 'human' } },
        { channels: { webchat: {} }, modules: { webchat: webchatChannel } },
      );
      expect(reply).toMatchObject({ duplicate: false, channel: 'webchat', via: 'message' });
      await page.locator('[data-direction="outbound"]', { hasText: 'It ships today, Maya!' }).waitFor({ timeout: 5000 });
      expect(await messages(page).evaluateAll((ns) => ns.map((n) => [n.getAttribute('data-direction'), n.textContent]))).toEqual([
        ['inbound', 'Where is my parcel?'],
        ['outbound', 'Sam from ShopIt ships today, Maya!'],
      ]);

      // Reload: same visitor id from localStorage, the whole history shown again, once.
      await page.reload();
      await page.locator('[data-omnithread-chat] > button').click();
      await page.locator('[data-direction="outbound"]', { hasText: 'It ships today, Maya!' }).waitFor({ timeout: 5000 });
      expect(await visitorId(page)).toBe(vid);
      expect(await messages(page).evaluateAll((ns) => ns.map((n) => [n.getAttribute('data-direction'), n.querySelector('span')!.textContent]))).toEqual([
        ['inbound', 'Where is my parcel?'],
        ['outbound', 'It ships today, Maya!'],
      ]);
      // Several polls later still nothing doubled.
      await page.waitForTimeout(1200);
      expect(await messages(page).count()).toBe(2);

      mkdirSync('test-output', { recursive: true });
      await page.screenshot({ path: join('test-output', 'webchat.png') });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 30_000);

  test('a signed-in visitor (window.OmnithreadChat.user with a user hash) is verified', async () => {
    const context = await browser.newContext();
    try {
      const email = 'maya@fastmail.fm';
      await context.addInitScript(
        ([e, h]) => {
          (globalThis as unknown as { OmnithreadChat: unknown }).OmnithreadChat = { user: { email: e, name: 'Maya', userHash: h } };
        },
        [email, webchatUserHash(SECRET, email)] as const,
      );
      const page = await context.newPage();
      await openChat(page);
      const before = server.posts.length;
      await type(page, 'Hi, I am signed in');
      await eventually(() => server.posts.length, before + 1);
      expect(server.posts[before]).toMatchObject({ status: 200, body: { recorded: 1, identity: 'verified' } });
      await eventually(() => page.locator('[data-omnithread-identity]').getAttribute('data-omnithread-identity'), 'verified');
      expect(await page.locator('[data-omnithread-identity]').textContent()).toBe('Signed in: verified');

      const vid = await visitorId(page);
      const byVisitor = await ot.findContact({ kind: 'webchat_visitor', scope: SITE, value: vid });
      const byEmail = await ot.findContact({ kind: 'email', value: email });
      expect(byEmail?.id).toBe(byVisitor?.id);
      expect(byEmail!.identities).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'email', value: email, trust: 'verified' })]));
    } finally {
      await context.close();
    }
  }, 30_000);
});
