/**
 * n8n's own node types our templates use, with the versions n8n 2.40 knows (read from n8n 2.40.7's
 * packages: n8n-nodes-base/dist/types/nodes.json and @n8n/n8n-nodes-langchain/dist/types/nodes.json), and
 * how each connects. A template test checks every node against this list (or against our own nodes), so a
 * template never names a type or version an n8n 2.x would not load. When the e2e run's n8n is installed
 * (~/.cache/omnithread-e2e/n8n-2.40.7), `installedN8nTypes()` reads the real lists to check this one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { IWorkflowBase } from 'n8n-workflow';
import { nodeTypeInstances } from './n8n-harness';
import { OmnithreadReply } from '../../nodes/n8n/OmnithreadReply/OmnithreadReply.node';

export const N8N_VERSION_CHECKED = '2.40.7';

export const BUILTIN_TYPES: Record<string, { versions: number[]; outputs: string[] }> = {
  'n8n-nodes-base.stickyNote': { versions: [1], outputs: [] },
  'n8n-nodes-base.httpRequest': { versions: [1, 2, 3, 4, 4.1, 4.2, 4.3, 4.4, 4.5], outputs: ['main'] },
  'n8n-nodes-base.scheduleTrigger': { versions: [1, 1.1, 1.2, 1.3, 1.4], outputs: ['main'] },
  'n8n-nodes-base.code': { versions: [1, 2], outputs: ['main'] },
  'n8n-nodes-base.emailSend': { versions: [1, 2, 2.1], outputs: ['main'] },
  'n8n-nodes-base.slack': { versions: [1, 2, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7], outputs: ['main'] },
  '@n8n/n8n-nodes-langchain.agent': { versions: [1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2, 2.1, 2.2, 3, 3.1], outputs: ['main'] },
  '@n8n/n8n-nodes-langchain.lmChatOpenAi': { versions: [1, 1.1, 1.2, 1.3], outputs: ['ai_languageModel'] },
};

export const PACKAGE = '@omnithread/n8n-nodes-omnithread';

/** Our node classes by type name; `<type>Tool` is the AI tool n8n makes of each node that sets usableAsTool. */
export function ourNodeDescription(type: string): { description: { name: string; usableAsTool?: unknown; polling?: boolean; properties: { name: string }[]; version: number | number[] }; tool: boolean } | undefined {
  if (!type.startsWith(`${PACKAGE}.`)) return undefined;
  const name = type.slice(PACKAGE.length + 1);
  const tool = name.endsWith('Tool');
  const base = tool ? name.slice(0, -4) : name;
  const all = [...Object.values(nodeTypeInstances), new OmnithreadReply()] as unknown as { description: { name: string; usableAsTool?: unknown; polling?: boolean; properties: { name: string }[]; version: number | number[] } }[];
  const found = all.find((n) => n.description.name === base);
  return found ? { description: found.description, tool } : undefined;
}

/** Problems with a template's node types and versions: each is n8n's (known version) or ours (a tool only if usableAsTool). */
export function typeProblems(template: IWorkflowBase): string[] {
  const problems: string[] = [];
  for (const node of template.nodes) {
    const builtin = BUILTIN_TYPES[node.type];
    const ours = ourNodeDescription(node.type);
    if (builtin) {
      if (!builtin.versions.includes(node.typeVersion)) problems.push(`${node.name}: ${node.type} has no version ${node.typeVersion} in n8n ${N8N_VERSION_CHECKED}`);
    } else if (ours) {
      const versions = ([] as number[]).concat(ours.description.version);
      if (!versions.includes(node.typeVersion)) problems.push(`${node.name}: ${node.type} has no version ${node.typeVersion}`);
      if (ours.tool && !ours.description.usableAsTool) problems.push(`${node.name}: ${node.type} is not usable as a tool`);
    } else problems.push(`${node.name}: unknown node type ${node.type}`);
  }
  return problems;
}

/** Parameters a node of ours is given that its description does not have (tools also take n8n's descriptionType/toolDescription). */
export function unknownParameters(template: IWorkflowBase): string[] {
  const problems: string[] = [];
  for (const node of template.nodes) {
    const ours = ourNodeDescription(node.type);
    if (!ours) continue;
    const known = new Set(ours.description.properties.map((p) => p.name));
    if (ours.tool) ['descriptionType', 'toolDescription'].forEach((p) => known.add(p));
    if (ours.description.polling) known.add('pollTimes'); // n8n adds the schedule to every polling trigger
    for (const key of Object.keys(node.parameters)) if (!known.has(key)) problems.push(`${node.name}: unknown parameter ${key}`);
  }
  return problems;
}

/** Connections that are not of the kind their source node puts out, or that lead to a node that does not exist. */
export function connectionProblems(template: IWorkflowBase): string[] {
  const problems: string[] = [];
  const byName = new Map(template.nodes.map((n) => [n.name, n]));
  for (const [source, outputs] of Object.entries(template.connections)) {
    const node = byName.get(source);
    if (!node) {
      problems.push(`connection from missing node ${source}`);
      continue;
    }
    const ours = ourNodeDescription(node.type);
    const kinds = BUILTIN_TYPES[node.type]?.outputs ?? (ours?.tool ? ['ai_tool'] : ['main']);
    for (const [kind, lists] of Object.entries(outputs)) {
      if (!kinds.includes(kind)) problems.push(`${source}: puts out ${kinds.join('/')}, connected as ${kind}`);
      for (const list of lists ?? []) {
        for (const target of list ?? []) {
          if (!byName.has(target.node)) problems.push(`${source} -> missing node ${target.node}`);
          if (target.type !== kind) problems.push(`${source} -> ${target.node}: ${kind} output into a ${target.type} input`);
        }
      }
    }
  }
  return problems;
}

/** n8n 2.40.7's own node lists when the e2e run has installed it, else undefined. */
export function installedN8nTypes(): Record<string, number[]> | undefined {
  const root = join(process.env.OMNITHREAD_E2E_CACHE || join(homedir(), '.cache', 'omnithread-e2e'), `n8n-${N8N_VERSION_CHECKED}`, 'node_modules');
  const files = [
    ['n8n-nodes-base', join(root, 'n8n-nodes-base', 'dist', 'types', 'nodes.json')],
    ['@n8n/n8n-nodes-langchain', join(root, '@n8n', 'n8n-nodes-langchain', 'dist', 'types', 'nodes.json')],
  ];
  if (!files.every(([, file]) => existsSync(file))) return undefined;
  const types: Record<string, number[]> = {};
  for (const [pkg, file] of files) {
    for (const node of JSON.parse(readFileSync(file, 'utf8')) as { name: string; version: number | number[] }[]) {
      const key = `${pkg}.${node.name}`;
      types[key] = [...new Set([...(types[key] ?? []), ...([] as number[]).concat(node.version)])].sort((a, b) => a - b);
    }
  }
  return types;
}

/** No credential ids, tokens or secrets ship with a template. */
export function secretProblems(template: IWorkflowBase): string[] {
  const problems: string[] = [];
  for (const node of template.nodes) if (node.credentials !== undefined) problems.push(`${node.name}: ships credentials`);
  const text = JSON.stringify({ ...template, pinData: undefined });
  for (const word of ['appSecret', 'accessToken', 'botToken', 'authToken', 'secretToken', 'identitySecret', 'apiKey', 'password']) if (text.includes(`"${word}"`)) problems.push(`a parameter ${word} is set`);
  return problems;
}
