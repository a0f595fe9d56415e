/**
 * What Node-RED and the Flow Library need from the package, checked without starting Node-RED: each
 * node's editor file (a literal registerType, a template with an input per property, help), icons,
 * credentials declared in both the runtime and the editor, store fields named as the shared schema, a
 * settings row per channel setting, and examples covering every node.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { CHANNELS, NodeStoreSettingsSchema } from '../../shared';

const ROOT = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
const TYPES = Object.keys(pkg['node-red'].nodes);

interface EditorDef {
  category: string;
  icon?: string;
  defaults: Record<string, { value: unknown; type?: string }>;
  credentials?: Record<string, { type: string }>;
  label: unknown;
  paletteLabel?: unknown;
}

/** The editor definitions an .html registers, by running its script against a stand-in RED. */
function editorOf(type: string): { html: string; defs: Record<string, EditorDef>; template: string; help: string } {
  const html = readFileSync(join(ROOT, 'nodes', 'node-red', `${type}.html`), 'utf8');
  const defs: Record<string, EditorDef> = {};
  const scripts = [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  const validator = () => () => true;
  for (const script of scripts) {
    runInNewContext(script, { RED: { nodes: { registerType: (t: string, d: EditorDef) => (defs[t] = d) }, validators: { number: validator, regex: validator } } });
  }
  const template = new RegExp(`<script type="text/html" data-template-name="${type}">([\\s\\S]*?)</script>`).exec(html)?.[1] ?? '';
  const help = new RegExp(`<script type="text/markdown" data-help-name="${type}">([\\s\\S]*?)</script>`).exec(html)?.[1] ?? '';
  return { html, defs, template, help };
}

/** What the runtime module registers: types and their credentials. */
function runtimeOf(type: string): Record<string, { credentials?: Record<string, unknown> }> {
  const registered: Record<string, { credentials?: Record<string, unknown> }> = {};
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const init = require(join(ROOT, 'nodes', 'node-red', `${type}.ts`)) as (red: unknown) => void;
  init({
    nodes: { registerType: (t: string, _ctor: unknown, options: { credentials?: Record<string, unknown> } = {}) => (registered[t] = options) },
    httpAdmin: { get: () => undefined },
    auth: { needsPermission: () => () => undefined },
    settings: {},
  });
  return registered;
}

describe.each(TYPES)('%s', (type) => {
  const { html, defs, template, help } = editorOf(type);
  const def = defs[type];

  test('is registered by its runtime file and its editor file, with the same credentials', () => {
    expect(Object.keys(defs)).toEqual([type]);
    expect(html).toContain(`RED.nodes.registerType('${type}', {`); // a literal definition, as the Flow Library scorecard reads it
    const runtime = runtimeOf(type);
    expect(Object.keys(runtime)).toEqual([type]);
    expect(Object.keys(runtime[type].credentials ?? {}).sort()).toEqual(Object.keys(def.credentials ?? {}).sort());
    expect(pkg['node-red'].nodes[type]).toBe(`dist/nodes/node-red/${type}.js`);
  });

  test('has a template input for every property and help for it', () => {
    const prefix = def.category === 'config' ? 'node-config-input-' : 'node-input-';
    for (const key of [...Object.keys(def.defaults), ...Object.keys(def.credentials ?? {})]) {
      expect({ key, hasInput: template.includes(`id="${prefix}${key}"`) }).toEqual({ key, hasInput: true });
    }
    expect(help).toMatch(/### Properties/);
    if (def.category !== 'config') {
      expect(def.category).toBe('omnithread');
      expect(help).toMatch(/### Outputs/);
      expect(def.icon).toBe(ICONS[type]);
      expect(def.defaults.store).toMatchObject({ type: 'omnithread-store' });
    }
  });
});

/** Each node's own icon (drawn by scripts/icons.js, the same designs as the n8n nodes'). */
const ICONS: Record<string, string> = {
  'omnithread-in': 'omnithread-trigger.svg',
  'omnithread-email-in': 'omnithread-email.svg',
  'omnithread-identity': 'omnithread-identity.svg',
  'omnithread-timeline': 'omnithread-timeline.svg',
  'omnithread-reply': 'omnithread-reply.svg',
  'omnithread-route': 'omnithread-route.svg',
  'omnithread-handoff': 'omnithread-handoff.svg',
  'omnithread-desk': 'omnithread-desk.svg',
  'omnithread-store': 'omnithread-store.svg',
  'omnithread-channel': 'omnithread-channel.svg',
  'omnithread-llm': 'omnithread-llm.svg',
};

test('every node has its own icon: a white 40x60 SVG next to the nodes (copied to dist by the build)', () => {
  const icons = TYPES.map((type) => editorOf(type).defs[type].icon);
  expect(icons).toEqual(TYPES.map((type) => ICONS[type]));
  expect(new Set(icons).size).toBe(TYPES.length);
  const drawings = new Set<string>();
  for (const icon of icons) {
    const svg = readFileSync(join(ROOT, 'nodes', 'node-red', 'icons', icon!), 'utf8');
    expect(svg).toMatch(/<svg[^>]*width="40"[^>]*height="60"[^>]*viewBox="0 0 40 60"/);
    // Node-RED's icons are white on the node's colour.
    expect([...svg.matchAll(/(?:stroke|fill)="(#[0-9a-f]{3,6})"/gi)].map((m) => m[1].toLowerCase()).filter((c) => c !== '#ffffff')).toEqual([]);
    drawings.add(svg);
  }
  expect(drawings.size).toBe(TYPES.length);
  if (existsSync(join(ROOT, 'dist', 'nodes', 'node-red'))) {
    for (const type of TYPES) {
      expect(existsSync(join(ROOT, 'dist', 'nodes', 'node-red', `${type}.js`))).toBe(true);
      expect(existsSync(join(ROOT, 'dist', 'nodes', 'node-red', `${type}.html`))).toBe(true);
      expect(existsSync(join(ROOT, 'dist', 'nodes', 'node-red', 'icons', ICONS[type]))).toBe(true);
    }
  }
});

test('the store config offers exactly the shared store settings (secrets as credentials)', () => {
  const { defs } = editorOf('omnithread-store');
  const def = defs['omnithread-store'];
  const offered = [...Object.keys(def.defaults), ...Object.keys(def.credentials ?? {})].filter((k) => k !== 'name');
  expect(offered.sort()).toEqual(Object.keys(NodeStoreSettingsSchema.shape).sort());
  expect(Object.keys(def.credentials ?? {}).sort()).toEqual(['password', 'postgresUrl']);
});

test('omnithread-in has an editor row for every setting of every channel', () => {
  const { defs, template } = editorOf('omnithread-in');
  const def = defs['omnithread-in'];
  for (const channel of Object.values(CHANNELS)) {
    for (const secret of channel.secrets) expect({ channel: channel.id, secret, credential: secret in (def.credentials ?? {}) }).toEqual({ channel: channel.id, secret, credential: true });
    for (const key of channel.settings) {
      const row = new RegExp(`<div class="form-row omnithread-channel-row" data-channels="([^"]*)">\\s*<label for="node-input-${key}"`).exec(template);
      expect({ channel: channel.id, key, row: row?.[1].split(/\s+/).includes(channel.id) }).toEqual({ channel: channel.id, key, row: true });
      expect(key in def.defaults || key in (def.credentials ?? {})).toBe(true);
    }
  }
});

test('the examples use every non-config node', () => {
  // The Flow Library's check (N02): every node type appears in some example the package ships.
  const dir = join(ROOT, 'workflows', 'node-red');
  const examples = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const used = new Set(examples.flatMap((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { type: string }[]).map((n) => n.type)));
  for (const type of TYPES) expect(used.has(type)).toBe(true);
});

test("omnithread-in's rows follow each channel's settingFields: label, placeholder, input kind and default", () => {
  const { defs, template, help } = editorOf('omnithread-in');
  const def = defs['omnithread-in'];
  // Placeholders written for Node-RED users where the module's is another engine's URL.
  for (const channel of Object.values(CHANNELS)) {
    expect(template).toContain(`<option value="${channel.id}"`);
    for (const field of channel.settingFields ?? []) {
      const row = new RegExp(`<label for="node-input-${field.name}">(?:<i [^>]*></i>)?\\s*([^<]*)</label>\\s*<(input|select)([^>]*)>`).exec(template);
      const [, label, tag, attributes] = row ?? [];
      const kind = field.secret ? 'password' : field.type === 'boolean' ? 'checkbox' : field.type === 'options' ? 'select' : 'text';
      const shown = tag === 'select' ? 'select' : /type="([a-z]+)"/.exec(attributes ?? '')?.[1];
      expect({ channel: channel.id, field: field.name, label: label?.trim(), kind: shown }).toEqual({ channel: channel.id, field: field.name, label: field.displayName, kind });
      if (field.placeholder) expect({ field: field.name, attributes }).toEqual({ field: field.name, attributes: expect.stringContaining(`placeholder="${field.placeholder}"`) });
      if (field.secret) expect(def.credentials?.[field.name]).toEqual({ type: 'password' });
      else expect({ field: field.name, value: def.defaults[field.name]?.value }).toEqual({ field: field.name, value: field.default ?? '' });
      expect({ field: field.name, documented: help.includes(`: ${field.displayName} (`) }).toEqual({ field: field.name, documented: true });
      for (const option of field.options ?? []) expect(template).toContain(`<option value="${option.value}">`);
    }
  }
});

test('omnithread-in tells the editor each channel and its settings fields (GET omnithread/channels)', () => {
  let handler: ((req: unknown, res: { json: (body: unknown) => void }) => void) | undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const init = require(join(ROOT, 'nodes', 'node-red', 'omnithread-in.ts')) as (red: unknown) => void;
  init({
    nodes: { registerType: () => undefined },
    httpAdmin: { get: (_path: string, _auth: unknown, h: typeof handler) => (handler = h) },
    auth: { needsPermission: () => () => undefined },
    settings: {},
  });
  let body: { id: string; fields: { name: string; description: string }[] }[] = [];
  handler?.({}, { json: (b) => (body = b as typeof body) });
  expect(body.map((c) => c.id)).toEqual(Object.keys(CHANNELS));
  for (const c of body) expect(c.fields.map((f) => f.name)).toEqual((CHANNELS[c.id].settingFields ?? []).map((f) => f.name));
  expect(JSON.stringify(body)).not.toMatch(/"secret":true/);
});
