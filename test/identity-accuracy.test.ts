/**
 * Our own measure of identity accuracy, as a guard: the seeded generator of bench/identity (synthetic
 * people over every channel, with the traps of real support data: family landlines, role mailboxes,
 * placeholders, Brazil's ninth digit, usernames, redeliveries...) on a small population, ingested by the
 * built core (dist/, as `npm test` builds it) and scored against the ground truth. `npm run bench` runs
 * the same on 20,000 people and prints every figure (BENCHMARKS.md).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DIST = join(__dirname, '..', 'dist', 'shared', 'index.js');

test('no two people merged by their own identities, every pair linked by a shared usable identifier found, on 600 generated people', async () => {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" (npm test does) before this test`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { main } = require('../bench/identity/score') as { main: (o: { dir: string; people: number; seed: number; quiet: boolean }) => Promise<Record<string, any>> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  const dir = mkdtempSync(join(tmpdir(), 'omnithread-identity-'));
  try {
    const result = await main({ dir, people: 600, seed: 20261207, quiet: true });
    expect(result.forbidden.personPairs).toBe(0);
    expect(result.linkable.pairs).toBeGreaterThan(1000);
    expect(result.linkable.recall).toBeGreaterThanOrEqual(0.99);
    expect(result.linkable.crossChannel.recall).toBeGreaterThanOrEqual(0.99);
    expect(result.redeliveries.recognised).toBe(result.redeliveries.planted);
    expect(result.redeliveries.falseDuplicates).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
