/**
 * The n8n half as n8n sees it: the built package loaded with n8n-core's PackageDirectoryLoader (what n8n
 * does for an installed community package), and the node descriptions checked for what users need:
 * help on every parameter, sorted options, the right codex and tool settings.
 */
import { PACKAGE, cleanupAfterAll, nodeTypeInstances } from '../support/n8n-harness';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PackageDirectoryLoader } from 'n8n-core';
import type { INodeProperties, INodePropertyCollection, INodePropertyOptions } from 'n8n-workflow';
import { OmnithreadStoreApi } from '../../credentials/OmnithreadStoreApi.credentials';
import { OmnithreadImapApi } from '../../credentials/OmnithreadImapApi.credentials';
import { OmnithreadSmtpApi } from '../../credentials/OmnithreadSmtpApi.credentials';
import { OmnithreadLlmApi } from '../../credentials/OmnithreadLlmApi.credentials';
import { OmnithreadReply } from '../../nodes/n8n/OmnithreadReply/OmnithreadReply.node';

cleanupAfterAll();

const root = join(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; n8n: { nodes: string[]; credentials: string[] } };

describe('the package as n8n loads it (after npm run build)', () => {
  test('n8n-core loads every node and the credential from the n8n key of package.json, with icons and codex', async () => {
    for (const file of [...manifest.n8n.nodes, ...manifest.n8n.credentials]) {
      expect({ file, built: existsSync(join(root, file)) }).toEqual({ file, built: true }); // npm run build first
    }
    const loader = new PackageDirectoryLoader(root);
    await loader.loadAll();
    expect(loader.packageName).toBe(PACKAGE);
    expect(Object.keys(loader.known.nodes).sort()).toEqual(['omnithreadAiRoute', 'omnithreadDesk', 'omnithreadEmailTrigger', 'omnithreadHandoff', 'omnithreadIdentityResolve', 'omnithreadReply', 'omnithreadTimelineLookup', 'omnithreadTrigger']);
    expect(Object.keys(loader.known.credentials).sort()).toEqual([
      'omnithreadDeskApi',
      'omnithreadImapApi',
      'omnithreadLlmApi',
      'omnithreadMetaPageApi',
      'omnithreadSmtpApi',
      'omnithreadStoreApi',
      'omnithreadTelegramApi',
      'omnithreadTwilioApi',
      'omnithreadWhatsAppApi',
      'omnithreadXApi',
    ]);
    expect(loader.known.credentials.omnithreadStoreApi.supportedNodes?.sort()).toEqual(['omnithreadAiRoute', 'omnithreadDesk', 'omnithreadEmailTrigger', 'omnithreadHandoff', 'omnithreadIdentityResolve', 'omnithreadReply', 'omnithreadTimelineLookup', 'omnithreadTrigger']);
    expect(loader.known.credentials.omnithreadWhatsAppApi.supportedNodes?.sort()).toEqual(['omnithreadDesk', 'omnithreadReply']);
    expect(loader.known.credentials.omnithreadDeskApi.supportedNodes).toEqual(['omnithreadDesk']);
    expect(loader.known.credentials.omnithreadSmtpApi.supportedNodes?.sort()).toEqual(['omnithreadDesk', 'omnithreadReply']);
    expect(loader.known.credentials.omnithreadImapApi.supportedNodes).toEqual(['omnithreadEmailTrigger']);
    expect(loader.known.credentials.omnithreadLlmApi.supportedNodes).toEqual(['omnithreadAiRoute']);
    // One icon per node, light and dark (scripts/icons.js), each a file n8n serves from the package.
    const lightIcons = new Set<string>();
    for (const description of loader.types.nodes) {
      const dir = `${description.name[0].toUpperCase()}${description.name.slice(1)}`;
      const icon = description.iconUrl as { light: string; dark: string };
      expect(icon).toEqual({
        light: expect.stringMatching(new RegExp(`^icons/${PACKAGE}/dist/nodes/n8n/${dir}/[a-z]+\\.svg$`)),
        dark: expect.stringMatching(new RegExp(`^icons/${PACKAGE}/dist/nodes/n8n/${dir}/[a-z]+\\.dark\\.svg$`)),
      });
      for (const url of [icon.light, icon.dark]) expect(existsSync(join(root, url.slice(`icons/${PACKAGE}/`.length)))).toBe(true);
      expect(readFileSync(join(root, icon.light.slice(`icons/${PACKAGE}/`.length)), 'utf8')).not.toEqual(readFileSync(join(root, icon.dark.slice(`icons/${PACKAGE}/`.length)), 'utf8'));
      lightIcons.add(readFileSync(join(root, icon.light.slice(`icons/${PACKAGE}/`.length)), 'utf8'));
      expect(description.codex?.categories).toEqual(expect.arrayContaining(['Communication']));
      expect(description.codex?.categories).not.toContain('AI');
    }
    expect(lightIcons.size).toBe(loader.types.nodes.length);
    for (const credential of loader.types.credentials) {
      const icon = credential.iconUrl as { light: string; dark: string };
      expect(icon.light).toMatch(new RegExp(`^icons/${PACKAGE}/dist/credentials/[a-z]+\\.svg$`));
      for (const url of [icon.light, icon.dark]) expect(existsSync(join(root, url.slice(`icons/${PACKAGE}/`.length)))).toBe(true);
    }
  });
});

function allProperties(properties: Array<INodeProperties | INodePropertyCollection | INodePropertyOptions>): INodeProperties[] {
  const out: INodeProperties[] = [];
  for (const p of properties) {
    if ('type' in p && 'displayName' in p) {
      out.push(p);
      if (p.options) out.push(...allProperties(p.options));
    } else if ('values' in p) {
      out.push(...allProperties(p.values));
    }
  }
  return out;
}

describe('node descriptions', () => {
  const subjects = [...Object.values(nodeTypeInstances).map((t) => [t.description.displayName, t.description.properties] as const), ['Omnithread Store API', new OmnithreadStoreApi().properties] as const,
    ['Omnithread IMAP API', new OmnithreadImapApi().properties] as const,
    ['Omnithread SMTP API', new OmnithreadSmtpApi().properties] as const,
    ['Omnithread LLM API', new OmnithreadLlmApi().properties] as const,
    ['Reply', new OmnithreadReply().description.properties] as const,
  ];

  test.each(subjects)('%s: every parameter has a description; options are sorted and described', (_name, properties) => {
    for (const property of allProperties([...properties])) {
      if (property.type === 'notice') continue;
      expect({ name: property.name, description: property.description }).toEqual({ name: property.name, description: expect.stringMatching(/\w{3}/) });
      if ((property.type === 'options' || property.type === 'multiOptions') && Array.isArray(property.options) && property.name !== 'operation') {
        const names = (property.options as INodePropertyOptions[]).map((o) => o.name);
        expect({ name: property.name, options: names }).toEqual({ name: property.name, options: [...names].sort((a, b) => a.localeCompare(b)) });
      }
    }
  });

  test('operations are sorted and each has an action; non-trigger nodes are usable as tools', () => {
    for (const nodeType of Object.values(nodeTypeInstances)) {
      const { description } = nodeType;
      expect(description.usableAsTool).toBe(description.group.includes('trigger') ? undefined : true);
      expect(description.description).toMatch(/\w+ \w+ \w+/);
      for (const operation of description.properties.filter((p) => p.name === 'operation')) {
        const options = operation.options as INodePropertyOptions[];
        expect(options.map((o) => o.name)).toEqual(options.map((o) => o.name).sort((a, b) => a.localeCompare(b)));
        expect(options.every((o) => o.action && o.description)).toBe(true);
      }
    }
  });

  test('names say Omnithread on the canvas; every credential slot has its own label in the node panel', () => {
    for (const nodeType of Object.values(nodeTypeInstances)) {
      const { description } = nodeType;
      expect(description.displayName).toMatch(/^Omnithread /);
      expect(description.defaults.name).toBe(description.displayName);
      // Without a displayName n8n labels each of several credentials "Credential".
      const labels = (description.credentials ?? []).map((c) => c.displayName);
      expect({ node: description.name, unlabelled: labels.filter((l) => !l) }).toEqual({ node: description.name, unlabelled: [] });
      expect(new Set(labels).size).toBe(labels.length);
    }
  });

  test('codex files name their node', () => {
    for (const nodeType of Object.values(nodeTypeInstances)) {
      const name = nodeType.description.name;
      const dir = `${name[0].toUpperCase()}${name.slice(1)}`;
      const codex = JSON.parse(readFileSync(join(root, 'nodes', 'n8n', dir, `${dir}.node.json`), 'utf8')) as { node: string };
      expect(codex.node).toBe(`${PACKAGE}.${name}`);
    }
  });
});
