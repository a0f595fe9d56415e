/**
 * Debian's Chromium for the browser suites, driven by playwright-core (which never downloads a browser).
 * Without /usr/bin/chromium a suite is skipped with a warning, except under CI, where `.ci/run` installs
 * it: there a missing browser is a failing test, never a silent skip.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);

/** `describe` when Chromium is installed; otherwise a failing test under CI, or `describe.skip` with a warning. */
export function browserSuite(what: string): jest.Describe {
  if (chromiumAvailable) return describe;
  if (process.env.CI) {
    test(what, () => {
      throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (apt-get install chromium)`);
    });
  } else {
    // eslint-disable-next-line no-console
    console.warn(`${what}: skipped, ${CHROMIUM} is missing (apt-get install chromium)`);
  }
  return describe.skip;
}

/** A headless Chromium; every launch gets a fresh profile in a temp folder of its own, deleted on close. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
