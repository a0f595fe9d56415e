/**
 * Every n8n template in workflows/n8n, as a consultant ships it: node types and versions n8n 2.40 loads
 * (or ours; our AI tools only where the node sets usableAsTool), parameters our nodes know, connections of
 * the kind each node puts out, no credentials or secrets, and pinned sample data on every Omnithread
 * trigger that looks exactly like what the trigger emits and that the next step accepts ("Execute step"
 * before any channel is connected).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INodeExecutionData, IWorkflowBase } from 'n8n-workflow';
import { TYPES, chain, cleanupAfterAll, node, runWorkflow } from '../support/n8n-harness';
import { BUILTIN_TYPES, connectionProblems, installedN8nTypes, secretProblems, typeProblems, unknownParameters } from '../support/n8n-builtin-types';

cleanupAfterAll();

const DIR = join(__dirname, '..', '..', 'workflows', 'n8n');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json'));
const load = (file: string) => JSON.parse(readFileSync(join(DIR, file), 'utf8')) as IWorkflowBase & { pinData?: Record<string, INodeExecutionData[]> };
const TRIGGERS: string[] = [TYPES.trigger, TYPES.emailTrigger];
/** What the Omnithread Trigger and Email Trigger put out per message (shared/webhook.ts triggerOutput). */
const TRIGGER_KEYS = ['contactId', 'channel', 'text', 'message', 'event', 'contact', 'conversation', 'identity', 'channelSwitch'];

test('the templates shipped', () => {
  expect(FILES.sort()).toEqual([
    'ai-agent-bot.json',
    'ai-routing.json',
    'continuity-basics.json',
    'daily-continuity-report.json',
    'email-webchat-continuity.json',
    'messaging-continuity.json',
    'slack-handoff.json',
  ]);
});

test.each(FILES)('%s: importable as is (types, versions, parameters, connections, ids, no secrets)', (file) => {
  const template = load(file);
  expect(template.id).toMatch(/^[A-Za-z0-9]{16}$/);
  expect(template.active).toBe(false);
  expect(template.settings).toMatchObject({ executionOrder: 'v1' });
  expect(typeProblems(template)).toEqual([]);
  expect(unknownParameters(template)).toEqual([]);
  expect(connectionProblems(template)).toEqual([]);
  expect(secretProblems(template)).toEqual([]);
  expect(new Set(template.nodes.map((n) => n.id)).size).toBe(template.nodes.length);
  expect(new Set(template.nodes.map((n) => n.name)).size).toBe(template.nodes.length);
  const webhookIds = template.nodes.map((n) => n.webhookId).filter(Boolean);
  expect(new Set(webhookIds).size).toBe(webhookIds.length);
  // A sticky note says what the template does.
  expect(template.nodes.find((n) => n.type === 'n8n-nodes-base.stickyNote')?.parameters.content).toMatch(/^## /);
});

test('no two templates share a workflow id or a webhook id (they can all be imported into one n8n)', () => {
  const templates = FILES.map(load);
  expect(new Set(templates.map((t) => t.id)).size).toBe(templates.length);
  const webhookIds = templates.flatMap((t) => t.nodes.map((n) => n.webhookId).filter(Boolean));
  expect(new Set(webhookIds).size).toBe(webhookIds.length);
});

const installed = installedN8nTypes();
(installed ? test : test.skip)('the n8n types and versions listed for the check are those of the installed n8n 2.40.7', () => {
  for (const [type, { versions }] of Object.entries(BUILTIN_TYPES)) expect({ type, versions: installed![type] }).toEqual({ type, versions });
});

describe('pinned sample data', () => {
  const pinned = FILES.flatMap((file) => {
    const template = load(file);
    return template.nodes.filter((n) => TRIGGERS.includes(n.type)).map((trigger) => ({ file, trigger, items: template.pinData?.[trigger.name] }));
  });

  test('every template with an Omnithread trigger pins sample data on each of them; nothing else is pinned', () => {
    expect(pinned.length).toBeGreaterThanOrEqual(9);
    for (const { file, trigger, items } of pinned) expect({ file, trigger: trigger.name, pinned: items?.length ?? 0 }).toEqual({ file, trigger: trigger.name, pinned: 1 });
    for (const file of FILES) {
      const template = load(file);
      const triggers = new Set(template.nodes.filter((n) => TRIGGERS.includes(n.type)).map((n) => n.name));
      expect(Object.keys(template.pinData ?? {}).filter((name) => !triggers.has(name))).toEqual([]);
    }
  });

  test.each(pinned.map((p) => [`${p.file} > ${p.trigger.name}`, p] as const))('%s: an item as the trigger emits it, on its own channel', (_label, { trigger, items }) => {
    const [item] = items!;
    expect(Object.keys(item.json)).toEqual(TRIGGER_KEYS);
    const json = item.json as Record<string, any>;
    const channel = trigger.type === TYPES.emailTrigger ? 'email' : trigger.parameters.channel === 'generic' ? json.channel : trigger.parameters.channel;
    expect(json).toMatchObject({ channel, contactId: json.contact.id, text: json.message.text, message: { channel, direction: 'inbound' }, event: { kind: 'message', channel, contactId: json.contact.id } });
    expect(json.conversation).toMatchObject({ contactId: json.contact.id, status: 'open' });
    expect(json.identity.steps.length).toBeGreaterThan(0);
    expect(json.contact.identities.length).toBeGreaterThan(0);
  });

  test.each(pinned.map((p) => [`${p.file} > ${p.trigger.name}`, p] as const))('%s: the next step accepts it (Identity Resolve on its message)', async (_label, { items }) => {
    const result = await runWorkflow(
      { nodes: [node('Pinned', TYPES.input), node('Identity Resolve', TYPES.identity, { resource: 'contact', operation: 'resolve', message: '={{ $json.message }}' })], connections: chain('Pinned', 'Identity Resolve') },
      'Pinned',
      items!,
      { mode: 'manual' },
    );
    expect(result.run.status).toBe('success');
    const resolved = result.output('Identity Resolve')[0].json as Record<string, any>;
    const sample = items![0].json as Record<string, any>;
    expect(resolved.contact.name).toBe(sample.contact.name);
    // The same person (the samples share one store here, so a person may have gathered more identities).
    expect(resolved.contact.identities.map((i: { kind: string; value: string }) => `${i.kind}:${i.value}`)).toEqual(
      expect.arrayContaining(sample.contact.identities.map((i: { kind: string; value: string }) => `${i.kind}:${i.value}`)),
    );
  });
});

test("no template's sticky note covers one of its nodes on the canvas (a node is about 100 x 100 at its position)", () => {
  for (const file of readdirSync(join(__dirname, '..', '..', 'workflows', 'n8n')).filter((f) => f.endsWith('.json'))) {
    const workflow = JSON.parse(readFileSync(join(__dirname, '..', '..', 'workflows', 'n8n', file), 'utf8')) as { nodes: { name: string; type: string; position: [number, number]; parameters: { width?: number; height?: number } }[] };
    const stickies = workflow.nodes.filter((n) => n.type === 'n8n-nodes-base.stickyNote');
    for (const sticky of stickies) {
      const [x, y] = sticky.position;
      const [w, h] = [sticky.parameters.width ?? 240, sticky.parameters.height ?? 160];
      const covered = workflow.nodes
        .filter((n) => n.type !== 'n8n-nodes-base.stickyNote')
        .filter((n) => n.position[0] + 100 > x && n.position[0] < x + w && n.position[1] + 100 > y && n.position[1] < y + h)
        .map((n) => n.name);
      expect({ file, sticky: sticky.name, covered }).toEqual({ file, sticky: sticky.name, covered: [] });
    }
  }
});
