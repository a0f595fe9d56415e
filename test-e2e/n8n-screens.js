// The n8n editor as a user sees it after installing the package, in Debian's Chromium (playwright-core,
// never a downloaded browser): the owner account set up headlessly, then the node creator searched for
// "Omnithread" (test-output/n8n-palette.png) and an imported template's canvas (test-output/n8n-canvas.png),
// each Omnithread node with its own icon. Also, through n8n's REST API as that owner, the templates the
// e2e imported: each one stored whole, every node type and version known to this n8n, the published ones
// active without an activation error.
const fs = require('node:fs');
const path = require('node:path');
const { root, log, fetchAnswer } = require('./lib');

const CHROMIUM = '/usr/bin/chromium';
const OWNER = { email: 'owner@omnithread-e2e.test', firstName: 'E2E', lastName: 'Owner', password: 'E2e-owner-Passw0rd' };
const OUR_PREFIX = '@omnithread/n8n-nodes-omnithread.';
const MIN_PALETTE_NODES = 7;

/** fetch with a deadline: a hung n8n answers a clear failure, never a hung run. */
const request = (url, options = {}, timeoutMs = 15000) => fetchAnswer(url, { ...options, signal: AbortSignal.timeout(timeoutMs) });

const postJson = (url, body, headers = {}) => request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** The owner of a fresh n8n, set up without a browser, then signed in: the n8n-auth cookie's value. */
async function ownerSession(base) {
  const setup = await postJson(`${base}/rest/owner/setup`, OWNER);
  if (setup.status !== 200) throw new Error(`POST /rest/owner/setup answered ${setup.status}: ${setup.text.slice(0, 300)}`);
  const login = await postJson(`${base}/rest/login`, { emailOrLdapLoginId: OWNER.email, password: OWNER.password });
  const token = /n8n-auth=([^;]+)/.exec(login.headers.get('set-cookie') || '');
  if (login.status !== 200 || !token) throw new Error(`POST /rest/login answered ${login.status} without an n8n-auth cookie: ${login.text.slice(0, 300)}`);
  return token[1];
}

/**
 * Each template as n8n stored it (every node, every node type and version known to this n8n) and, for
 * the published ones, active with no activation error and its webhook registered (not a 404).
 */
async function templateChecks({ base, record, cookie, nodeTypes, imported, published, webhooks }) {
  const headers = { cookie: `n8n-auth=${cookie}` };
  // A node type with several version lines is listed once per line: every version of every entry.
  const known = new Map();
  for (const t of nodeTypes) known.set(t.name, [...(known.get(t.name) || []), ...[].concat(t.version)]);
  const active = await request(`${base}/rest/active-workflows`, { headers });
  const activeIds = new Set(Array.isArray(active.json && active.json.data) ? active.json.data : []);
  for (const template of imported) {
    const problems = [];
    const stored = await request(`${base}/rest/workflows/${template.id}`, { headers });
    const workflow = stored.json && stored.json.data;
    if (stored.status !== 200 || !workflow) {
      record(`n8n: template ${template.id} imported`, [`GET /rest/workflows/${template.id} answered ${stored.status}: ${stored.text.slice(0, 200)}`]);
      continue;
    }
    const names = (workflow.nodes || []).map((n) => n.name).sort();
    const expected = template.nodes.map((n) => n.name).sort();
    if (JSON.stringify(names) !== JSON.stringify(expected)) problems.push(`stored nodes ${JSON.stringify(names)}, the template has ${JSON.stringify(expected)}`);
    for (const node of workflow.nodes || []) {
      const versions = known.get(node.type);
      if (!versions) problems.push(`${node.name}: n8n does not know the node type ${node.type}`);
      else if (!versions.includes(node.typeVersion)) problems.push(`${node.name}: ${node.type} version ${node.typeVersion} unknown (n8n has ${versions.join(', ')})`);
    }
    const publish = published.includes(template.id);
    if (publish) {
      if (!activeIds.has(template.id)) problems.push(`not active after publish:workflow (active: ${[...activeIds].join(', ')})`);
      const error = await request(`${base}/rest/active-workflows/error/${template.id}`, { headers });
      if (error.json && error.json.data) problems.push(`activation error: ${JSON.stringify(error.json.data).slice(0, 300)}`);
      for (const url of webhooks[template.id] || []) {
        const hook = await postJson(url, {});
        if (hook.status === 404) problems.push(`its webhook ${url} is not registered (404: ${hook.text.slice(0, 200)})`);
      }
    }
    record(`n8n: template ${template.id} imported whole (${template.nodes.length} nodes, every type and version known to n8n)${publish ? ', published and active' : ''}`, problems);
  }
}

/** The icon of each of our node types as n8n serves it (light and dark), from /types/nodes.json. */
function ourIcons(nodeTypes) {
  const icons = new Map();
  for (const t of nodeTypes) {
    if (!t.name.startsWith(OUR_PREFIX) || !t.iconUrl) continue;
    const urls = typeof t.iconUrl === 'string' ? [t.iconUrl] : Object.values(t.iconUrl);
    icons.set(t.name, { displayName: t.displayName, urls: urls.map((u) => `/${String(u).replace(/^\/+/, '')}`) });
  }
  return icons;
}

/** Problems with the icon images drawn for our nodes: each loaded, each its own type's icon. */
function iconProblems(drawn, expectedFor) {
  const problems = [];
  for (const item of drawn) {
    const expected = expectedFor(item);
    if (!expected) continue;
    if (!item.src) problems.push(`${item.label}: no icon image (${item.fallback || 'no img'})`);
    else if (!expected.urls.some((u) => item.src.endsWith(u))) problems.push(`${item.label}: icon ${item.src}, expected ${expected.urls[0]}`);
    else if (!item.loaded) problems.push(`${item.label}: icon ${item.src} did not load`);
  }
  return problems;
}

/** Boxes (x, y, w, h) that overlap by more than a couple of pixels each way. */
function overlapping(a, b) {
  const dx = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const dy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return dx > 2 && dy > 2;
}

/**
 * Called once from n8nE2e, n8n up: base is its address, record the e2e's check recorder, canvasId the
 * template opened on the canvas; imported, published and webhooks describe the templates to check.
 */
async function n8nScreens({ base, record, canvasId, imported = [], published = [], webhooks = {} }) {
  const started = Date.now();
  const out = path.join(root, 'test-output');
  fs.mkdirSync(out, { recursive: true });
  let cookie;
  try {
    cookie = await ownerSession(base);
    record('n8n: the owner account set up headlessly (POST /rest/owner/setup) and signed in (POST /rest/login)', []);
  } catch (error) {
    record('n8n: the owner account set up headlessly (POST /rest/owner/setup) and signed in (POST /rest/login)', [String(error.message || error)]);
    return;
  }
  let nodeTypes = [];
  try {
    const types = await request(`${base}/types/nodes.json`, { headers: { cookie: `n8n-auth=${cookie}` } }, 60000);
    if (!Array.isArray(types.json)) throw new Error(`/types/nodes.json answered ${types.status}: ${types.text.slice(0, 200)}`);
    nodeTypes = types.json;
    await templateChecks({ base, record, cookie, nodeTypes, imported, published, webhooks });
  } catch (error) {
    record('n8n: the imported templates as n8n stored them', [String(error.message || error)]);
  }
  const icons = ourIcons(nodeTypes);

  if (!fs.existsSync(CHROMIUM)) return record('n8n: the editor in Chromium', [`${CHROMIUM} is missing: apt-get install -y chromium`]);
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  // A hard deadline on the whole browser part: a page that never settles is a failure, never a hang.
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('the n8n editor part did not finish within 120 s')), 120_000);
  });
  const step = { name: 'signing in' };
  let page;
  try {
    await Promise.race([
      deadline,
      (async () => {
        const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
        await context.addCookies([{ name: 'n8n-auth', value: cookie, url: base }]);
        page = await context.newPage();
        page.setDefaultTimeout(20_000);
        // n8n's calls to its own services (api.n8n.io, telemetry) fail offline: answered at once here.
        await page.route((url) => !url.href.startsWith(base), (route) => route.abort());

        // The template's canvas.
        step.name = `opening /workflow/${canvasId}`;
        await page.goto(`${base}/workflow/${canvasId}`, { waitUntil: 'domcontentloaded', timeout: 60_000 });
        if (/\/signin/.test(page.url())) throw new Error(`the editor sent the signed-in owner to ${page.url()}`);
        await page.locator('[data-test-id="canvas-node"]').first().waitFor({ timeout: 60_000 });
        await page.waitForFunction(() => [...document.querySelectorAll('[data-test-id="canvas-node"] img')].every((i) => i.complete), null, { timeout: 15_000 }).catch(() => {});
        await page.waitForTimeout(800); // the fit-to-view animation
        await page.screenshot({ path: path.join(out, 'n8n-canvas.png') });
        const canvas = await page.$$eval('[data-test-id="canvas-node"]', (els) =>
          els.map((e) => {
            const img = e.querySelector('img');
            const r = e.getBoundingClientRect();
            return {
              label: e.getAttribute('data-node-name'),
              type: e.getAttribute('data-node-type'),
              src: img ? img.getAttribute('src') : '',
              loaded: Boolean(img && img.complete && img.naturalWidth > 0),
              fallback: img ? '' : (e.querySelector('[class*="nodeIcon"], [class*="icon"]') || e).textContent.trim().slice(0, 40),
              box: { x: r.x, y: r.y, w: r.width, h: r.height },
            };
          }),
        );
        const stickies = await page.$$eval('[data-test-id="sticky"]', (els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ x: r.x, y: r.y, w: r.width, h: r.height })));
        const ours = canvas.filter((n) => String(n.type).startsWith(OUR_PREFIX));
        const canvasProblems = ours.length ? iconProblems(ours, (n) => icons.get(n.type)) : ['no Omnithread node on the canvas'];
        record(`n8n: the ${canvasId} canvas shows each of its ${ours.length} Omnithread nodes with its own icon (test-output/n8n-canvas.png)`, canvasProblems);
        const overlaps = [];
        for (const [i, a] of canvas.entries()) {
          for (const b of canvas.slice(i + 1)) if (overlapping(a.box, b.box)) overlaps.push(`${a.label} and ${b.label}`);
          for (const s of stickies) if (overlapping(a.box, s)) overlaps.push(`${a.label} sits on a sticky note`);
        }
        record(`n8n: on the ${canvasId} canvas no node overlaps another node or a sticky note`, overlaps);

        // The node creator, searched for "Omnithread": tall enough to show every node of ours.
        step.name = 'opening the node creator';
        await page.setViewportSize({ width: 1400, height: 1700 });
        await page.locator('[data-test-id="node-creator-plus-button"]').click();
        const search = page.locator('[data-test-id="node-creator-search-bar"] input, input[data-test-id="node-creator-search-bar"]').first();
        await search.waitFor();
        await search.fill('Omnithread');
        step.name = 'waiting for the Omnithread nodes in the node creator';
        await page
          .waitForFunction(
            (min) => [...document.querySelectorAll('[data-test-id="node-creator-item-name"]')].filter((e) => /^Omnithread/.test(e.textContent.trim())).length >= min,
            MIN_PALETTE_NODES,
            { timeout: 15_000 },
          )
          .catch(() => {});
        await page.waitForFunction(() => [...document.querySelectorAll('[data-test-id="item-iterator-item"] img')].every((i) => i.complete), null, { timeout: 10_000 }).catch(() => {});
        await page.waitForTimeout(500);
        await page.screenshot({ path: path.join(out, 'n8n-palette.png') });
        // Nodes with operations are listed as action items, the others as node items: both in an item-iterator-item.
        const listed = await page.$$eval('[data-test-id="item-iterator-item"]', (els) =>
          els.map((e) => {
            const img = e.querySelector('img');
            return {
              label: (e.querySelector('[data-test-id="node-creator-item-name"]') || e).textContent.trim(),
              src: img ? img.getAttribute('src') : '',
              loaded: Boolean(img && img.complete && img.naturalWidth > 0),
              fallback: img ? '' : e.textContent.trim().slice(0, 40),
            };
          }),
        );
        const named = listed.filter((n) => n.label.startsWith('Omnithread'));
        const byName = new Map([...icons.values()].map((i) => [i.displayName, i]));
        const paletteProblems = iconProblems(named, (n) => byName.get(n.label) || { urls: ['/icons/@omnithread/'] });
        if (named.length < MIN_PALETTE_NODES) paletteProblems.unshift(`${named.length} Omnithread nodes listed (at least ${MIN_PALETTE_NODES} expected): ${JSON.stringify(listed.map((n) => n.label))}`);
        const srcs = named.map((n) => n.src).filter(Boolean);
        if (new Set(srcs).size < Math.min(named.length, MIN_PALETTE_NODES)) paletteProblems.push(`the nodes share icons: ${JSON.stringify(srcs)}`);
        record(`n8n: the node creator lists ${named.length} Omnithread nodes for "Omnithread", each with its own icon (test-output/n8n-palette.png)`, paletteProblems);
      })(),
    ]);
  } catch (error) {
    const problems = [`while ${step.name}: ${String(error.message || error).split('\n')[0]}`];
    if (page) {
      const shot = path.join(out, 'n8n-failure.png');
      await page.screenshot({ path: shot }).then(() => problems.push(`the page then: ${shot}`), () => {});
      const ids = await page.$$eval('[data-test-id]', (els) => [...new Set(els.map((e) => e.getAttribute('data-test-id')))].slice(0, 60).join(' ')).catch(() => '');
      if (ids) problems.push(`data-test-ids on the page: ${ids}`);
    }
    record('n8n: the editor in Chromium (node creator and template canvas screenshots)', problems);
  } finally {
    clearTimeout(timer);
    await browser.close().catch(() => {});
    log(`n8n editor screenshots and template checks in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
}

module.exports = { n8nScreens };
