import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MessageInput, StoreConfig } from '../../shared';

export interface WorkerResult {
  id: string;
  duplicate?: boolean;
  contactId?: string;
  eventId?: string | null;
  error?: string;
}

const DIST = join(__dirname, '..', '..', 'dist', 'shared', 'index.js');

/**
 * Runs each batch in its own OS process against the same store, all released at once.
 * The processes load the built package (dist/): `npm test` builds it first.
 */
export async function runInProcesses(config: StoreConfig, workspace: string, batches: MessageInput[][], concurrency: number): Promise<WorkerResult[]> {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" (npm test does) before these tests`);
  const children = batches.map((messages) =>
    fork(join(__dirname, 'ingest-worker.js'), [], {
      env: { ...process.env, OMNITHREAD_WORKER_INPUT: JSON.stringify({ config, workspace, messages, concurrency }) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const ready = children.map((child) => new Promise<void>((resolve, reject) => {
    child.once('message', (m: { type: string; error?: string }) => (m.type === 'ready' ? resolve() : reject(new Error(m.error))));
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
  }));
  const done = children.map((child) => new Promise<WorkerResult[]>((resolve, reject) => {
    child.on('message', (m: { type: string; results?: WorkerResult[]; error?: string }) => {
      if (m.type === 'done') resolve(m.results!);
      if (m.type === 'failed') reject(new Error(m.error));
    });
    child.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  }));
  await Promise.all(ready);
  for (const child of children) child.send('go');
  const results = (await Promise.all(done)).flat();
  return results;
}
