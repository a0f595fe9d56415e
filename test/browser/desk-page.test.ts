/**
 * The Omnithread Desk page (shared/desk/page, built into dist/desk by scripts/build-desk.js) in a real
 * browser, without the real server: a tiny local HTTP server stands in for it, serving the built assets
 * under the desk's strict Content-Security-Policy and answering the JSON API of shared/desk/contract.ts
 * from in-memory fixture data. It exercises the page only; the real API has its own tests.
 *
 * - sign-in by a link fragment (#signin=<token>), which is then removed from the address bar;
 * - the inbox's rows and queue counts; a row opens the person with episodes and a channel-switch divider;
 * - a reply is posted once with the CSRF header and a clientId; after a network error, pressing Send
 *   again retries with the same clientId;
 * - the metrics page draws its uPlot charts (canvas);
 * - a 401 returns to the sign-in screen.
 *
 * Skipped when /usr/bin/chromium is missing, except under CI (process.env.CI), where it fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type {
  AgentAccessView,
  Changes,
  EpisodeView,
  InboxItem,
  InboxPage,
  Me,
  MetricsFigures,
  MetricsReport,
  PersonView,
  Queue,
  TimelineEventView,
} from '../../shared/desk/contract';
import { type DeskManifest, deskAssetUrls, deskHtml } from '../../shared/desk/page-shell';
import { browserSuite, launchChromium } from '../support/chromium';

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist', 'desk');
const DESK_PATH = '/omnithread/desk';
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const LINK_TOKEN = 'link-token-0123456789abcdef';
const CSRF = 'csrf-token-abcdef0123456789';

// ---------------------------------------------------------------------------------------------
// Fixture data
// ---------------------------------------------------------------------------------------------

const MIN = 60_000;
const t0 = Date.now();
const iso = (offsetMs: number) => new Date(t0 + offsetMs).toISOString();

const AGENTS: Me['agents'] = [
  { id: 'ana', name: 'Ana Admin', kind: 'human', status: 'available' },
  { id: 'bo', name: 'Bo Berg', kind: 'human', status: 'available' },
  { id: 'sage', name: 'Sage (AI)', kind: 'ai', status: 'available' },
];

function me(): Me {
  return {
    agent: { id: 'ana', name: 'Ana Admin', kind: 'human', role: 'admin', status: 'available' },
    csrf: CSRF,
    workspace: 'default',
    sessionExpiresAt: iso(8 * 60 * MIN),
    sendChannels: ['webchat', 'email', 'whatsapp', 'telegram'],
    agents: AGENTS,
    now: new Date().toISOString(),
  };
}

let eventSeq = 100;
function ev(partial: Partial<TimelineEventView> & { kind: string; occurredAt: string }): TimelineEventView {
  eventSeq++;
  return {
    id: partial.id ?? `e${eventSeq}`,
    seq: eventSeq,
    channel: null,
    direction: null,
    text: '',
    conversationId: null,
    author: null,
    attachments: [],
    edited: false,
    status: null,
    data: {},
    ...partial,
  };
}

const mayaOld: EpisodeView = {
  conversationId: 'conv-maya-1',
  status: 'resolved',
  channels: ['email'],
  openedAt: iso(-3 * 1440 * MIN),
  closedAt: iso(-3 * 1440 * MIN + 90 * MIN),
  assignedAgentId: 'bo',
  handoff: null,
  events: [
    ev({ kind: 'message', direction: 'inbound', channel: 'email', text: 'Where is my order #1042?', occurredAt: iso(-3 * 1440 * MIN), conversationId: 'conv-maya-1' }),
    ev({ kind: 'message', direction: 'outbound', channel: 'email', text: 'It ships tomorrow.', status: 'delivered', author: { id: 'bo', name: 'Bo Berg', type: 'human' }, occurredAt: iso(-3 * 1440 * MIN + 30 * MIN), conversationId: 'conv-maya-1' }),
    ev({ kind: 'csat', text: 'Quick and friendly', data: { score: 5, scale: 5 }, occurredAt: iso(-3 * 1440 * MIN + 95 * MIN), conversationId: 'conv-maya-1' }),
  ],
};

const mayaNow: EpisodeView = {
  conversationId: 'conv-maya-2',
  status: 'open',
  channels: ['webchat', 'email', 'whatsapp'],
  openedAt: iso(-120 * MIN),
  closedAt: null,
  assignedAgentId: null,
  handoff: { handoffId: 'h1', status: 'queued', queue: 'billing', offeredTo: null, agentId: null, reason: 'refund over the bot limit', priority: 'high', slaDueAt: iso(48 * MIN) },
  events: [
    ev({ kind: 'message', direction: 'inbound', channel: 'webchat', text: 'Hi, I was charged twice for order #1042.', occurredAt: iso(-120 * MIN), conversationId: 'conv-maya-2' }),
    ev({
      kind: 'route_decision',
      text: 'ai sage (skills): billing question',
      data: { decision: { target: { kind: 'ai', agentId: 'sage' }, step: 'skills', reason: 'billing intent; Sage has the skill and capacity', priority: 'high', classification: { intent: 'billing', sentiment: 'negative' } } },
      occurredAt: iso(-119 * MIN),
      conversationId: 'conv-maya-2',
    }),
    ev({ kind: 'message', direction: 'outbound', channel: 'webchat', text: 'Sorry about that! Let me check the charge.', status: 'read', author: { id: 'sage', name: 'Sage (AI)', type: 'ai' }, occurredAt: iso(-118 * MIN), conversationId: 'conv-maya-2' }),
    ev({ kind: 'channel_switch', channel: 'email', data: { from: 'webchat', to: 'email' }, occurredAt: iso(-60 * MIN), conversationId: 'conv-maya-2' }),
    ev({ kind: 'message', direction: 'inbound', channel: 'email', text: 'Here is the bank statement.', attachments: [{ type: 'application/pdf', url: 'https://files.example.com/statement.pdf', name: 'statement.pdf' }], edited: true, occurredAt: iso(-60 * MIN), conversationId: 'conv-maya-2' }),
    ev({
      kind: 'handoff',
      text: 'Handed off to queue billing: refund over the bot limit',
      data: { status: 'queued', queue: 'billing', reason: 'refund over the bot limit', priority: 'high', slaDueAt: iso(48 * MIN), summary: 'Double charge on order #1042; statement attached.' },
      occurredAt: iso(-58 * MIN),
      conversationId: 'conv-maya-2',
    }),
    ev({ kind: 'note', text: 'Checked Stripe: two captures, one to refund.', author: { id: 'bo', name: 'Bo Berg', type: 'human' }, occurredAt: iso(-30 * MIN), conversationId: 'conv-maya-2' }),
    ev({ kind: 'channel_switch', channel: 'whatsapp', data: { from: 'email', to: 'whatsapp' }, occurredAt: iso(-12 * MIN), conversationId: 'conv-maya-2' }),
    ev({ kind: 'message', direction: 'inbound', channel: 'whatsapp', text: 'Still no refund…', occurredAt: iso(-12 * MIN), conversationId: 'conv-maya-2' }),
  ],
};

const inbox: InboxItem[] = [
  {
    conversationId: 'conv-maya-2',
    contactId: 'c-maya',
    name: 'Maya Lee',
    handle: 'maya@example.com',
    status: 'open',
    channels: ['webchat', 'email', 'whatsapp'],
    lastChannel: 'whatsapp',
    lastMessage: { text: 'Still no refund…', direction: 'inbound', channel: 'whatsapp', at: iso(-12 * MIN), author: null },
    waitingSince: iso(-12 * MIN),
    slaDueAt: iso(48 * MIN),
    slaBreached: false,
    priority: 'high',
    intent: 'billing',
    assignedAgentId: null,
    handoff: mayaNow.handoff,
    openedAt: mayaNow.openedAt,
    lastActivityAt: iso(-12 * MIN),
    closedAt: null,
  },
  {
    conversationId: 'conv-tom-1',
    contactId: 'c-tom',
    name: null,
    handle: '@tom_k',
    status: 'open',
    channels: ['telegram'],
    lastChannel: 'telegram',
    lastMessage: { text: 'My parcel is lost', direction: 'inbound', channel: 'telegram', at: iso(-300 * MIN), author: null },
    waitingSince: iso(-300 * MIN),
    slaDueAt: iso(-60 * MIN),
    slaBreached: true,
    priority: 'urgent',
    intent: 'delivery',
    assignedAgentId: 'bo',
    handoff: null,
    openedAt: iso(-300 * MIN),
    lastActivityAt: iso(-300 * MIN),
    closedAt: null,
  },
];

function person(contactId: string, before: string | null): PersonView {
  if (contactId !== 'c-maya') throw Object.assign(new Error('no such person'), { status: 404 });
  return {
    contact: { id: 'c-maya', name: 'Maya Lee', attributes: { plan: 'pro' }, createdAt: iso(-30 * 1440 * MIN), mergedContactIds: ['c-maya-old'] },
    identities: [
      { kind: 'email', value: 'maya@example.com', scope: null, trust: 'asserted', contactId: 'c-maya', firstSeenAt: iso(-30 * 1440 * MIN), lastSeenAt: iso(-60 * MIN), explanation: 'first seen on email' },
      { kind: 'phone', value: '+4915112345678', scope: null, trust: 'channel', contactId: 'c-maya', firstSeenAt: iso(-12 * MIN), lastSeenAt: iso(-12 * MIN), explanation: 'first seen on whatsapp' },
      { kind: 'webchat_visitor', value: 'v-7f3a', scope: 'shop', trust: 'verified', contactId: 'c-maya-old', firstSeenAt: iso(-120 * MIN), lastSeenAt: iso(-118 * MIN), explanation: 'brought by merge m1 (email match)' },
    ],
    merges: [
      { id: 'm1', survivorId: 'c-maya', mergedId: 'c-maya-old', rule: 'email', evidence: { email: 'maya@example.com' }, actor: 'identity', createdAt: iso(-119 * MIN), undoneAt: null, explanation: 'Merged because both had the verified email maya@example.com.' },
    ],
    suggestions: [
      { id: 's1', other: { id: 'c-mlee', name: 'M. Lee', identities: [{ kind: 'email', value: 'm.lee@work.example', scope: null, trust: 'asserted' }] }, reason: 'same name and phone prefix, different email', evidence: { name: 'M. Lee' }, createdAt: iso(-100 * MIN) },
    ],
    episodes: before ? [mayaOld] : [mayaNow],
    nextBefore: before ? null : 'older-1',
    channels: [
      { channel: 'whatsapp', open: true, reason: '24-hour window open', closesAt: iso(24 * 60 * MIN - 12 * MIN) },
      { channel: 'email', open: true, reason: '', closesAt: null },
      { channel: 'webchat', open: false, reason: 'the visitor left the page', closesAt: null },
    ],
    seq,
  };
}

function figures(i: number): MetricsFigures {
  const dist = (base: number) => ({
    count: 10 + i,
    median: base * (1 + (i % 3) * 0.2),
    p90: base * 3,
    mean: base * 1.4,
    histogram: [
      { le: 60, count: 2 + i },
      { le: 300, count: 5 },
      { le: 900, count: 3 + (i % 2) },
      { le: 3600, count: 2 },
      { le: 14400, count: 1 },
      { le: null, count: i % 2 },
    ],
  });
  return {
    conversations: 10 + i,
    resolved: 8 + (i % 3),
    firstResponseSeconds: dist(240),
    resolutionSeconds: dist(3600),
    handleSeconds: dist(600),
    messagesPerResolution: 5.5,
    repeatRate: { rate: 0.12, repeats: 3, opportunities: 25 },
    channelSwitches: { total: 14, perConversation: 0.2, continued: 12, continuedShare: 12 / 14 },
    csat: { responses: 9, average: 4.4, satisfiedShare: 0.89 },
    handledBy: { ai: 30, human: 40, aiShare: 30 / 70 },
  };
}

function metrics(query: URLSearchParams): MetricsReport {
  const from = Date.parse(query.get('from') ?? '');
  const to = Date.parse(query.get('to') ?? '');
  const days = Math.max(1, Math.round((to - from) / (1440 * MIN)));
  return {
    query: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), bucket: (query.get('bucket') as 'day') ?? 'day' },
    generatedAt: new Date().toISOString(),
    definitions: { firstResponseSeconds: 'From the first inbound message to the first human or AI answer.', repeatRate: 'Share of switches and handoffs after which the customer re-stated the issue.' },
    totals: figures(3),
    series: Array.from({ length: days }, (_, i) => ({ start: new Date(from + i * 1440 * MIN).toISOString(), figures: figures(i) })),
    byChannel: { whatsapp: figures(1), email: figures(2) },
    byAgent: { bo: figures(2) },
  };
}

// ---------------------------------------------------------------------------------------------
// The stand-in server
// ---------------------------------------------------------------------------------------------

interface Post {
  op: string;
  csrf: string | undefined;
  body: Record<string, unknown>;
}
let seq = 10;
const sessions = new Set<string>();
const posts: Post[] = [];
const repliedClientIds = new Set<string>();
/** How many reply requests to drop unanswered (Chrome itself retries once on a reused connection). */
let dropReplies = 0;
const waiters = new Set<() => void>();

function bump(contactIds: string[]) {
  seq++;
  lastChange = { seq, contactIds, many: false };
  for (const w of [...waiters]) w();
}
let lastChange: Changes = { seq, contactIds: [], many: false };

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}
const fail = (res: http.ServerResponse, status: number, code: string, error: string, headers?: Record<string, string>) => json(res, status, { error, code }, headers);

function session(req: http.IncomingMessage): string | null {
  const m = /(?:^|;\s*)omnithread_desk=([^;]+)/.exec(req.headers.cookie ?? '');
  return m && sessions.has(m[1]) ? m[1] : null;
}

function signIn(res: http.ServerResponse) {
  const sid = `s${Math.random().toString(36).slice(2)}`;
  sessions.add(sid);
  json(res, 200, me(), { 'Set-Cookie': `omnithread_desk=${sid}; HttpOnly; SameSite=Strict; Path=${DESK_PATH}` });
}

async function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== DESK_PATH) return fail(res, 404, 'not_found', 'no such page');
  const asset = url.searchParams.get('asset');
  const op = url.searchParams.get('op');
  const manifest = JSON.parse(readFileSync(join(DIST, 'manifest.json'), 'utf8')) as DeskManifest;
  if (asset) {
    const file = Object.values(manifest.files).find((f) => f.name === asset);
    if (!file) return fail(res, 404, 'not_found', 'no such asset');
    res.writeHead(200, { 'Content-Type': file.contentType, 'Cache-Control': 'public, max-age=31536000, immutable', 'X-Content-Type-Options': 'nosniff' });
    res.end(readFileSync(join(DIST, file.file)));
    return;
  }
  if (!op) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    res.end(deskHtml({ title: 'Omnithread Desk', ...deskAssetUrls(manifest) }));
    return;
  }

  if (req.method === 'POST') {
    const body = await readBody(req);
    const csrf = req.headers['x-omnithread-csrf'] as string | undefined;
    posts.push({ op, csrf, body });
    if (op === 'signin-link') return body.token === LINK_TOKEN ? signIn(res) : fail(res, 401, 'link_invalid', 'This sign-in link is invalid or was already used.');
    if (op === 'signin') {
      if (body.agentId === 'ana' && body.password === 'correct horse battery') return signIn(res);
      return fail(res, 401, 'bad_credentials', 'Wrong agent id or password.');
    }
    if (!session(req)) return fail(res, 401, 'unauthenticated', 'Sign in first.');
    if (csrf !== CSRF) return fail(res, 403, 'csrf', 'Missing or wrong CSRF token.');
    switch (op) {
      case 'reply': {
        if (dropReplies > 0) {
          dropReplies--;
          req.socket.destroy(); // the network fails before an answer: the page cannot know whether it was sent
          return;
        }
        const clientId = String(body.clientId);
        if (!repliedClientIds.has(clientId)) {
          repliedClientIds.add(clientId);
          mayaNow.events.push(
            ev({ kind: 'message', direction: 'outbound', channel: String(body.channel), text: String(body.text), status: 'sent', author: { id: 'ana', name: 'Ana Admin', type: 'human' }, occurredAt: new Date().toISOString(), conversationId: 'conv-maya-2' }),
          );
          inbox[0].waitingSince = null;
          bump(['c-maya']);
        }
        return json(res, 200, { ok: true });
      }
      default:
        bump(['c-maya']);
        return json(res, 200, { ok: true });
    }
  }

  if (!session(req)) return fail(res, 401, 'unauthenticated', 'Sign in first.');
  switch (op) {
    case 'me':
      return json(res, 200, me());
    case 'inbox': {
      const queue = (url.searchParams.get('queue') ?? 'waiting') as Queue;
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      const items = inbox.filter((i) => (queue === 'resolved' ? i.status === 'resolved' : queue === 'mine' ? i.assignedAgentId === 'ana' : true)).filter((i) => !q || JSON.stringify(i).toLowerCase().includes(q));
      const page: InboxPage = { queue, counts: { waiting: 2, mine: 0, open: 2, resolved: 1 }, items, nextCursor: null, seq };
      return json(res, 200, page);
    }
    case 'person':
      return json(res, 200, person(url.searchParams.get('contactId') ?? '', url.searchParams.get('before')));
    case 'changes': {
      const since = Number(url.searchParams.get('since'));
      const answer = () => json(res, 200, { seq, contactIds: seq > since ? lastChange.contactIds : [], many: false } satisfies Changes);
      if (seq > since) return answer();
      const wait = Math.min(25, Number(url.searchParams.get('wait') ?? 0)) * 1000;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, wait);
        waiters.add(done);
        res.on('close', done);
      });
      if (res.destroyed) return;
      return session(req) ? answer() : fail(res, 401, 'unauthenticated', 'Sign in first.');
    }
    case 'metrics':
      return json(res, 200, metrics(url.searchParams));
    case 'agents':
      return json(res, 200, AGENTS.map((a) => ({ ...a, role: a.id === 'ana' ? 'admin' : 'agent', hasPassword: true, activeSessions: 1 })) satisfies AgentAccessView[]);
    default:
      return fail(res, 400, 'unknown_op', `unknown op ${op}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

const suite = browserSuite('desk page in a real browser');

suite(`desk page in a real browser against a stand-in server`, () => {
  let browser: Browser;
  let server: http.Server;
  let base: string;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    // The page's bundle, as npm run build makes it (esbuild: a fraction of a second).
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-desk.js')], { cwd: ROOT, stdio: 'pipe' });
    server = http.createServer((req, res) => {
      handle(req, res).catch((err: Error & { status?: number }) => {
        if (!res.headersSent) fail(res, err.status ?? 500, 'error', err.message);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1366, height: 820 } });
    page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    mkdirSync(join(ROOT, 'test-output'), { recursive: true });
  }, 60_000);

  afterAll(async () => {
    for (const w of [...waiters]) w();
    await browser?.close();
    server?.closeAllConnections?.();
    await new Promise((resolve) => server?.close(resolve));
  });

  const shot = (name: string) => page.screenshot({ path: join(ROOT, 'test-output', `desk-page-${name}.png`) });
  const testId = (id: string) => page.locator(`[data-test="${id}"]`);

  test('the shell loads the hashed assets under the strict CSP', async () => {
    const res = await fetch(`${base}${DESK_PATH}`);
    const body = await res.text();
    expect(res.headers.get('content-security-policy')).toBe(CSP);
    expect(body).toMatch(/<script defer src="\?asset=app\.[0-9a-f]{12}\.js"><\/script>/);
    expect(body).toMatch(/<link rel="stylesheet" href="\?asset=app\.[0-9a-f]{12}\.css">/);
    expect(body).not.toMatch(/<script>|<style>| on[a-z]+=/i);
    const js = statSizeKb(join(DIST, 'app.js'));
    expect(js).toBeLessThan(120);
  });

  test('signs in by the link fragment, which leaves the address bar; the inbox shows rows and counts', async () => {
    await page.goto(`${base}${DESK_PATH}#signin=${LINK_TOKEN}`);
    await testId('inbox-row').first().waitFor({ state: 'visible' });
    expect(page.url()).toBe(`${base}${DESK_PATH}`);
    expect(posts.filter((p) => p.op === 'signin-link').map((p) => p.body)).toEqual([{ token: LINK_TOKEN }]);
    await expect(testId('inbox-row').count()).resolves.toBe(2);
    await expect(testId('queue-count-waiting').textContent()).resolves.toBe('2');
    await expect(testId('queue-count-resolved').textContent()).resolves.toBe('1');
    const maya = page.locator('[data-test="inbox-row"][data-contact-id="c-maya"]');
    await expect(maya.getAttribute('data-conversation-id')).resolves.toBe('conv-maya-2');
    await expect(maya.innerText()).resolves.toContain('Still no refund');
    // Tom's SLA is breached: red.
    await expect(page.locator('[data-contact-id="c-tom"] [data-test="row-sla"]').getAttribute('data-breached')).resolves.toBe('true');
    await expect(testId('me-name').textContent()).resolves.toBe('Ana Admin');
    await shot('inbox');
  });

  test('a row opens the person: episodes, a channel switch divider, identities; older episodes load', async () => {
    await page.locator('[data-test="inbox-row"][data-contact-id="c-maya"]').click();
    await testId('person').waitFor({ state: 'visible' });
    await expect(testId('person-name').textContent()).resolves.toBe('Maya Lee');
    await expect(testId('episode').count()).resolves.toBe(1);
    const switches = page.locator('[data-test="event"][data-kind="channel_switch"]');
    await expect(switches.count()).resolves.toBe(2);
    await expect(switches.first().innerText()).resolves.toMatch(/Switched from Web chat to Email/);
    await expect(page.locator('[data-kind="route_decision"]').innerText()).resolves.toMatch(/billing intent/);
    await expect(page.locator('[data-kind="handoff"]').innerText()).resolves.toMatch(/Double charge/);
    await expect(page.locator('[data-kind="note"]').innerText()).resolves.toMatch(/Internal note/);
    await expect(testId('identity-row').count()).resolves.toBe(3);
    await expect(testId('unmerge').count()).resolves.toBe(1);
    await expect(testId('suggestion-accept').count()).resolves.toBe(1);
    // The WhatsApp window is open, web chat is closed with its reason.
    await expect(page.locator('[data-test="channel-select"] option[value="webchat"][disabled]').count()).resolves.toBe(1);
    await expect(testId('channel-select').inputValue()).resolves.toBe('whatsapp');
    // Assign/accept apply; release does not (not assigned to me).
    await expect(testId('action-accept').isEnabled()).resolves.toBe(true);
    await expect(testId('action-release').isEnabled()).resolves.toBe(false);
    await shot('person');
    await testId('load-older').click();
    await page.locator('[data-test="episode"][data-conversation-id="conv-maya-1"]').waitFor();
    await expect(testId('episode').count()).resolves.toBe(2);
    await expect(testId('csat-score').textContent()).resolves.toBe('5 / 5');
    await expect(testId('load-older').count()).resolves.toBe(0);
  });

  test('a reply is posted once, with the CSRF header and a clientId, and shows up live', async () => {
    const before = posts.length;
    await testId('composer-text').fill('We refunded the second charge.');
    await testId('send').click();
    await page.locator('[data-test="event"][data-direction="outbound"]', { hasText: 'We refunded the second charge.' }).waitFor();
    const replies = posts.slice(before).filter((p) => p.op === 'reply');
    expect(replies).toHaveLength(1);
    expect(replies[0].csrf).toBe(CSRF);
    expect(replies[0].body).toMatchObject({ contactId: 'c-maya', conversationId: 'conv-maya-2', channel: 'whatsapp', text: 'We refunded the second charge.' });
    expect(String(replies[0].body.clientId).length).toBeGreaterThanOrEqual(8);
    await expect(testId('composer-text').inputValue()).resolves.toBe('');
  });

  test('after a network error, Send again retries with the same clientId: sent once', async () => {
    const before = posts.length;
    // The connection fails before the server answers (here: before it is reached; the page cannot tell).
    const lost: string[] = [];
    await page.route(
      (url) => url.searchParams.get('op') === 'reply',
      (route) => {
        lost.push(String((route.request().postDataJSON() as { clientId: string }).clientId));
        return route.abort('connectionreset');
      },
      { times: 1 },
    );
    await testId('composer-text').fill('Anything else I can do?');
    await testId('send').click();
    await testId('composer-error').waitFor();
    await expect(testId('composer-error').textContent()).resolves.toMatch(/cannot be reached.*sent once/);
    await expect(testId('composer-text').inputValue()).resolves.toBe('Anything else I can do?');
    await testId('send').click();
    await page.locator('[data-test="event"][data-direction="outbound"]', { hasText: 'Anything else I can do?' }).waitFor();
    const replies = posts.slice(before).filter((p) => p.op === 'reply');
    expect(lost).toHaveLength(1);
    expect(replies.map((r) => r.body.clientId)).toEqual([lost[0]]);
    // The next message is a new one: a fresh clientId.
    await testId('composer-text').fill('Have a nice day!');
    await testId('send').click();
    await page.locator('[data-test="event"][data-direction="outbound"]', { hasText: 'Have a nice day!' }).waitFor();
    const last = posts.filter((p) => p.op === 'reply').at(-1)!;
    expect(last.body.clientId).not.toBe(lost[0]);
  });

  test('a server that drops the connection twice still gets the reply once (Chrome itself retries the POST)', async () => {
    const before = posts.length;
    dropReplies = 2;
    await testId('composer-text').fill('Following up on your refund.');
    await testId('send').click();
    const sent = page.locator('[data-test="event"][data-direction="outbound"]', { hasText: 'Following up on your refund.' });
    // Depending on how often Chrome retries on its own, the page sees success or a network error (then: Send again).
    await Promise.race([
      sent.waitFor(),
      testId('composer-error')
        .waitFor({ timeout: 10_000 })
        .then(() => testId('send').click())
        .catch(() => undefined),
    ]);
    await sent.waitFor();
    const replies = posts.slice(before).filter((p) => p.op === 'reply');
    expect(replies.length).toBeGreaterThanOrEqual(2);
    expect(new Set(replies.map((r) => r.body.clientId)).size).toBe(1);
    await expect(sent.count()).resolves.toBe(1);
  });

  test('the metrics page draws its charts', async () => {
    await testId('nav-metrics').click();
    for (const chart of ['chart-times', 'chart-volume', 'chart-distribution']) await page.locator(`[data-test="${chart}"] canvas`).waitFor();
    await expect(testId('metric-frt').innerText()).resolves.toMatch(/First response/);
    await expect(page.locator('.cards [data-test^="metric-"]').count()).resolves.toBe(9);
    await expect(testId('metrics-definitions').count()).resolves.toBe(1);
    const firstCanvas = await page.locator('[data-test="chart-volume"] canvas').elementHandle();
    await testId('metrics-period').selectOption('30');
    // A new report redraws the charts (new canvases), with 30 daily bars.
    await page.waitForFunction((old) => {
      const now = (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector('[data-test="chart-volume"] canvas');
      return now && now !== old;
    }, firstCanvas);
    await shot('metrics');
  });

  test('a 401 returns to the sign-in screen', async () => {
    sessions.clear();
    await testId('nav-inbox').click();
    await testId('signin-form').waitFor({ state: 'visible' });
    await expect(testId('signin-error').textContent()).resolves.toMatch(/session has ended/);
    await shot('signin');
    // And the password form signs in again.
    await testId('signin-agent').fill('ana');
    await testId('signin-password').fill('correct horse battery');
    await testId('signin-submit').click();
    await testId('inbox-row').first().waitFor({ state: 'visible' });
    expect(problems).toEqual([]);
  });
});

function statSizeKb(path: string): number {
  return readFileSync(path).length / 1024;
}
