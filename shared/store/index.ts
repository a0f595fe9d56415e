import { z } from 'zod';
import { parseInput } from '../model';
import { SqlDriver } from './driver';
import { migrate, storeTables } from './migrations';
import { PostgresDriver } from './postgres';
import { SqliteDriver } from './sqlite';

export const SqliteStoreConfigSchema = z
  .object({
    type: z.literal('sqlite'),
    /** Database file. Several processes on one host may share it. */
    path: z.string().min(1, 'must name the SQLite database file'),
    busyTimeoutMs: z.number().int().min(0).max(600_000).default(15_000),
    /**
     * When a commit is durable. 'normal' (default): written to the write-ahead log, safe from a crash of
     * the process; a power cut or OS crash may lose the last commits before the next checkpoint.
     * 'full': fsynced before the message is acknowledged, safe from a power cut too.
     */
    synchronous: z.enum(['normal', 'full']).default('normal'),
  })
  .strict();

export const PostgresStoreConfigSchema = z
  .object({
    type: z.literal('postgres'),
    /** postgres://user:password@host:5432/database; or give the parts below. */
    connectionString: z.string().min(1).optional(),
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    database: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    password: z.string().optional(),
    ssl: z.boolean().default(false),
    poolSize: z.number().int().min(1).max(200).default(10),
    /** After an erase: 'vacuum' the touched tables (default), or rewrite them with 'full' (VACUUM FULL). */
    erasePurge: z.enum(['vacuum', 'full']).default('vacuum'),
    /**
     * ANALYZE the store's tables when they have grown by half since their last statistics (default on).
     * Autovacuum looks once a minute at best; until it does, PostgreSQL plans a young or fast-growing
     * table blind, and it read whole workspaces for single-row lookups.
     */
    keepStatistics: z.boolean().default(true),
    /**
     * Prepare each statement once per connection (default). Turn off behind a pooler that does not keep
     * a connection's prepared statements: PgBouncer in transaction mode before 1.21, or without
     * max_prepared_statements. Then PostgreSQL plans every statement each time.
     */
    preparedStatements: z.boolean().default(true),
  })
  .strict();

export const StoreConfigSchema = z
  .discriminatedUnion('type', [SqliteStoreConfigSchema, PostgresStoreConfigSchema], {
    errorMap: (issue, ctx) =>
      issue.code === 'invalid_union_discriminator' ? { message: 'must be "sqlite" or "postgres"' } : { message: ctx.defaultError },
  })
  .superRefine((config, ctx) => {
    if (config.type === 'postgres' && !config.connectionString && !config.host) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['connectionString'], message: 'needs a connectionString or a host' });
    }
  });
export type StoreConfig = z.input<typeof StoreConfigSchema>;

/** An open store: a driver whose schema is up to date. One per process is enough; share it. */
export interface Store {
  readonly driver: SqlDriver;
  close(): Promise<void>;
}

export async function openStore(config: StoreConfig): Promise<Store> {
  const parsed = parseInput(StoreConfigSchema, config, 'store configuration');
  const driver: SqlDriver =
    parsed.type === 'sqlite'
      ? new SqliteDriver({ path: parsed.path, busyTimeoutMs: parsed.busyTimeoutMs, synchronous: parsed.synchronous })
      : new PostgresDriver({
          connectionString: parsed.connectionString,
          host: parsed.host,
          port: parsed.port,
          database: parsed.database,
          user: parsed.user,
          password: parsed.password,
          ssl: parsed.ssl ? { rejectUnauthorized: true } : undefined,
          poolSize: parsed.poolSize,
          erasePurge: parsed.erasePurge,
          preparedStatements: parsed.preparedStatements,
        });
  try {
    await migrate(driver);
  } catch (error) {
    await driver.close().catch(() => undefined);
    throw error;
  }
  if (driver instanceof PostgresDriver && parsed.type === 'postgres' && parsed.keepStatistics) driver.keepStatistics(storeTables());
  return { driver, close: () => driver.close() };
}

export { SqliteDriver } from './sqlite';
export { PostgresDriver } from './postgres';
export type { SqlDriver, SqlExecutor, SqlTransaction } from './driver';
export { MIGRATIONS, migrate } from './migrations';
