/**
 * The Node-RED editor in a real browser, as a new user meets it: `npm start` (scripts/demo.js, run as its
 * own process with the demo's data in a temp folder), opened in Debian's Chromium. Every node of the demo
 * flow, and of every shipped example deployed through the editor's admin API, must be valid in the editor (no red triangle), and the edit dialogs of the web
 * chat input and the email input show the rows of their settings.
 *
 * Why: the examples leave out the settings of channels they do not use, and an editor validator that
 * refuses `undefined` marked whole shipped flows as invalid, which no runtime test could see.
 * Skipped when /usr/bin/chromium is missing, except under CI (process.env.CI), where it fails.
 */
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { DemoProcess, startDemo } from '../support/demo-process';
import { browserSuite, launchChromium } from '../support/chromium';

const ROOT = join(__dirname, '..', '..');
const EXAMPLES = join(ROOT, 'workflows', 'node-red');
const OUT = join(ROOT, 'test-output');
/** The icon each node of ours wears in the palette (scripts/icons.js). */
const PALETTE_ICONS: Record<string, string> = {
  'omnithread-in': 'omnithread-trigger.svg',
  'omnithread-email-in': 'omnithread-email.svg',
  'omnithread-identity': 'omnithread-identity.svg',
  'omnithread-timeline': 'omnithread-timeline.svg',
  'omnithread-route': 'omnithread-route.svg',
  'omnithread-handoff': 'omnithread-handoff.svg',
  'omnithread-reply': 'omnithread-reply.svg',
  'omnithread-desk': 'omnithread-desk.svg',
};

const suite = browserSuite('the Node-RED editor in a real browser');


interface EditorNode {
  id: string;
  type: string;
  name?: string;
  valid: boolean;
  errors: string[];
}

suite('the Node-RED editor in a real browser (npm start)', () => {
  let demo: DemoProcess;
  let base: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    demo = await startDemo('Omnithread on Node-RED 5 is running');
    base = demo.base;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(base + '/');
    await page.waitForFunction(() => {
      const red = (globalThis as unknown as { RED?: { nodes?: { node(id: string): unknown } } }).RED;
      return Boolean(red?.nodes?.node('omnithread-demo-webchat-in'));
    }, null, { timeout: 40_000 });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  /** Every node the editor holds, with its validity as the editor computes it (the red triangle). */
  const editorNodes = (): Promise<EditorNode[]> =>
    page.evaluate(() => {
      type RedNode = { id: string; type: string; name?: string; valid?: boolean; validationErrors?: string[] };
      const red = (globalThis as unknown as {
        RED: { nodes: { eachNode(f: (n: RedNode) => void): void; eachConfig(f: (n: RedNode) => void): void }; editor: { validateNode(n: RedNode): void } };
      }).RED;
      const out: { id: string; type: string; name?: string; valid: boolean; errors: string[] }[] = [];
      const add = (n: RedNode) => {
        red.editor.validateNode(n);
        out.push({ id: n.id, type: n.type, name: n.name, valid: n.valid !== false, errors: n.validationErrors ?? [] });
      };
      red.nodes.eachNode(add);
      red.nodes.eachConfig(add);
      return out;
    });

  test('every node of the demo flow is valid in the editor', async () => {
    const nodes = await editorNodes();
    expect(nodes.filter((n) => n.type.startsWith('omnithread-')).length).toBeGreaterThanOrEqual(7);
    expect(nodes.filter((n) => !n.valid)).toEqual([]);
  });

  test('the web chat input shows its own settings, and none of the other channels', async () => {
    const rows = await dialogRows('omnithread-demo-webchat-in');
    expect(rows).toEqual(expect.arrayContaining(['Channel', 'Path', 'Site ID', 'Identity Secret', 'Allowed Origins', 'Widget Title', 'Widget Greeting']));
    expect(rows).not.toEqual(expect.arrayContaining(['App Secret']));
    expect(rows).not.toContain('Bot Token');
  });

  /** Pairs of nodes on a tab whose boxes, as the editor drew them (x, y centre; w, h), overlap. */
  const drawnOverlaps = async (tab: string): Promise<string[]> => {
    await page.evaluate((id) => {
      const red = (globalThis as unknown as { RED: { workspaces: { show(id: string): void }; view: { redraw(full: boolean): void } } }).RED;
      red.workspaces.show(id);
      red.view.redraw(true);
    }, tab);
    await page.waitForTimeout(300);
    const boxes = await page.evaluate((id) => {
      type Drawn = { id: string; type: string; name?: string; x: number; y: number; w?: number; h?: number };
      const red = (globalThis as unknown as { RED: { nodes: { filterNodes(f: { z: string }): Drawn[] }; utils: { getNodeLabel(n: Drawn, d: string): string } } }).RED;
      return red.nodes.filterNodes({ z: id }).map((n) => ({ label: red.utils.getNodeLabel(n, n.type), x: n.x, y: n.y, w: n.w ?? 0, h: n.h ?? 0 }));
    }, tab);
    expect(boxes.every((b) => b.w >= 100 && b.h >= 30)).toBe(true); // drawn, so measured
    const out: string[] = [];
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        if (Math.abs(a.x - b.x) < (a.w + b.w) / 2 && Math.abs(a.y - b.y) < (a.h + b.h) / 2) out.push(`"${a.label}" and "${b.label}"`);
      }
      if (boxes[i].x - boxes[i].w / 2 < 0 || boxes[i].y - boxes[i].h / 2 < 0) out.push(`"${boxes[i].label}" off the canvas`);
    }
    return out;
  };

  test('no two nodes of the demo overlap as the editor draws them, on any tab', async () => {
    const tabs = await page.evaluate(() => {
      const red = (globalThis as unknown as { RED: { nodes: { eachWorkspace(f: (w: { id: string }) => void): void } } }).RED;
      const ids: string[] = [];
      red.nodes.eachWorkspace((w) => ids.push(w.id));
      return ids;
    });
    expect(tabs.length).toBeGreaterThanOrEqual(3);
    for (const tab of tabs) expect({ tab, overlaps: await drawnOverlaps(tab) }).toEqual({ tab, overlaps: [] });
  });

  test('the palette shows every node of ours, each with its own icon (test-output/node-red-palette.png)', async () => {
    await page.evaluate(() => {
      const red = (globalThis as unknown as { RED: { palette?: { refresh?(): void } } }).RED;
      red.palette?.refresh?.();
    });
    const search = page.locator('#red-ui-palette-search input');
    await search.fill('');
    await search.pressSequentially('omnithread', { delay: 20 });
    await page.waitForTimeout(600);
    const shown = await page.$$eval('#red-ui-palette-container-omnithread .red-ui-palette-node', (all) =>
      all
        .filter((n) => (n as unknown as { offsetParent: unknown }).offsetParent !== null)
        .map((n) => {
          // Runs in the page: the DOM's getComputedStyle, typed here without the DOM library.
          const style = (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundImage: string } }).getComputedStyle(n.querySelector('.red-ui-palette-icon'));
          return { type: n.getAttribute('data-palette-type') ?? '', icon: style.backgroundImage };
        }),
    );
    expect(shown.map((n) => n.type).sort()).toEqual(Object.keys(PALETTE_ICONS).sort());
    for (const node of shown) {
      expect({ type: node.type, icon: node.icon }).toEqual({ type: node.type, icon: expect.stringContaining(`/${PALETTE_ICONS[node.type]}`) });
      const url = /url\("?([^")]+)"?\)/.exec(node.icon)![1];
      const icon = await fetch(url.startsWith('http') ? url : `${base}/${url.replace(/^\//, '')}`);
      expect({ type: node.type, status: icon.status, svg: (await icon.text()).startsWith('<svg') }).toEqual({ type: node.type, status: 200, svg: true });
    }
    mkdirSync(OUT, { recursive: true });
    // The filter box, the omnithread category's header and its nodes (in Node-RED 5 the palette is a
    // section of the left sidebar, so the shot is clipped to those three).
    await page.locator('#red-ui-palette-container-omnithread').scrollIntoViewIfNeeded();
    const parts = await Promise.all(['#red-ui-palette-search', '#red-ui-palette-header-omnithread', '#red-ui-palette-container-omnithread'].map((sel) => page.locator(sel).boundingBox()));
    const boxes = parts.filter((b): b is NonNullable<typeof b> => Boolean(b));
    const left = Math.max(0, Math.min(...boxes.map((b) => b.x)) - 4);
    const top = Math.max(0, Math.min(...boxes.map((b) => b.y)) - 4);
    const clip = { x: left, y: top, width: Math.max(...boxes.map((b) => b.x + b.width)) - left + 4, height: Math.max(...boxes.map((b) => b.y + b.height)) - top + 4 };
    await page.screenshot({ path: join(OUT, 'node-red-palette.png'), clip });
    await search.fill('');
    await search.press('Escape');
  });

  test('the continuity tab on the canvas (test-output/node-red-canvas.png)', async () => {
    const example = JSON.parse(readFileSync(join(EXAMPLES, 'continuity-basics.json'), 'utf8')) as { z?: string }[];
    await page.setViewportSize({ width: 1760, height: 900 });
    await page.evaluate((id) => {
      const red = (globalThis as unknown as { RED: { workspaces: { show(id: string): void }; menu: { setSelected(id: string, on: boolean): void }; view: { redraw(full: boolean): void } } }).RED;
      red.menu.setSelected('menu-item-right-sidebar', false);
      red.workspaces.show(id);
      red.view.redraw(true);
    }, example.find((n) => n.z)!.z!);
    await page.waitForTimeout(800);
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'node-red-canvas.png') });
    await page.evaluate(() => (globalThis as unknown as { RED: { menu: { setSelected(id: string, on: boolean): void } } }).RED.menu.setSelected('menu-item-right-sidebar', true));
    await page.setViewportSize({ width: 1400, height: 1000 });
  });

  test.each(readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')))('the shipped example %s, deployed and opened in the editor, has every node valid', async (file) => {
    const example = JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as { id: string; type: string; z?: string }[];
    const tabs = [...new Set(example.map((n) => n.z).filter(Boolean))].map((id) => ({ id, type: 'tab', label: file }));
    // Deployed as the whole flow through the editor's own admin API, then the editor is loaded again.
    const deployed = await fetch(`${base}/flows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'node-red-deployment-type': 'full', 'node-red-api-version': 'v1' },
      body: JSON.stringify([...tabs, ...example]),
    });
    expect(deployed.status).toBe(204);
    await page.reload();
    await page.waitForFunction((id) => {
      const red = (globalThis as unknown as { RED?: { nodes?: { node(id: string): unknown } } }).RED;
      return Boolean(red?.nodes?.node(id));
    }, example.find((n) => n.type.startsWith('omnithread-') && n.z)!.id, { timeout: 30_000 });
    const nodes = await editorNodes();
    expect(nodes.filter((n) => n.type.startsWith('omnithread-')).length).toBeGreaterThanOrEqual(3);
    expect(nodes.filter((n) => !n.valid)).toEqual([]);
    for (const tab of tabs) expect({ tab: tab.id, overlaps: await drawnOverlaps(tab.id!) }).toEqual({ tab: tab.id, overlaps: [] });
  });

  /** The labels of the visible rows of a node's edit dialog. */
  async function dialogRows(id: string): Promise<string[]> {
    await page.evaluate((nodeId) => {
      const red = (globalThis as unknown as { RED: { editor: { edit(n: unknown): void }; nodes: { node(id: string): unknown } } }).RED;
      red.editor.edit(red.nodes.node(nodeId));
    }, id);
    await page.locator('.red-ui-tray .form-row').first().waitFor({ state: 'visible' });
    await page.waitForTimeout(500);
    const rows = await page.$$eval('.red-ui-tray .form-row', (all) =>
      all
        .filter((r) => (r as unknown as { offsetParent: unknown }).offsetParent !== null)
        .map((r) => (r.querySelector('label')?.textContent ?? '').trim())
        .filter(Boolean),
    );
    await page.evaluate(() => (globalThis as unknown as { RED: { tray: { close(): void } } }).RED.tray.close());
    await page.waitForTimeout(500);
    return rows;
  }

});
