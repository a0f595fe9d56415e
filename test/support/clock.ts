/**
 * Time is an input: tests give the core a clock instead of reading the day the suite runs.
 *
 * `fixedClock(iso)` never moves. `runningClock(iso)` starts at `iso` and advances with the real time
 * elapsed since (so consecutive writes keep their order), which suits suites driving real servers and
 * engines. `useRuntimeClock(iso)` installs a running clock for every Omnithread the nodes create
 * (shared/runtime's setRuntimeClock) for the suite it is called in, and restores the system clock after.
 */
import { setRuntimeClock } from '../../shared';

export const fixedClock = (iso: string): (() => number) => {
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) throw new Error(`not a date: ${iso}`);
  return () => at;
};

export function runningClock(iso: string): () => number {
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) throw new Error(`not a date: ${iso}`);
  const started = performance.now();
  return () => at + Math.floor(performance.now() - started);
}

/** In a describe block: the nodes' Omnithreads run on a clock starting at `iso` for its tests. */
export function useRuntimeClock(iso: string): void {
  beforeAll(() => setRuntimeClock(runningClock(iso)));
  afterAll(() => setRuntimeClock(undefined));
}
