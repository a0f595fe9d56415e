/**
 * Redeploying under load, against a real Node-RED 5 process over real HTTP. The defect this reproduces
 * (fixed in b40b2e8): while a deploy stopped and restarted omnithread-in, its path answered 404 (express
 * found no route), which providers take as final, so deliveries in that window were lost; a delivery in
 * flight when the store closed could end as a 500. Now the path answers 503 with Retry-After until the
 * new node takes it, the provider delivers again, and every message is stored exactly once.
 *
 * - The load: 3,000 signed generic deliveries (each its own messageId) on 8 connections, while the admin
 *   API deploys three times: full, "flows" (the tab changed, so its nodes restart; the store config
 *   stays), and full again. A 503 is retried as a provider would (sooner than its Retry-After, to keep
 *   the test short).
 * - The same window made deterministic: a delivery whose headers arrived before the deploy stopped the
 *   node and whose body arrives after (the old route is gone, the new one not there yet). The deploy is
 *   held in that window by a delivery waiting for SQLite's write lock, which another process holds: the
 *   store's close waits for it.
 */
import { request } from 'node:http';
import { signGeneric } from '../../shared';
import { type FlowNode, sleep, waitFor } from './node-red-process';
import { SECRET, genericCredentials, genericIn, genericMessage, holdWriteLock, postGeneric, readDb, storeNode, tab, useNodeRed } from './kit';

jest.setTimeout(180_000);

const PATH = '/rel/load';
const IN = 'rel-in-load';
const TOTAL = 3_000;
const CONNECTIONS = 8;
const RETRY_MS = 100;
/** Deploys start when this many deliveries have been answered. */
const DEPLOYS: { after: number; type: 'full' | 'flows' }[] = [
  { after: 300, type: 'full' },
  { after: 1_100, type: 'flows' },
  { after: 1_900, type: 'full' },
];

const flows = (db: string, label: string): FlowNode[] => [tab(), storeNode(db), genericIn(IN, PATH, { name: label })];
const context = useNodeRed((db) => ({ flows: flows(db, 'load'), credentials: genericCredentials(IN) }));

describe('redeploy under load', () => {
  test(`${TOTAL} deliveries on ${CONNECTIONS} connections through 3 deploys: only 200 or 503 with Retry-After, every message stored exactly once`, async () => {
    const statuses: Record<string, number> = {};
    const unexpected: string[] = [];
    let answered = 0;
    let retryAfterMissing = 0;
    let alreadyRecordedOnRetry = 0;
    let next = 0;

    const deliver = async (messageId: string): Promise<void> => {
      const body = JSON.stringify(genericMessage(messageId));
      for (let attempt = 1; ; attempt++) {
        let answer;
        try {
          answer = await postGeneric(context.nodeRed.base + PATH, body);
        } catch (error) {
          statuses.network = (statuses.network ?? 0) + 1;
          unexpected.push(`${messageId}: ${(error as Error).message} (${String((error as { cause?: { code?: string } }).cause?.code)})`);
          return; // a reset is a failure of its own, not retried
        }
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        if (answer.status === 200) {
          if (answer.json?.duplicates === 1 && attempt > 1) alreadyRecordedOnRetry++;
          else if (answer.json?.recorded !== 1) unexpected.push(`${messageId}: 200 ${answer.text.slice(0, 200)}`);
          return;
        }
        if (answer.status !== 503 || answer.json === undefined) {
          unexpected.push(`${messageId}: ${answer.status} ${answer.headers.get('content-type')} ${answer.text.replace(/\s+/g, ' ').slice(0, 160)}`);
          return;
        }
        if (!answer.headers.get('retry-after')) retryAfterMissing++;
        if (attempt >= 200) {
          unexpected.push(`${messageId}: still 503 after ${attempt} attempts: ${answer.text.slice(0, 200)}`);
          return;
        }
        await sleep(RETRY_MS);
      }
    };

    const connection = async () => {
      while (next < TOTAL) {
        const id = `load-${String(next++).padStart(5, '0')}`;
        await deliver(id);
        answered++;
      }
    };

    const deploys: { type: string; status: number; ms: number; atAnswered: number }[] = [];
    const deployer = async () => {
      for (const [i, { after, type }] of DEPLOYS.entries()) {
        await waitFor(`${after} answers before deploy ${i + 1}`, () => answered >= after || next >= TOTAL, 120_000, 5);
        const started = performance.now();
        const atAnswered = answered;
        const response = await context.nodeRed.deploy(flows(context.db, `load, deploy ${i + 1}`), type);
        await response.arrayBuffer();
        deploys.push({ type, status: response.status, ms: Math.round(performance.now() - started), atAnswered });
      }
    };

    const started = performance.now();
    await Promise.all([...Array.from({ length: CONNECTIONS }, connection), deployer()]);
    const seconds = (performance.now() - started) / 1000;

    const stored = readDb(context.db, (d) => d.prepare(`SELECT provider_message_id AS id, count(*) AS n FROM events WHERE kind = 'message' AND provider_message_id LIKE 'load-%' GROUP BY provider_message_id`).all() as { id: string; n: number }[]);
    const duplicated = stored.filter((row) => Number(row.n) !== 1);
    const ids = new Set(stored.map((row) => row.id));
    const lost = Array.from({ length: TOTAL }, (_, i) => `load-${String(i).padStart(5, '0')}`).filter((id) => !ids.has(id));

    console.log(
      `redeploy under load: ${TOTAL} deliveries in ${seconds.toFixed(1)} s on ${CONNECTIONS} connections; answers by status ${JSON.stringify(statuses)}; ` +
        `503s retried: ${statuses[503] ?? 0} (a retry that found it already recorded: ${alreadyRecordedOnRetry}); deploys ${JSON.stringify(deploys)}; ` +
        `stored ${stored.length}, lost ${lost.length}, duplicated ${duplicated.length}`,
    );
    expect(deploys.map((d) => ({ type: d.type, ok: d.status >= 200 && d.status < 300 }))).toEqual(DEPLOYS.map(({ type }) => ({ type, ok: true })));
    // Each deploy happened while deliveries were still coming.
    for (const d of deploys) expect(d.atAnswered).toBeLessThan(TOTAL);
    expect(unexpected).toEqual([]);
    expect(Object.keys(statuses).filter((s) => s !== '200' && s !== '503')).toEqual([]);
    expect(retryAfterMissing).toBe(0);
    expect(statuses[200]).toBe(TOTAL);
    expect({ stored: stored.length, lost: lost.length, duplicated: duplicated.length }).toEqual({ stored: TOTAL, lost: 0, duplicated: 0 });
    // The start, then each deploy: "Started flows" after a full one, "Started modified flows" after the other.
    expect(context.nodeRed.log().match(/Started (?:modified )?flows/g)).toEqual(['Started flows', 'Started flows', 'Started modified flows', 'Started flows']);
  });
});

describe('redeploy: a delivery straddling the restart', () => {
  test('a delivery whose body is still arriving when the deploy stops the node is answered 503 with Retry-After, not 404', async () => {
    const url = context.nodeRed.base + PATH;
    // Another process holds the write lock for 3 s and one delivery waits for it inside the old store: the
    // store's close, and so the deploy, waits for that delivery. That holds open the gap between the old
    // node's close and the new node's start, which is otherwise a few milliseconds of every deploy.
    const lock = await holdWriteLock(context.db, 3_000);
    const waiting = postGeneric(url, JSON.stringify(genericMessage('gap-waiting')));

    // The straddling delivery: its headers and half its body arrive while the route is still there.
    const body = JSON.stringify(genericMessage('gap-straddling'));
    const half = Math.floor(body.length / 2);
    let answerOf!: (answer: { status?: number; retryAfter?: string; text: string; error?: string }) => void;
    const answered = new Promise<{ status?: number; retryAfter?: string; text: string; error?: string }>((resolve) => (answerOf = resolve));
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-omnithread-signature': signGeneric(SECRET, body), expect: '100-continue' },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => answerOf({ status: res.statusCode, retryAfter: res.headers['retry-after'] as string | undefined, text }));
    });
    req.on('error', (error) => answerOf({ text: '', error: error.message }));
    // "100 Continue" is sent as the request reaches the app: the body capture is waiting for the body by then.
    await new Promise<void>((resolve) => req.once('continue', () => req.write(body.slice(0, half), () => resolve())));

    const deploy = context.nodeRed.deploy(flows(context.db, 'gap'), 'full');
    // The gap: the old node has closed (its path answers 503 "restarting") and the new one has not started.
    await waitFor('the path to answer 503 while the deploy waits for the store', async () => {
      const probe = await fetch(url);
      await probe.arrayBuffer();
      return probe.status === 503;
    }, 10_000, 20);
    req.end(body.slice(half));
    const straddling = await answered;
    await (await deploy).arrayBuffer();
    await lock.released;
    const first = await waiting;

    console.log(`straddling delivery: ${straddling.status ?? straddling.error} ${straddling.text.slice(0, 120).replace(/\s+/g, ' ')}; the delivery waiting for the lock: ${first.status}`);
    expect([200, 503]).toContain(first.status);
    // Held until the new node answers it (200), or told to come again (503 with Retry-After); never 404.
    if (straddling.status === 503) expect({ status: straddling.status, retryAfter: straddling.retryAfter, json: straddling.text.startsWith('{') }).toEqual({ status: 503, retryAfter: expect.stringMatching(/^\d+$/), json: true });
    else expect({ status: straddling.status, body: straddling.text }).toEqual({ status: 200, body: JSON.stringify({ received: 1, recorded: 1, duplicates: 0 }) });
    // The provider's retries (of both, as needed) record each message once.
    for (const id of ['gap-waiting', 'gap-straddling']) {
      await waitFor(`${id} to be recorded`, async () => (await postGeneric(url, JSON.stringify(genericMessage(id)))).status === 200, 30_000, 100);
    }
    const counts = readDb(context.db, (d) => d.prepare(`SELECT provider_message_id AS id, count(*) AS n FROM events WHERE provider_message_id LIKE 'gap-%' GROUP BY provider_message_id ORDER BY 1`).all());
    expect(counts.map((row) => ({ ...row }))).toEqual([
      { id: 'gap-straddling', n: 1 },
      { id: 'gap-waiting', n: 1 },
    ]);
  });
});
