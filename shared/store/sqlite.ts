import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, StatementSync } from 'node:sqlite';
import { OmnithreadError, isOmnithreadError } from '../errors';
import { Row, SqlDriver, SqlExecutor, SqlParam, SqlTransaction, withRetries } from './driver';

export interface SqliteDriverOptions {
  /** Database file; ':memory:' for a throwaway store. Parent folders are created. */
  path: string;
  /** How long a writer waits for another process's write lock before giving up. */
  busyTimeoutMs: number;
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
/**
 * Errors that mean "the store can not be used now": busy or locked past the retries, I/O errors, a full
 * disk, a file that can not be opened or written, a corrupt file. Anything else (a constraint, a statement
 * of ours that is wrong) is a bug and stays as it is: the webhook answers it 500, not 503.
 */
const UNAVAILABLE = new Set([3 /* PERM */, 5 /* BUSY */, 6 /* LOCKED */, 7 /* NOMEM */, 8 /* READONLY */, 10 /* IOERR */, 11 /* CORRUPT */, 13 /* FULL */, 14 /* CANTOPEN */, 15 /* PROTOCOL */, 26 /* NOTADB */]);
function storeError(error: unknown): unknown {
  if (isOmnithreadError(error)) return error;
  const code = (error as { errcode?: number }).errcode;
  return code !== undefined && UNAVAILABLE.has(code & 0xff) ? new OmnithreadError('STORE_UNAVAILABLE', `The SQLite store could not be used: ${(error as Error).message}`, { cause: error }) : error;
}

const isBusy = (error: unknown): boolean => {
  const code = (error as { errcode?: number }).errcode;
  if (code === undefined) return false;
  const primary = code & 0xff; // extended result codes keep the primary code in the low byte
  return primary === SQLITE_BUSY || primary === SQLITE_LOCKED;
};

/** Runs a statement of the open sequence, again after a short pause while SQLite answers BUSY (at most ~2 s). */
function openRetrying(statement: () => void): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; ; attempt++) {
    try {
      statement();
      return;
    } catch (error) {
      if (!isBusy(error) || attempt >= 40) throw error;
      Atomics.wait(pause, 0, 0, 5 + Math.floor(Math.random() * 45));
    }
  }
}

/**
 * SQLite through Node's built-in `node:sqlite`: no native module to compile. WAL lets readers run beside
 * the one writer; BEGIN IMMEDIATE takes the write lock up front, so two processes never interleave a
 * read-decide-write sequence (the busy timeout makes the second one wait instead of failing).
 * node:sqlite is synchronous, so within one process every unit of work is queued: an async transaction
 * body can never see another caller's statements on the same connection.
 */
export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: SqliteDriverOptions) {
    try {
      if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
      this.db = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs });
      this.db.exec(`PRAGMA busy_timeout = ${Math.floor(options.busyTimeoutMs)}`);
      // Setting WAL needs a moment of exclusive access. When several processes open a new file at once,
      // SQLite can answer BUSY at once, without waiting on the busy timeout (a lock upgrade that could
      // deadlock): the switch is retried a few times, a few milliseconds apart.
      openRetrying(() => this.db.exec('PRAGMA journal_mode = WAL'));
      this.db.exec('PRAGMA synchronous = NORMAL');
      this.db.exec('PRAGMA foreign_keys = ON');
      // Erased data must not linger in free pages: overwrite deleted content with zeros.
      this.db.exec('PRAGMA secure_delete = ON');
      // Lets SQLite gather the statistics its planner needs, cheaply, as the SQLite docs advise at open.
      this.db.exec('PRAGMA optimize = 0x10002');
    } catch (error) {
      throw new OmnithreadError('STORE_UNAVAILABLE', `Could not open the SQLite store at ${options.path}: ${(error as Error).message}`, { cause: error });
    }
  }

  private statement(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private readonly executor: SqlTransaction = {
    all: async <T extends Row>(sql: string, params: readonly SqlParam[] = []) => this.statement(sql).all(...params) as T[],
    get: async <T extends Row>(sql: string, params: readonly SqlParam[] = []) => this.statement(sql).get(...params) as T | undefined,
    run: async (sql: string, params: readonly SqlParam[] = []) => Number(this.statement(sql).run(...params).changes),
    lock: async () => undefined,
  };

  /** Runs fn alone on this connection: the next unit of work starts only when this one has settled. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new OmnithreadError('STORE_UNAVAILABLE', 'The SQLite store is closed'));
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async inTransaction<T>(begin: string, fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    this.db.exec(begin);
    try {
      const result = await fn(this.executor);
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return this.exclusive(() => withRetries(() => this.inTransaction('BEGIN IMMEDIATE', fn), isBusy)).catch((error: unknown) => Promise.reject(storeError(error)));
  }

  read<T>(fn: (db: SqlExecutor) => Promise<T>): Promise<T> {
    return this.exclusive(() => withRetries(() => this.inTransaction('BEGIN', fn), isBusy)).catch((error: unknown) => Promise.reject(storeError(error)));
  }

  purgeDeleted(): Promise<void> {
    return this.exclusive(async () => {
      this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    });
  }

  /** Rewrites the file without free pages (what VACUUM does); slow on big stores, so only on request. */
  vacuum(): Promise<void> {
    return this.exclusive(async () => {
      this.db.exec('VACUUM');
      this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    });
  }

  async close(): Promise<void> {
    await this.exclusive(async () => undefined).catch(() => undefined);
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }
}
