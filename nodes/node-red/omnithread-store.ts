/**
 * omnithread-store (config node): where Omnithread keeps its data and how it recognises people.
 * Opens the store once (shared by every node that uses it, and by other config nodes with the same
 * store settings) and releases it when the config node closes.
 */
import { NodeStoreSettingsSchema, acquireStore, omnithreadOn, resolveSettings } from '../../shared';
import type { NodeStoreSettings, Omnithread } from '../../shared';
import type { NodeDef, RedApi, StoreNode } from './common';

type StoreDef = NodeDef & Record<string, unknown>;

/** Settings kept as credentials (never exported with the flow). */
const SECRETS = ['postgresUrl', 'password'] as const;
const FIELDS = Object.keys(NodeStoreSettingsSchema.shape).filter((k) => !(SECRETS as readonly string[]).includes(k));

export = function register(RED: RedApi): void {
  function OmnithreadStore(this: StoreNode, def: StoreDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    let release: (() => Promise<void>) | undefined;

    node.omnithread = (async (): Promise<Omnithread> => {
      const fields: Record<string, unknown> = {};
      for (const key of FIELDS) if (def[key] !== undefined) fields[key] = def[key];
      for (const key of SECRETS) if (node.credentials?.[key]) fields[key] = node.credentials[key];
      const settings = resolveSettings(fields as NodeStoreSettings, 'node-red', RED.settings.userDir);
      const acquired = await acquireStore(settings.store);
      release = acquired.release;
      return omnithreadOn(acquired.store, settings);
    })();
    node.omnithread.catch((error: Error) => node.error(`Omnithread store "${def.name || def.id}" is not available: ${error.message}`));

    node.on('close', (_removed, done) => {
      node.omnithread
        .catch(() => undefined)
        .then(() => release?.())
        .catch((error: Error) => node.warn(`Omnithread store did not close cleanly: ${error.message}`))
        .finally(done);
    });
  }

  RED.nodes.registerType('omnithread-store', OmnithreadStore, {
    credentials: { postgresUrl: { type: 'password' }, password: { type: 'password' } },
  });
};
