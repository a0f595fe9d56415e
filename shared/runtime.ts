/**
 * One open store per configuration per process, shared by every node that uses it: n8n runs a node's
 * code on every execution and Node-RED creates a node per deploy, and neither should open a database
 * each time. Node-RED releases its stores when its config nodes close; n8n keeps them for the process.
 */
import { resolve } from 'node:path';
import { Omnithread, createOmnithread } from './omnithread';
import { ResolvedSettings } from './settings';
import { Store, StoreConfig, openStore } from './store';

interface Entry {
  store: Promise<Store>;
  users: number;
}

const stores = new Map<string, Entry>();

/**
 * The clock every node's Omnithread stamps writes with (epoch ms). The system clock unless an embedder
 * (or a test) sets another: time is an input, so a replay or a test can run on any date.
 */
let runtimeClock: () => number = Date.now;

/** Sets the clock of every Omnithread the nodes create from now on; `undefined` restores the system clock. */
export function setRuntimeClock(clock: (() => number) | undefined): void {
  runtimeClock = clock ?? Date.now;
}

/**
 * One entry per database. A SQLite file is keyed by its resolved path: two connections to one file in
 * one process would make each wait on the other's open transaction for the busy timeout (node:sqlite is
 * synchronous), so every node of the process must share one.
 */
function keyOf(config: StoreConfig): string {
  const normalised = config.type === 'sqlite' && config.path !== ':memory:' ? { ...config, path: resolve(config.path) } : config;
  return JSON.stringify(normalised, Object.keys(normalised).sort());
}

/** Opens (or shares) the store for this configuration; call release() when done with it. */
export async function acquireStore(config: StoreConfig): Promise<{ store: Store; release: () => Promise<void> }> {
  const key = keyOf(config);
  let entry = stores.get(key);
  if (!entry) {
    entry = { store: openStore(config), users: 0 };
    stores.set(key, entry);
    // A store that failed to open is forgotten, so the next attempt tries again.
    entry.store.catch(() => stores.get(key) === entry && stores.delete(key));
  }
  entry.users++;
  const current = entry;
  let released = false;
  const store = await current.store.catch((error: unknown) => {
    current.users--;
    throw error;
  });
  return {
    store,
    release: async () => {
      if (released) return;
      released = true;
      current.users--;
      if (current.users === 0 && stores.get(key) === current) {
        stores.delete(key);
        await store.close();
      }
    },
  };
}

/** The Omnithread of a node's settings on an open store, on the runtime clock. */
export function omnithreadOn(store: Store, settings: ResolvedSettings): Omnithread {
  return createOmnithread({
    store,
    workspace: settings.workspace,
    rules: settings.rules,
    idleTimeoutMs: settings.idleTimeoutMs,
    rawPayloadLimitBytes: settings.rawPayloadLimitBytes,
    clock: () => runtimeClock(),
  });
}

/** An Omnithread for these settings on a shared store that stays open for the life of the process. */
export async function omnithreadFor(settings: ResolvedSettings): Promise<Omnithread> {
  const { store } = await acquireStore(settings.store);
  return omnithreadOn(store, settings);
}

/** Closes every store this process opened (tests and graceful shutdown). */
export async function closeAllStores(): Promise<void> {
  const entries = [...stores.values()];
  stores.clear();
  await Promise.all(entries.map(async (e) => (await e.store.catch(() => undefined))?.close()));
}
