/**
 * `npm start` as its own process, the way a new user runs it (scripts/demo.js --reset on a free port, its
 * data in a temp folder), for the browser suites that check what it serves and what it prints.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface DemoProcess {
  base: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts the demo and waits until it has printed `ready` (default: the whole banner). */
export async function startDemo(ready = 'Ctrl+C stops.'): Promise<DemoProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'omnithread-demo-'));
  const port = await freePort();
  let output = '';
  const demo: ChildProcess = spawn(process.execPath, [join(ROOT, 'scripts', 'demo.js'), '--reset'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), OMNITHREAD_DEMO_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout!.on('data', (d) => (output += String(d)));
  demo.stderr!.on('data', (d) => (output += String(d)));
  const stop = async () => {
    if (demo.exitCode === null) {
      const exited = new Promise((r) => demo.once('exit', r));
      demo.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 40_000;
  while (!output.includes(ready)) {
    if (demo.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`npm start did not come up:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base: `http://127.0.0.1:${port}`, output: () => output, stop };
}
