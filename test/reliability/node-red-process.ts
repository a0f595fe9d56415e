/**
 * A real Node-RED 5 in a child process of its own, for the reliability suite: Node-RED's own red.js on a
 * temporary user dir, set up the way a user sets one up (settings.js, flows.json, flows_cred.json with
 * credentialSecret: false, and this package in the user dir's node_modules). The package is a symlink
 * to this checkout, as `npm install /path/to/checkout` makes it, so Node-RED finds it by its package.json
 * "node-red" key and loads dist/ (`npm test` builds it first; run `npm run build` before jest alone).
 *
 * The TypeScript twin of bench/node-red-process.js, taking any flows, credentials and settings.
 *
 * OMNITHREAD_RELIABILITY_PACKAGE=/path/to/another/build runs the suite against another built copy of
 * the package (e.g. a commit from before a fix, to see a test fail for the reason it names).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ROOT = process.env.OMNITHREAD_RELIABILITY_PACKAGE || join(__dirname, '..', '..');
const PACKAGE = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string }).name;

export type FlowNode = Record<string, unknown> & { id: string; type: string };
export type Credentials = Record<string, Record<string, string>>;

export interface NodeRedOptions {
  flows: FlowNode[];
  credentials?: Credentials;
  /** More settings.js entries (plain JSON values), e.g. { apiMaxLength: '1mb' }. */
  settings?: Record<string, unknown>;
  /** Defaults to a new temporary folder, removed by stop(). */
  userDir?: string;
  /** Defaults to a free port. */
  port?: number;
  /** How long to wait for "Started flows" and the admin API. */
  startTimeoutMs?: number;
}

export interface NodeRed {
  /** http://127.0.0.1:<port>: the editor, the admin API and the flows' routes (all at "/"). */
  base: string;
  port: number;
  userDir: string;
  child: ChildProcess;
  /** What Node-RED has written to stdout and stderr so far. */
  log(): string;
  /** The last lines of the log, for error messages. */
  tail(lines?: number): string;
  /** Deploys flows through the admin API (POST /flows), as the editor's Deploy button does. */
  deploy(flows: FlowNode[], type?: 'full' | 'flows' | 'nodes'): Promise<Response>;
  /** SIGTERM (red.js stops the flows and closes the stores), SIGKILL after the timeout; removes a temporary user dir. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns something other than undefined or false; an error it throws counts as
 * "not yet" (the last one is reported at the timeout), unless it is marked `fatal`.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if ((error as { fatal?: boolean }).fatal) throw error;
      last = error;
    }
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

/** Children still running when the jest worker exits are killed with it. */
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

function writeUserDir(dir: string, options: NodeRedOptions): void {
  mkdirSync(join(dir, 'node_modules', dirname(PACKAGE)), { recursive: true });
  rmSync(join(dir, 'node_modules', PACKAGE), { force: true }); // from an earlier start on the same dir
  symlinkSync(ROOT, join(dir, 'node_modules', PACKAGE), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies: { [PACKAGE]: `file:${ROOT}` } }, null, 2));
  writeFileSync(join(dir, 'flows.json'), JSON.stringify(options.flows, null, 2));
  writeFileSync(join(dir, 'flows_cred.json'), JSON.stringify(options.credentials ?? {}, null, 2));
  const settings = {
    flowFile: 'flows.json',
    credentialSecret: false,
    uiHost: '127.0.0.1',
    telemetry: { enabled: false },
    editorTheme: { tours: false },
    logging: { console: { level: 'info', metrics: false, audit: false } },
    ...options.settings,
  };
  writeFileSync(join(dir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
}

/**
 * Starts Node-RED and resolves once its flows have started and the admin API answers. On a free port
 * taken meanwhile by another process ("Error: port in use"), it tries again on another one.
 */
export async function startNodeRed(options: NodeRedOptions): Promise<NodeRed> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (options.port !== undefined || attempt >= 3 || !(error as Error).message.includes('Error: port in use')) throw error;
    }
  }
}

async function startOnce(options: NodeRedOptions): Promise<NodeRed> {
  const temporary = !options.userDir;
  const userDir = options.userDir ?? mkdtempSync(join(tmpdir(), 'omnithread-reliability-'));
  writeUserDir(userDir, options);
  const port = options.port ?? (await freePort());
  const base = `http://127.0.0.1:${port}`;
  const logFile = join(userDir, 'node-red.log');
  const out = openSync(logFile, 'a');
  const redJs = require.resolve('node-red/red.js', { paths: [ROOT] });
  // The spawned process IS Node-RED (no shell or npm in between): its pid is the one to signal.
  const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--port', String(port), '--settings', join(userDir, 'settings.js')], {
    cwd: userDir,
    stdio: ['ignore', out, out],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  closeSync(out);
  running.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const log = () => readFileSync(logFile, 'utf8');
  const tail = (lines = 40) => log().split('\n').slice(-lines).join('\n');

  const stop = async () => {
    let result: { code: number | null; signal: NodeJS.Signals | null };
    if (child.exitCode !== null || child.signalCode !== null) result = await exited;
    else {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      result = await exited;
      clearTimeout(timer);
    }
    if (temporary) rmSync(userDir, { recursive: true, force: true });
    return result;
  };

  const deploy = (flows: FlowNode[], type: 'full' | 'flows' | 'nodes' = 'full') =>
    fetch(`${base}/flows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Node-RED-API-Version': 'v1', 'Node-RED-Deployment-Type': type },
      body: JSON.stringify(flows),
    });

  try {
    await waitFor(
      `Node-RED on ${base} to start its flows`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw Object.assign(new Error(`Node-RED exited (${child.exitCode ?? child.signalCode}):\n${tail()}`), { fatal: true });
        if (!log().includes('Started flows')) return false;
        const response = await fetch(`${base}/flows`, { headers: { 'Node-RED-API-Version': 'v1' } });
        await response.arrayBuffer();
        return response.status === 200;
      },
      options.startTimeoutMs ?? 60_000,
      100,
    );
  } catch (error) {
    const lastLines = tail();
    await stop();
    throw new Error(`${(error as Error).message}\n--- Node-RED log ---\n${lastLines}`);
  }
  return { base, port, userDir, child, log, tail, deploy, stop };
}
