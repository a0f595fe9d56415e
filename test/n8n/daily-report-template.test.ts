/**
 * workflows/n8n/daily-continuity-report.json: Schedule Trigger (daily, 07:00) -> Timeline Lookup "Get
 * Metrics" for yesterday (UTC) -> Code (a short report) -> Send Email. The Get Metrics step runs from the
 * file through n8n-core on seeded data (its From/To expressions evaluated by n8n); the Code node's
 * JavaScript (n8n-core has no Code node) runs on that output as n8n's "Run Once for All Items" would, and
 * is the same report code as the Node-RED example's "format report" function.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INode, IWorkflowBase } from 'n8n-workflow';
import { omnithreadFor, resolveSettings } from '../../shared';
import { TYPES, cleanupAfterAll, node, runWorkflow } from '../support/n8n-harness';
import { connectionProblems, secretProblems, typeProblems, unknownParameters } from '../support/n8n-builtin-types';

cleanupAfterAll();

const ROOT = join(__dirname, '..', '..', 'workflows');
const shipped = JSON.parse(readFileSync(join(ROOT, 'n8n', 'daily-continuity-report.json'), 'utf8')) as IWorkflowBase;
const nodeRed = JSON.parse(readFileSync(join(ROOT, 'node-red', 'daily-continuity-report.json'), 'utf8')) as { name?: string; func?: string }[];
const byName = (name: string) => shipped.nodes.find((n) => n.name === name)!;
const DAY = 86_400_000;

/** The report code between the engine-specific first and last lines. */
const reportCode = (code: string) => code.slice(code.indexOf('const minutes'), code.lastIndexOf('const text = '));

/** The Code node as n8n runs it in "Run Once for All Items": $input.first() is the first input item. */
function runCode(jsCode: string, json: unknown): { json: Record<string, any> }[] {
  const $input = { first: () => ({ json }), all: () => [{ json }] };
  return new Function('$input', jsCode)($input);
}

describe('workflows/n8n/daily-continuity-report.json', () => {
  test('Schedule Triggers (days 07:00, Mondays 07:00) -> Get Metrics (yesterday / last 7 days, UTC) -> Code -> Send Email; n8n 2.40 types, importable as is', () => {
    expect(shipped.id).toBe('OmniDailyReport1');
    expect(typeProblems(shipped)).toEqual([]);
    expect(unknownParameters(shipped)).toEqual([]);
    expect(connectionProblems(shipped)).toEqual([]);
    expect(secretProblems(shipped)).toEqual([]);
    expect(byName('Every Morning')).toMatchObject({ type: 'n8n-nodes-base.scheduleTrigger', typeVersion: 1.2, parameters: { rule: { interval: [{ field: 'days', triggerAtHour: 7 }] } } });
    expect(byName("Yesterday's Metrics")).toMatchObject({ type: TYPES.timeline, parameters: { operation: 'getMetrics' } });
    expect(byName('Format Report')).toMatchObject({ type: 'n8n-nodes-base.code', typeVersion: 2 });
    expect(byName('Send Email')).toMatchObject({ type: 'n8n-nodes-base.emailSend', typeVersion: 2.1, parameters: { subject: '={{ $json.subject }}', emailFormat: 'text', text: '={{ $json.text }}' } });
    expect(byName('Send Email').credentials).toBeUndefined();
    expect(byName('Every Monday')).toMatchObject({ type: 'n8n-nodes-base.scheduleTrigger', typeVersion: 1.2, parameters: { rule: { interval: [{ field: 'weeks', triggerAtDay: [1], triggerAtHour: 7 }] } } });
    expect(byName("Last Week's Metrics")).toMatchObject({ type: TYPES.timeline, parameters: { operation: 'getMetrics', bucket: 'day' } });
    expect(Object.fromEntries(Object.entries(shipped.connections).map(([from, c]) => [from, c.main[0]!.map((t) => t.node)]))).toEqual({
      'Every Morning': ["Yesterday's Metrics"],
      'Every Monday': ["Last Week's Metrics"],
      "Yesterday's Metrics": ['Format Report'],
      "Last Week's Metrics": ['Format Report'],
      'Format Report': ['Send Email'],
    });
  });

  test('the report code is the same in n8n and in the Node-RED example', () => {
    const n8nCode = reportCode(String(byName('Format Report').parameters.jsCode));
    const nodeRedCode = reportCode(String(nodeRed.find((n) => n.name === 'format report')!.func));
    expect(n8nCode.length).toBeGreaterThan(500);
    expect(n8nCode).toBe(nodeRedCode);
  });

  test("Get Metrics for yesterday on the store's data, then the report text and subject", async () => {
    const ot = await omnithreadFor(resolveSettings(undefined, 'n8n'));
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    const yesterday = today.getTime() - DAY;
    const handle = (value: string) => ({ kind: 'email', value, trust: 'verified' }) as const;
    // Yesterday: two people. Maya chats, then writes on WhatsApp (continued), Sam answers after 30 minutes;
    // Jon emails and an AI answers.
    const maya = await ot.ingest({ channel: 'webchat', providerMessageId: 'n8n-report-1', sentAt: yesterday + 8 * 3_600_000, from: { handles: [handle('maya@fastmail.fm')] }, text: 'Parcel #5521 missing' });
    await ot.ingest({ channel: 'whatsapp', providerMessageId: 'n8n-report-2', sentAt: yesterday + 8.25 * 3_600_000, from: { handles: [handle('maya@fastmail.fm')] }, text: 'Any news?' });
    await ot.recordOutbound(maya.contact.id, { channel: 'whatsapp', text: 'On its way', author: { id: 'sam', type: 'human' }, sentAt: yesterday + 8.5 * 3_600_000 });
    const jon = await ot.ingest({ channel: 'email', providerMessageId: 'n8n-report-3', sentAt: yesterday + 14 * 3_600_000, from: { handles: [handle('jon@fastmail.fm')] }, text: 'How do I reset my password?' });
    await ot.recordOutbound(jon.contact.id, { channel: 'email', text: 'Settings > Security', author: { id: 'assistant', type: 'ai' }, sentAt: yesterday + 14 * 3_600_000 + 60_000 });

    const metricsNode = byName("Yesterday's Metrics") as INode;
    const result = await runWorkflow({ nodes: [node('Every Morning', TYPES.input), metricsNode], connections: { 'Every Morning': { main: [[{ node: metricsNode.name, type: 'main', index: 0 }]] } } }, 'Every Morning', [{ json: { timestamp: new Date().toISOString() } }], {
      mode: 'trigger',
    });
    expect(result.run.status).toBe('success');
    const report = result.output(metricsNode.name)[0].json as Record<string, any>;
    expect(report.query).toEqual({ from: new Date(yesterday).toISOString(), to: today.toISOString(), bucket: 'hour' });
    expect(report.totals).toMatchObject({ conversations: 2, resolved: 0, handledBy: { ai: 1, human: 1 } });

    const [out] = runCode(String(byName('Format Report').parameters.jsCode), report);
    const day = new Date(yesterday).toISOString().slice(0, 10);
    expect(out.json.subject).toBe(`Continuity report ${day}: 2 conversations, first response 30 min`);
    const lines = String(out.json.text).split('\n');
    expect(lines[0]).toBe(`Continuity report for ${day} (UTC)`);
    expect(lines).toContain('Conversations: 2 (0 resolved)');
    expect(lines).toContain('Handled by AI: 50% (1 AI, 1 human)');
    expect(lines).toContain('Channel switches: 1, continued in the same conversation: 100%');
    expect(lines).toContain('  webchat: 1 conversation, first response 30 min');
    expect(lines).toContain('  email: 1 conversation, first response n/a');
    expect(out.json.totals).toEqual(report.totals);

    // Every Monday: the same two conversations in the last seven days, one series entry per day.
    const weeklyNode = byName("Last Week's Metrics") as INode;
    const weekly = await runWorkflow({ nodes: [node('Every Monday', TYPES.input), weeklyNode], connections: { 'Every Monday': { main: [[{ node: weeklyNode.name, type: 'main', index: 0 }]] } } }, 'Every Monday', [{ json: {} }], { mode: 'trigger' });
    const week = weekly.output(weeklyNode.name)[0].json as Record<string, any>;
    expect(week.query).toEqual({ from: new Date(today.getTime() - 7 * DAY).toISOString(), to: today.toISOString(), bucket: 'day' });
    expect(week.series).toHaveLength(7);
    const [weekOut] = runCode(String(byName('Format Report').parameters.jsCode), week);
    expect(weekOut.json.subject).toBe(`Continuity report ${new Date(today.getTime() - 7 * DAY).toISOString().slice(0, 10)} to ${day}: 2 conversations, first response 30 min`);
  });
});
