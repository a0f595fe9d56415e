/**
 * Omnithread's one Node.js requirement (22.13, for node:sqlite), checked with a clear message. The
 * package itself runs on an older Node for a PostgreSQL store: these tests run the built package
 * (dist/, `npm run build`) in a real Node 20 when the machine has one (Debian's /usr/bin/node here;
 * the test suite itself runs on the Node 24 the devDependency installs).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { nodeRequirementMessage, nodeVersionSupported } from '../shared';
import { createTestStoreConfig } from './support/stores';

const root = join(__dirname, '..');
const dist = join(root, 'dist', 'shared');

/** A node binary older than 22.13 on this machine, if any: PATH entries, then the usual places. */
function findOldNode(): { bin: string; version: string } | undefined {
  const candidates = new Set<string>();
  for (const dir of (process.env.PATH || '').split(':')) if (dir && !dir.includes('node_modules')) candidates.add(join(dir, 'node'));
  for (const bin of ['/usr/bin/node', '/usr/local/bin/node', '/bin/node']) candidates.add(bin);
  for (const bin of candidates) {
    if (!existsSync(bin)) continue;
    try {
      const version = execFileSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
      if (!nodeVersionSupported(version)) return { bin, version };
    } catch {
      // not runnable: try the next one
    }
  }
  return undefined;
}

const oldNode = findOldNode();

describe('the Node.js requirement', () => {
  it('states the requirement with the running version', () => {
    expect(nodeRequirementMessage('20.20.2')).toBe('Omnithread needs Node.js 22.13 or newer (this is 20.20.2)');
    expect(nodeVersionSupported('22.12.0')).toBe(false);
    expect(nodeVersionSupported('22.13.0')).toBe(true);
    expect(nodeVersionSupported('24.1.0')).toBe(true);
    expect(nodeVersionSupported(process.versions.node)).toBe(true);
  });

  if (!oldNode) {
    it.skip('runs on an older Node (skipped: no Node.js older than 22.13 on this machine)', () => undefined);
    return;
  }

  const runOld = (script: string, env: Record<string, string> = {}) =>
    spawnSync(oldNode.bin, ['-e', script], { encoding: 'utf8', env: { ...process.env, ...env, NODE_OPTIONS: '' }, timeout: 60_000 });

  it(`loads the package on Node ${oldNode.version} and opens a PostgreSQL store without node:sqlite`, async () => {
    const { config, cleanup } = await createTestStoreConfig('postgres');
    try {
      const script = `
        const { openStore, createOmnithread } = require(${JSON.stringify(dist)});
        (async () => {
          const store = await openStore(JSON.parse(process.env.STORE));
          const ot = createOmnithread({ store, workspace: 'old-node' });
          const result = await ot.ingest({
            channel: 'generic', channelAccount: 'test', providerMessageId: 'm-1', sentAt: Date.now(),
            from: { handles: [{ kind: 'email', value: 'maya@example.com', trust: 'channel' }] }, text: 'hello',
          });
          await store.close();
          // node:sqlite does not exist before 22.5 and is flagged before 22.13: no module of ours asked for it.
          const sqliteLoaded = process.moduleLoadList.some((m) => /sqlite/i.test(m));
          console.log(JSON.stringify({ node: process.versions.node, recorded: Boolean(result), sqliteLoaded }));
        })().catch((e) => { console.error('FAILED', e && e.stack || e); process.exit(1); });`;
      const out = runOld(script, { STORE: JSON.stringify(config) });
      expect(out.stderr).not.toContain('FAILED');
      expect(out.status).toBe(0);
      const answer = JSON.parse(out.stdout.trim().split('\n').pop() as string);
      expect(answer).toEqual({ node: oldNode.version, recorded: true, sqliteLoaded: false });
      // One warning at load, naming the requirement and what still works.
      expect(out.stderr).toContain(`${nodeRequirementMessage(oldNode.version)}: only a PostgreSQL store works here`);
    } finally {
      await cleanup();
    }
  });

  it(`opening the SQLite store on Node ${oldNode.version} says what to do, no stack trace needed`, () => {
    const script = `
      const { openStore } = require(${JSON.stringify(dist)});
      openStore({ type: 'sqlite', path: ':memory:' }).then(
        () => console.log(JSON.stringify({ opened: true })),
        (e) => console.log(JSON.stringify({ code: e.code, field: e.field, message: e.message })),
      );`;
    const out = runOld(script);
    expect(out.status).toBe(0);
    const answer = JSON.parse(out.stdout.trim().split('\n').pop() as string);
    expect(answer.code).toBe('STORE_CONFIG');
    expect(answer.message).toMatch(new RegExp(`^Omnithread needs Node\\.js 22\\.13 or newer \\(this is ${oldNode.version.replace(/\./g, '\\.')}\\): its embedded SQLite store is Node's built-in node:sqlite`));
    expect(answer.message).toContain('PostgreSQL');
  });

  it(`node scripts/story.js on Node ${oldNode.version} prints the requirement, not a stack trace`, () => {
    const out = spawnSync(oldNode.bin, [join(root, 'scripts', 'story.js')], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(out.status).toBe(1);
    expect(out.stderr).toContain(`${nodeRequirementMessage(oldNode.version)}: this story uses the embedded SQLite store`);
    expect(out.stderr).toContain('npm run story');
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });
});
