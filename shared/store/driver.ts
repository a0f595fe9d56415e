/**
 * The one seam between Omnithread's storage logic and a database. Everything the store does is written
 * once, in SQL both SQLite and PostgreSQL understand, against this interface; a driver only knows how to
 * run statements, hold transactions and take locks. So both back ends behave the same by construction.
 */
export type SqlParam = string | number | null;
export type Row = Record<string, unknown>;

export interface SqlExecutor {
  /** All rows. Statements use `?` placeholders; the PostgreSQL driver rewrites them to $1, $2 ... */
  all<T extends Row = Row>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  get<T extends Row = Row>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  /** Runs a statement and returns how many rows it changed. */
  run(sql: string, params?: readonly SqlParam[]): Promise<number>;
  /**
   * Several statements in order, with every statement's rows: one round trip on PostgreSQL (with whatever
   * was deferred), one after the other on SQLite. `commit`: these are the last statements of the
   * transaction (a read transaction's too), and PostgreSQL sends the COMMIT with them (a statement after
   * them is an error); SQLite commits when the transaction's function returns, as always.
   */
  many(statements: readonly Statement[], options?: { commit?: boolean }): Promise<Row[][]>;
}

export interface SqlTransaction extends SqlExecutor {
  /**
   * Serialises this transaction against every other one that locks any of the same keys, until commit.
   * PostgreSQL takes transaction-scoped advisory locks (sorted, so two transactions can not deadlock on
   * them); SQLite needs nothing, because its write transactions are already serial.
   */
  lock(keys: readonly string[], mode?: 'exclusive' | 'shared'): Promise<void>;
  /**
   * lock([scope], scopeMode) and then lock(keys), in one call (one round trip on PostgreSQL): the scope
   * first, so everyone takes it before any key, as two separate calls would.
   */
  lockScoped(scope: string, scopeMode: 'exclusive' | 'shared', keys: readonly string[]): Promise<void>;
  /**
   * A write whose outcome nobody reads (no rows, no count). PostgreSQL sends it with the transaction's next
   * statement, or with its COMMIT, in one round trip, and an error it raises surfaces there and fails the
   * transaction as any other would; SQLite runs it at once. Locks are sent the same way.
   */
  defer(sql: string, params?: readonly SqlParam[]): Promise<void>;
}

export interface Statement {
  sql: string;
  params: readonly SqlParam[];
}

/** What a purge after an erase achieved. */
export interface PurgeOutcome {
  /** True when the deleted bytes are out of the database files (as far as this store can make them). */
  complete: boolean;
  /** What was done, and what remains (WAL, backups), in words for the report and the logs. */
  detail: string;
}

export interface SqlDriver {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs fn in one write transaction; retried from the start on deadlocks and serialisation failures. */
  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  /** Runs fn on a consistent read snapshot (no writes). */
  read<T>(fn: (db: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * One statement's first row, outside any transaction (a statement is a consistent read by itself): the
   * cheapest read there is, one round trip on PostgreSQL where read() takes two (BEGIN with the query, then COMMIT).
   */
  readOne<T extends Row = Row>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  /**
   * Called after an erase so that the deleted bytes leave the database files too. SQLite: deleted pages are
   * zeroed (secure_delete), then the WAL is checkpointed and truncated, retried while a reader holds it;
   * PostgreSQL: the touched tables are vacuumed (VACUUM, or VACUUM FULL with erasePurge 'full').
   */
  purgeDeleted(options: { tables: readonly string[]; waitMs: number }): Promise<PurgeOutcome>;
  close(): Promise<void>;
}

/** Retries a transaction a few times on transient conflicts, with a small random backoff. */
export async function withRetries<T>(attempt: () => Promise<T>, isTransient: (error: unknown) => boolean, tries = 12): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= tries || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 5 * i) + 1));
    }
  }
}

/** `?, ?, ?` for an IN list of this many values. */
export const inList = (values: readonly unknown[]): string => values.map(() => '?').join(', ');

/**
 * One SELECT per id, joined by UNION ALL, for a query that must probe an index by that id (`branch` holds
 * one `?` for it, after its other parameters). `col IN (?, ?)` next to another equality let both planners
 * prefer that other index once the list had two ids: SQLite searched conversations_status_activity by
 * (workspace, status) and read every open conversation of the workspace to find a merged person's one.
 * An equality per branch leaves them no such choice.
 */
export function eachId(ids: readonly string[], branch: string, params: readonly (string | number)[]): { sql: string; params: (string | number)[] } {
  return { sql: ids.map(() => branch).join(' UNION ALL '), params: ids.flatMap((id) => [...params, id]) };
}

/**
 * The ids of everyone who resolves to a survivor (params: workspace, root id), for `IN (...)`.
 * Person-scoped queries start from this small, indexed set rather than joining from the big tables, so
 * their plan does not depend on the planner's statistics.
 */
export const FAMILY_IDS = 'SELECT id FROM contacts WHERE workspace = ? AND root_id = ?';
