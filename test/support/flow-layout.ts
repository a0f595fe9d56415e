/**
 * Where a Node-RED flow's nodes sit in the editor, without a browser: each node's box as the editor draws
 * it (x, y are its centre; height 30, or 15 per output when it has more than two; width from its label,
 * rounded up to 20 px as the editor does, at least 100) and the pairs on one tab whose boxes overlap.
 * The label is the node's name, or the label its editor definition gives (our .html files run against a
 * stand-in RED; core nodes by their defaults).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';

const ROOT = join(__dirname, '..', '..');

export interface PlacedNode {
  id: string;
  type: string;
  z?: string;
  x?: number;
  y?: number;
  name?: string;
  wires?: unknown[];
  [key: string]: unknown;
}

export interface Box {
  id: string;
  label: string;
  z: string;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

type Definition = { label?: string | ((this: PlacedNode) => string); outputs?: number; inputs?: number };
const definitions = new Map<string, Definition | undefined>();

function definitionOf(type: string): Definition | undefined {
  if (!type.startsWith('omnithread-')) return undefined;
  if (!definitions.has(type)) {
    const html = readFileSync(join(ROOT, 'nodes', 'node-red', `${type}.html`), 'utf8');
    let found: Definition | undefined;
    const validator = () => () => true;
    for (const [, script] of html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)) {
      runInNewContext(script, { RED: { nodes: { registerType: (t: string, d: Definition) => t === type && (found = d) }, validators: { number: validator, regex: validator } } });
    }
    definitions.set(type, found);
  }
  return definitions.get(type);
}

/** The label the editor shows for a node. */
export function labelOf(node: PlacedNode): string {
  if (node.name) return String(node.name);
  const def = definitionOf(node.type);
  if (def) return typeof def.label === 'function' ? def.label.call(node) : String(def.label ?? node.type);
  switch (node.type) {
    case 'change':
      return `change: ${(node.rules as unknown[] | undefined)?.length ?? 0} rules`;
    case 'catch':
      return Array.isArray(node.scope) ? `catch: ${node.scope.length}` : 'catch: all';
    case 'http response':
      return node.statusCode ? `http (${String(node.statusCode)})` : 'http';
    case 'http in':
      return `[${String(node.method ?? 'get')}] ${String(node.url ?? '')}`;
    default:
      return node.type;
  }
}

/** About 7.5 px a character in the editor's 14px sans-serif label font (a little more than average). */
const CHAR_WIDTH = 7.5;

export function boxOf(node: PlacedNode): Box {
  const label = labelOf(node);
  const def = definitionOf(node.type);
  const inputs = def ? (def.inputs ?? 0) : ['comment', 'inject', 'catch', 'status', 'complete', 'http in', 'link in'].includes(node.type) ? 0 : 1;
  // Node-RED: w = max(100, 20 * ceil((labelWidth + 50 + (inputs ? 7 : 0)) / 20)); h = max(30, outputs * 15).
  const width = Math.max(100, 20 * Math.ceil((label.length * CHAR_WIDTH + 50 + (inputs ? 7 : 0)) / 20));
  const outputs = Array.isArray(node.wires) ? node.wires.length : 0;
  const height = Math.max(30, outputs * 15);
  const x = Number(node.x);
  const y = Number(node.y);
  return { id: node.id, label, z: String(node.z), left: x - width / 2, right: x + width / 2, top: y - height / 2, bottom: y + height / 2 };
}

/** Pairs of nodes on the same tab whose boxes overlap or come closer than `gap` px. */
export function overlaps(flow: PlacedNode[], gap = 0): string[] {
  const placed = flow.filter((n) => n.z && typeof n.x === 'number' && typeof n.y === 'number' && n.type !== 'tab' && n.type !== 'group').map(boxOf);
  const out: string[] = [];
  for (let i = 0; i < placed.length; i++) {
    for (let j = i + 1; j < placed.length; j++) {
      const a = placed[i];
      const b = placed[j];
      if (a.z !== b.z) continue;
      const apart = a.right + gap <= b.left || b.right + gap <= a.left || a.bottom + gap <= b.top || b.bottom + gap <= a.top;
      if (!apart) out.push(`"${a.label}" and "${b.label}" overlap on tab ${a.z}`);
    }
  }
  return out;
}

/** Nodes placed off the canvas's top or left edge (negative coordinates are hidden in the editor). */
export function offCanvas(flow: PlacedNode[]): string[] {
  return flow
    .filter((n) => n.z && typeof n.x === 'number' && typeof n.y === 'number')
    .map(boxOf)
    .filter((b) => b.left < 0 || b.top < 0)
    .map((b) => `"${b.label}" is off the canvas`);
}
