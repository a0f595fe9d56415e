/**
 * The settings a user gives a node (an n8n credential, a Node-RED config node), turned into a store
 * configuration and Omnithread options. One schema for both engines, so they offer the same choices.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { TrustSchema, parseInput } from './model';
import { BUILT_IN_RULE_IDS } from './identity/built-in';
import type { IdentityRulesInput } from './identity/rules';
import type { StoreConfig } from './store';

export const NodeStoreSettingsSchema = z
  .object({
    storeType: z.enum(['sqlite', 'postgres']).default('sqlite'),
    /** Empty = the default file in the engine's user folder. */
    sqlitePath: z.string().default(''),
    /** SQLite: when a commit is durable, 'normal' (safe from a process crash) or 'full' (from a power cut too). */
    sqliteSynchronous: z.enum(['normal', 'full']).default('normal'),
    postgresUrl: z.string().default(''),
    host: z.string().default(''),
    port: z.coerce.number().int().min(1).max(65535).default(5432),
    database: z.string().default(''),
    user: z.string().default(''),
    password: z.string().default(''),
    ssl: z.boolean().default(false),
    poolSize: z.coerce.number().int().min(1).max(200).default(10),
    /** PostgreSQL: what an erase does to the deleted bytes ('vacuum' or 'full', see PostgresDriverOptions). */
    erasePurge: z.enum(['vacuum', 'full']).default('vacuum'),
    /** PostgreSQL: prepare statements once per connection (off behind a pooler that can not keep them). */
    preparedStatements: z.boolean().default(true),
    workspace: z.string().default('default'),
    defaultCountry: z.string().default(''),
    autoMergeTrust: TrustSchema.default('channel'),
    /** Comma- or newline-separated shared mailboxes that never link people. */
    sharedMailboxes: z.string().default(''),
    /** Comma- or newline-separated own addresses and domains (support@acme.io, acme.io): mail from them is ours. */
    ownAddresses: z.string().default(''),
    /** Built-in rules switched off, by id: a list (n8n's multi-options) or a comma-separated string (Node-RED). */
    builtInRulesOff: z
      .union([z.string(), z.array(z.string())])
      .default('')
      .transform((v) => (Array.isArray(v) ? v : list(v)))
      .pipe(z.array(z.enum(BUILT_IN_RULE_IDS, { errorMap: () => ({ message: `must be built-in rule ids: ${BUILT_IN_RULE_IDS.join(', ')}` }) }))),
    idleTimeoutDays: z.coerce.number().min(0.01).max(3650).default(7),
    /** KB of a provider's raw payload kept with each message (0: none). */
    rawPayloadKb: z.coerce.number().min(0).max(10240).default(32),
  })
  .passthrough();
export type NodeStoreSettings = z.input<typeof NodeStoreSettingsSchema>;

/** A comma-, semicolon- or newline-separated setting as a list. */
function list(value: string): string[] {
  return value
    .split(/[\n,;]/)
    .map((m) => m.trim())
    .filter(Boolean);
}

export interface ResolvedSettings {
  store: StoreConfig;
  workspace: string;
  rules: IdentityRulesInput;
  idleTimeoutMs: number;
  rawPayloadLimitBytes: number;
}

/** Where the embedded store lives when the user names no file: a folder of ours in the engine's user folder. */
export function defaultSqlitePath(engine: 'n8n' | 'node-red', userFolder?: string): string {
  if (engine === 'n8n') {
    // n8n keeps its data in $N8N_USER_FOLDER/.n8n (default ~/.n8n).
    const base = userFolder ?? process.env.N8N_USER_FOLDER ?? homedir();
    return join(base, '.n8n', 'omnithread', 'omnithread.db');
  }
  return join(userFolder ?? join(homedir(), '.node-red'), 'omnithread', 'omnithread.db');
}

export function resolveSettings(input: NodeStoreSettings | undefined, engine: 'n8n' | 'node-red', userFolder?: string): ResolvedSettings {
  const s = parseInput(NodeStoreSettingsSchema, input ?? {}, 'Omnithread store settings');
  // Whichever way the server is named, the same options apply to it.
  const postgres = { ssl: s.ssl, poolSize: s.poolSize, erasePurge: s.erasePurge, preparedStatements: s.preparedStatements };
  const store: StoreConfig =
    s.storeType === 'sqlite'
      ? { type: 'sqlite', path: s.sqlitePath.trim() || defaultSqlitePath(engine, userFolder), synchronous: s.sqliteSynchronous }
      : s.postgresUrl.trim()
        ? { type: 'postgres', connectionString: s.postgresUrl.trim(), ...postgres }
        : {
            type: 'postgres',
            host: s.host || undefined,
            port: s.port,
            database: s.database || undefined,
            user: s.user || undefined,
            password: s.password || undefined,
            ...postgres,
          };
  const ownAddresses = list(s.ownAddresses);
  return {
    store,
    workspace: s.workspace.trim() || 'default',
    rules: {
      ...(s.defaultCountry.trim() ? { defaultCountry: s.defaultCountry.trim() } : {}),
      autoMergeTrust: s.autoMergeTrust,
      sharedMailboxes: list(s.sharedMailboxes),
      ...(ownAddresses.length ? { ownAddresses } : {}),
      ...(s.builtInRulesOff.length ? { builtInRulesOff: s.builtInRulesOff } : {}),
    },
    idleTimeoutMs: Math.round(s.idleTimeoutDays * 24 * 3600 * 1000),
    rawPayloadLimitBytes: Math.round(s.rawPayloadKb * 1024),
  };
}
