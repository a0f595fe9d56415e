/**
 * `npm start` as a new user plays it, from its own printed words: the demo (scripts/demo.js, its own
 * process, its data in a temp folder) is started, the curl commands it prints are run as printed (bash and
 * curl, so the shell's quoting and `$(date ...)` are the user's), the web chat is used in Debian's Chromium
 * the way the issue that found the hang did (an anonymous chat on /omnithread/webchat, then the same
 * browser on /shop signed in as Maya, which merges the anonymous visitor into her), then the printed
 * "any time later" curl, and the desk link the banner prints. Every request must be answered.
 * Skipped when /usr/bin/chromium is missing, except under CI, where it fails.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { DemoProcess, startDemo } from '../support/demo-process';
import { browserSuite, launchChromium } from '../support/chromium';

const run = promisify(execFile);

const suite = browserSuite('npm start played as printed');


/** The commands of the banner: each `curl` line with its continuation lines, under the `# N. title` above it. */
function printedCurls(banner: string): { title: string; command: string }[] {
  const lines = banner.split('\n');
  const out: { title: string; command: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('curl ')) continue;
    let command = lines[i];
    // Kept as printed, backslash-newline continuations included: bash reads it as the user's shell would.
    while (command.endsWith('\\')) command = `${command}\n${lines[++i]}`;
    out.push({ title: lines[i - command.split('\n').length]?.replace(/^# /, '') ?? '', command });
  }
  return out;
}

/** Runs a printed command the way a user's terminal does; a request that is not answered fails it. */
async function paste(command: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('bash', ['-c', command.replace(/^curl -s /, 'curl -s --max-time 20 --fail-with-body ')], { timeout: 30_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** The channels of the summary's timeline lines ("2026-12-07 10:00:00  webchat  Hi, ..."), messages only. */
const channelsOf = (summary: Record<string, unknown>): string[] =>
  (summary.timeline as string[]).map((line) => line.split(/\s+/)).filter((t) => !t[3]?.startsWith('(')).map((t) => t[2]);

suite('npm start, played as printed', () => {
  let demo: DemoProcess;
  let base: string;
  let browser: Browser;
  let banner = '';

  beforeAll(async () => {
    demo = await startDemo();
    base = demo.base;
    banner = demo.output();
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  async function chat(page: Page, url: string, text: string, answer: RegExp): Promise<string> {
    await page.goto(url);
    const button = page.locator('[data-omnithread-chat] > button');
    await button.waitFor({ state: 'visible' });
    await button.click();
    const input = page.getByLabel('Message');
    await input.fill(text);
    await input.press('Enter');
    const reply = page.locator('[data-direction="outbound"]', { hasText: answer }).last();
    await reply.waitFor({ timeout: 15_000 });
    return (await reply.textContent()) ?? '';
  }

  test('the three curls, an anonymous chat, the same browser signed in on /shop (a merge), the later curl, and the desk', async () => {
    const curls = printedCurls(banner);
    expect(curls.map((c) => c.title.slice(0, 2))).toEqual(['1.', '2.', '3.', '4.']);

    // 1-3 as printed: the last answer is one contact with one chronological timeline of three messages.
    let summary: Record<string, unknown> = {};
    for (const { command } of curls.slice(0, 3)) summary = await paste(command);
    const contact = (summary.contact as { id: string }).id;
    expect(channelsOf(summary)).toEqual(['webchat', 'email', 'voice']);
    // Pasting one again is a redelivery, answered and not recorded twice.
    expect(await paste(curls[0].command)).toMatchObject({ received: 1, recorded: 0, duplicates: 1 });

    // The web chat: first anonymous, then the same browser signed in on the shop page.
    const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await chat(page, `${base}/omnithread/webchat`, 'Just browsing, do you ship to Norway?', /./);
    const named = await chat(page, `${base}/shop`, 'Hi, it is Maya again about order 5521', /email/i);
    expect(named).toMatch(/voice|phone/i);
    expect(errors).toEqual([]);
    await context.close();

    // 4. The later curl, pasted twice (a fresh id each time): answered, and the chat is in the same timeline.
    for (let i = 0; i < 2; i++) {
      const later = await paste(curls[3].command);
      expect((later.contact as { id: string }).id).toBe(contact);
      expect(channelsOf(later)).toEqual(expect.arrayContaining(['webchat', 'email', 'voice']));
      expect((later.timeline as string[]).some((line) => line.endsWith('Hi, it is Maya again about order 5521'))).toBe(true);
    }

    // The desk: the banner's sign-in link for Sam, used as a browser would (the token after '#').
    const link = /Sam\s+(http\S+#signin=\S+)/.exec(banner)?.[1];
    expect(link).toBeDefined();
    const deskUrl = link!.split('#')[0];
    const signin = await fetch(`${deskUrl}?op=signin-link`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ token: link!.split('#signin=')[1] }),
    });
    expect(signin.status).toBe(200);
    const cookie = (signin.headers.get('set-cookie') ?? '').split(';')[0];
    const inbox = (await (await fetch(`${deskUrl}?op=inbox&queue=open&q=maya`, { headers: { cookie } })).json()) as { items: { contactId: string; channels: string[] }[] };
    expect(inbox.items.map((i) => i.contactId)).toContain(contact);
  }, 120_000);
});
