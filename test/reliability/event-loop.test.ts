/**
 * The event loop never freezes while another process holds SQLite's write lock. Against a real Node-RED 5
 * process over real HTTP: a second process (a plain Node with node:sqlite, as a second Node-RED, an n8n
 * worker or a backup would be) takes the write lock with BEGIN IMMEDIATE and holds it 5 s; meanwhile one
 * signed delivery arrives, and the editor (GET / and GET /flows) is polled every 50 ms.
 *
 * The defect this reproduces (fixed in c5dd40e): node:sqlite is synchronous and the store waited for the
 * lock inside SQLite's busy timeout, on the event loop: the whole Node-RED process (editor, admin API,
 * every other flow) froze for the full hold. Now SQLite waits at most 10 ms per try and the store waits
 * between tries on timers, so the editor keeps answering and the delivery is recorded once the lock is
 * released (200; it would be a 503 with Retry-After only past the store's busy timeout of 15 s).
 */
import { sleep } from './node-red-process';
import { genericCredentials, genericIn, genericMessage, holdWriteLock, percentile, postGeneric, rowCounts, storeNode, tab, useNodeRed } from './kit';

jest.setTimeout(120_000);

const PATH = '/rel/locked';
const HOLD_MS = 5_000;
const POLL_EVERY_MS = 50;

const context = useNodeRed((db) => ({ flows: [tab(), storeNode(db), genericIn('rel-in-locked', PATH)], credentials: genericCredentials('rel-in-locked') }));

describe('the event loop never freezes', () => {
  test(`while another process holds the write lock ${HOLD_MS / 1000} s, the editor answers fast and the delivery is recorded after the release`, async () => {
    const before = rowCounts(context.db);
    const lock = await holdWriteLock(context.db, HOLD_MS);

    let deliveryDone = false;
    const delivery = postGeneric(context.nodeRed.base + PATH, JSON.stringify(genericMessage('while-locked'))).then((answer) => {
      deliveryDone = true;
      return { ...answer, at: performance.now() };
    });

    // The editor, polled every 50 ms until the delivery is answered: every latency, and when it was asked.
    const polls: { path: string; at: number; ms: number; status: number }[] = [];
    for (let i = 0; !deliveryDone; i++) {
      const path = i % 2 ? '/flows' : '/';
      const at = performance.now();
      const response = await fetch(context.nodeRed.base + path, { headers: { 'Node-RED-API-Version': 'v1' } });
      await response.arrayBuffer();
      polls.push({ path, at, ms: performance.now() - at, status: response.status });
      await sleep(Math.max(0, POLL_EVERY_MS - (performance.now() - at)));
    }
    const answer = await delivery;
    const releasedAt = await lock.released;

    // Every poll asked while the lock was held (a frozen process answers the one asked first after the release).
    const whileLocked = polls.filter((p) => p.at >= lock.lockedAt && p.at < releasedAt).map((p) => p.ms);
    const figures = { count: whileLocked.length, p50: Math.round(percentile(whileLocked, 50)), p95: Math.round(percentile(whileLocked, 95)), max: Math.round(Math.max(...whileLocked)) };
    console.log(
      `event loop while another process held the write lock ${Math.round(releasedAt - lock.lockedAt)} ms: editor polls (GET / and GET /flows) ${JSON.stringify(figures)} ms; ` +
        `the delivery answered ${answer.status} ${Math.round(answer.at - releasedAt)} ms after the release`,
    );

    expect(polls.every((p) => p.status === 200)).toBe(true);
    // Polled all along the hold (a frozen process answers one poll in 5 s, not dozens).
    expect(figures.count).toBeGreaterThanOrEqual(20);
    expect(figures.max).toBeLessThan(1_000);
    expect(figures.p50).toBeLessThan(250);
    // The delivery waited for the lock, and was recorded once it was free.
    expect({ status: answer.status, body: answer.json }).toEqual({ status: 200, body: { received: 1, recorded: 1, duplicates: 0 } });
    expect(answer.at - lock.lockedAt).toBeGreaterThanOrEqual(HOLD_MS - 100);
    expect(answer.at - releasedAt).toBeLessThan(3_000);
    expect(rowCounts(context.db).events).toBe(before.events + 1);
  });
});
