/**
 * workflows/node-red/daily-continuity-report.json, read from the file and run in Node-RED 5: the inject
 * (daily at 07:00) -> "yesterday (UTC)" -> omnithread timeline (Metrics) -> "format report" -> debug.
 * The store holds yesterday's conversations (seeded through the facade, as the other flows record them),
 * the inject fires, and the report text says what happened.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Omnithread } from '../../shared';
import { FlowNode, NODES, collect, helper, tempDir, unloadFlow } from '../support/node-red-helper';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const inject = require('@node-red/nodes/core/common/20-inject.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const debug = require('@node-red/nodes/core/common/21-debug.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const FILE = join(__dirname, '..', '..', 'workflows', 'node-red', 'daily-continuity-report.json');
const example = JSON.parse(readFileSync(FILE, 'utf8')) as FlowNode[];
const byName = (name: string) => example.find((n) => n.name === name)!;
const DAY = 86_400_000;

let dir: { dir: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir();
  helper.settings({ userDir: dir.dir });
});
afterEach(async () => {
  await unloadFlow();
  helper.settings({});
  dir.cleanup();
});

/** The example as shipped, plus a helper node on the output of "format report" (where the debug node is). */
async function load(): Promise<void> {
  const tab = { id: String(example.find((n) => n.z)!.z), type: 'tab' };
  const format = byName('format report');
  const flow = example.map((n) => (n.id === format.id ? { ...n, wires: [[...(n.wires as string[][])[0], 'out']] } : n));
  await helper.load([...NODES, inject, debug, catchNode], [tab, ...flow, { id: 'out', type: 'helper', z: tab.id }] as FlowNode[]);
}

const storeId = () => example.find((n) => n.type === 'omnithread-store')!.id;
const omnithreadOf = (): Promise<Omnithread> => (helper.getNode(storeId()) as unknown as { omnithread: Promise<Omnithread> }).omnithread;

describe('workflows/node-red/daily-continuity-report.json', () => {
  test('an editor export: inject daily at 07:00 (and Mondays) -> period -> omnithread timeline (metrics) -> format -> debug, with a catch', () => {
    expect(example[0].type).toBe('comment');
    const core = ['comment', 'inject', 'function', 'debug', 'catch'];
    for (const node of example) expect(node.type.startsWith('omnithread-') || core.includes(node.type)).toBe(true);
    expect(byName('every morning')).toMatchObject({ type: 'inject', crontab: '00 07 * * *', repeat: '', once: false });
    expect(byName('every Monday')).toMatchObject({ type: 'inject', crontab: '00 07 * * 1', repeat: '', once: false });
    const [metrics, weekly] = example.filter((n) => n.type === 'omnithread-timeline');
    expect(metrics).toMatchObject({ operation: 'metrics', store: storeId() });
    expect(weekly).toMatchObject({ operation: 'metrics', store: storeId() });
    expect((byName('every Monday').wires as string[][])[0]).toEqual([byName('last week (UTC)').id]);
    expect((byName('last week (UTC)').wires as string[][])[0]).toEqual([weekly.id]);
    expect((weekly.wires as string[][])[0]).toEqual([byName('format report').id]);
    expect((byName('every morning').wires as string[][])[0]).toEqual([byName('yesterday (UTC)').id]);
    expect((byName('yesterday (UTC)').wires as string[][])[0]).toEqual([metrics.id]);
    expect((metrics.wires as string[][])[0]).toEqual([byName('format report').id]);
    expect((byName('format report').wires as string[][])[0]).toEqual([byName('report').id]);
    expect(byName('report errors').scope).toEqual([byName('yesterday (UTC)').id, metrics.id, byName('format report').id, byName('last week (UTC)').id, weekly.id]);
    expect(example.find((n) => n.type === 'omnithread-store')).toMatchObject({ storeType: 'sqlite', sqlitePath: '' });
    expect(new Set(example.map((n) => n.id)).size).toBe(example.length);
  });

  test("the inject fires: yesterday's conversations as a short report (subject in msg.topic)", async () => {
    await load();
    const ot = await omnithreadOf();
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    const yesterday = today.getTime() - DAY;
    const email = { kind: 'email', value: 'maya.lindqvist@fastmail.fm', trust: 'verified' } as const;
    // Yesterday: Maya chats at 09:00, writes on WhatsApp at 09:30 (the conversation continues), a person answers at 09:40.
    const chat = await ot.ingest({ channel: 'webchat', providerMessageId: 'report-wc-1', sentAt: yesterday + 9 * 3_600_000, from: { handles: [email] }, text: 'My parcel #5521 never arrived' });
    await ot.ingest({
      channel: 'whatsapp',
      providerMessageId: 'report-wa-1',
      sentAt: yesterday + 9.5 * 3_600_000,
      from: { handles: [email, { kind: 'phone', value: '+447911123456', trust: 'channel' }] },
      text: 'Any news on the parcel?',
    });
    await ot.recordOutbound(chat.contact.id, { channel: 'whatsapp', text: 'It is on its way, tracking 1Z999', author: { id: 'sam', type: 'human' }, sentAt: yesterday + 9 * 3_600_000 + 40 * 60_000 });
    // Two days ago: not in yesterday's report.
    await ot.ingest({ channel: 'email', providerMessageId: 'report-old-1', sentAt: yesterday - DAY + 3_600_000, from: { handles: [{ kind: 'email', value: 'old@example.com', trust: 'channel' }] }, text: 'old' });

    const out = collect('out');
    helper.getNode(byName('every morning').id).receive({});
    const [msg] = await out.next(1, 10_000);
    const day = new Date(yesterday).toISOString().slice(0, 10);
    expect(msg.metrics).toEqual({ from: new Date(yesterday).toISOString(), to: today.toISOString(), bucket: 'hour' });
    expect(msg.report.query).toEqual({ from: new Date(yesterday).toISOString(), to: today.toISOString(), bucket: 'hour' });
    expect(msg.report.series).toHaveLength(24);
    expect(msg.topic).toBe(`Continuity report ${day}: 1 conversation, first response 40 min`);
    const lines = String(msg.payload).split('\n');
    expect(lines[0]).toBe(`Continuity report for ${day} (UTC)`);
    expect(lines).toContain('Conversations: 1 (0 resolved)');
    expect(lines).toContain('First human response: median 40 min, p90 40 min (1 waits)');
    expect(lines).toContain('Channel switches: 1, continued in the same conversation: 100%');
    expect(lines).toContain('Handled by AI: 0% (0 AI, 1 human)');
    expect(lines).toContain('  webchat: 1 conversation, first response 40 min');
    expect(lines).toContain('  sam: 1 conversation, 0 resolved, first response 40 min');
  });

  test('every Monday: the last seven days, one entry per day', async () => {
    await load();
    const ot = await omnithreadOf();
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    const email = (value: string) => ({ kind: 'email', value, trust: 'verified' }) as const;
    for (const [n, daysAgo] of [[1, 6], [2, 3], [3, 1]]) {
      await ot.ingest({ channel: 'email', providerMessageId: `weekly-${n}`, sentAt: today.getTime() - daysAgo * DAY + 10 * 3_600_000, from: { handles: [email(`weekly-${n}@example.com`)] }, text: `question ${n}` });
    }
    await ot.ingest({ channel: 'email', providerMessageId: 'weekly-old', sentAt: today.getTime() - 8 * DAY, from: { handles: [email('old-weekly@example.com')] }, text: 'too old' });
    const out = collect('out');
    helper.getNode(byName('every Monday').id).receive({});
    const [msg] = await out.next(1, 10_000);
    const from = new Date(today.getTime() - 7 * DAY).toISOString();
    expect(msg.report.query).toEqual({ from, to: today.toISOString(), bucket: 'day' });
    expect(msg.report.series).toHaveLength(7);
    expect(msg.topic).toBe(`Continuity report ${from.slice(0, 10)} to ${new Date(today.getTime() - DAY).toISOString().slice(0, 10)}: 3 conversations, first response n/a`);
    expect(String(msg.payload)).toContain('  email: 3 conversations, first response n/a');
  });

  test('an empty day still reports (no figures, no error)', async () => {
    await load();
    const out = collect('out');
    helper.getNode(byName('every morning').id).receive({});
    const [msg] = await out.next(1, 10_000);
    expect(msg.topic).toMatch(/^Continuity report \d{4}-\d{2}-\d{2}: 0 conversations, first response n\/a$/);
    expect(String(msg.payload)).toContain('Conversations: 0 (0 resolved)');
    expect(String(msg.payload)).not.toContain('By channel');
  });
});
