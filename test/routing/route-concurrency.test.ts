/**
 * Many route decisions at once must never overfill an agent: the ranking and the assignment happen in one
 * transaction under the workspace routing lock, with loads read fresh inside it.
 */
import { createOmnithread } from '../../shared';
import type { Omnithread } from '../../shared/omnithread';
import type { Classification } from '../../shared/routing/types';
import { RouteResult, routeMessage } from '../../shared/routing/route';
import { describeStores } from '../support/stores';
import { account, message } from '../support/messages';

const classification: Classification = {
  intent: 'other',
  language: 'und',
  sentiment: 'neutral',
  urgency: 'normal',
  confidence: 0.9,
  wantsHuman: false,
  source: 'rules',
  reasons: [],
};

// webchat costs 20: slots 2 + 3 + 1 (+ 0 for the offline one) = 6; the AI agent takes 2 at cost 50.
const ROSTER = [
  { id: 'a', capacity: 40 },
  { id: 'b', capacity: 60 },
  { id: 'c', capacity: 30 },
  { id: 'd', capacity: 100, status: 'offline' as const },
  { id: 'bot', kind: 'ai' as const, capacity: 100, channelCosts: { webchat: 50 } },
];
const SLOTS = 2 + 3 + 1 + 2;
const N = 50;

async function seed(ot: Omnithread, prefix: string) {
  await ot.roster().import(ROSTER);
  const out: { contactId: string; eventId: string }[] = [];
  for (let i = 0; i < N; i++) {
    const r = await ot.ingest(message([account(`${prefix}-${i}`)], { channel: 'webchat', text: `question number ${i}` }));
    out.push({ contactId: r.contact.id, eventId: r.event!.id });
  }
  return out;
}

async function check(ot: Omnithread, decisions: RouteResult[]) {
  const loads = await ot.roster().loads();
  for (const load of loads) expect(load.used).toBeLessThanOrEqual(load.capacity);
  const assigned = decisions.filter((d) => d.assigned);
  const queued = decisions.filter((d) => d.target.kind === 'queue');
  expect(assigned.length + queued.length).toBe(N);
  expect(assigned.length).toBe(SLOTS);
  expect(loads.reduce((n, l) => n + l.openConversations, 0)).toBe(SLOTS);
  const per = Object.fromEntries(loads.map((l) => [l.agentId, l.openConversations]));
  expect(per).toEqual({ a: 2, b: 3, c: 1, d: 0, bot: 2 });
  for (const d of assigned) expect(['a', 'b', 'c', 'bot']).toContain(d.target.agentId);
  // Every decision is on the timeline once.
  for (const d of decisions) expect(d.eventId).toBeDefined();
  expect(new Set(decisions.map((d) => d.eventId)).size).toBe(N);
}

describeStores('route concurrency', (ctx) => {
  jest.setTimeout(60_000);

  test(`${N} concurrent decisions on one store: nobody over capacity, the rest queued`, async () => {
    const ot = ctx().omnithread();
    const msgs = await seed(ot, 'one');
    const decisions = await Promise.all(
      msgs.map((m) => routeMessage(ot, { contactId: m.contactId, eventId: m.eventId, channel: 'webchat', text: 'hello', classification })),
    );
    await check(ot, decisions);
    // A second wave (redeliveries) changes nothing.
    const again = await Promise.all(
      msgs.map((m) => routeMessage(ot, { contactId: m.contactId, eventId: m.eventId, channel: 'webchat', text: 'hello', classification })),
    );
    expect(again.every((d) => d.duplicate)).toBe(true);
    await check(ot, again);
  });

  // PostgreSQL only: several SQLite connections in ONE process block each other's event loop in the
  // synchronous busy wait (SQLite's multi-process safety is BEGIN IMMEDIATE, tested in store tests).
  test(`${N} concurrent decisions over several connection pools (as several workers would)`, async () => {
    if (ctx().kind !== 'postgres') return;
    const first = ctx().omnithread();
    const msgs = await seed(first, 'many');
    const stores = [ctx().store, await ctx().reopen({ poolSize: 4 }), await ctx().reopen({ poolSize: 4 })];
    const workers = stores.map((store) => createOmnithread({ workspace: first.workspace, store }));
    const decisions = await Promise.all(
      msgs.map((m, i) =>
        routeMessage(workers[i % workers.length], { contactId: m.contactId, eventId: m.eventId, channel: 'webchat', text: 'hello', classification }),
      ),
    );
    await check(first, decisions);
  });
});
