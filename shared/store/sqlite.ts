import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { OmnithreadError, isOmnithreadError } from '../errors';
import { loadNodeSqlite } from '../runtime-check';
import { Checkpointer } from './checkpointer';
import { PurgeOutcome, Row, SqlDriver, SqlExecutor, SqlParam, SqlTransaction, Statement } from './driver';

export interface SqliteDriverOptions {
  /** Database file; ':memory:' for a throwaway store. Parent folders are created. */
  path: string;
  /** How long a writer waits for another process's write lock before giving up (waiting asynchronously). */
  busyTimeoutMs: number;
  /**
   * 'normal' (default): in WAL mode a commit is written to the log but not fsynced; it survives a crash
   * of the process (Node-RED, n8n) at any moment, and a power cut or OS crash may lose the last commits
   * since the log was last synced (at each checkpoint), never the file's consistency. 'full': every
   * commit fsyncs the log before it returns, so nothing acknowledged is lost even on a power cut, at the
   * cost of one fsync per commit (shared by every message of a group commit).
   */
  synchronous?: 'normal' | 'full';
}

/**
 * node:sqlite is synchronous: while SQLite waits for another process's lock inside a call, the whole
 * process (the Node-RED editor, n8n's other executions) waits with it. So SQLite itself waits at most this
 * long per try, and the driver waits between tries asynchronously, up to busyTimeoutMs in all.
 */
const BLOCKING_WAIT_MS = 10;
/** Prepared statements kept per connection (statements with IN lists of varying length come and go). */
const STATEMENT_CACHE = 256;
/**
 * Most write transactions one group commit holds. Each waits for the whole group's commit, so a bound
 * keeps the wait short; at ~0.1 ms a message, 64 of them commit within a few milliseconds.
 */
const GROUP_LIMIT = 64;
/**
 * When the log starts over, its file is cut back to this size (SQLite keeps it otherwise). Zero: the file's
 * size is then what the log holds, which is what the checkpointer looks at.
 */
const WAL_SIZE_LIMIT_BYTES = 0;
const PURGE_RETRY_MS = 5_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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

interface PendingWrite {
  fn: (tx: SqlTransaction) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * SQLite through Node's built-in `node:sqlite`: no native module to compile. WAL lets readers run beside
 * the one writer; BEGIN IMMEDIATE takes the write lock up front, so two processes never interleave a
 * read-decide-write sequence (the busy timeout makes the second one wait instead of failing).
 * node:sqlite is synchronous, so within one process every unit of work is queued: an async transaction
 * body can never see another caller's statements on the same connection.
 *
 * Group commit: write transactions that wait while the connection is busy run together, one after the
 * other, in one SQLite transaction, each inside its own SAVEPOINT. One that fails is rolled back to its
 * savepoint and fails alone; the others commit. Every caller is answered only after the COMMIT that
 * holds its work, so nothing is acknowledged before it is in the log. Under concurrency this shares one
 * BEGIN/COMMIT (and with synchronous = FULL one fsync) among many messages; a lone caller runs as before.
 */
export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly busyTimeoutMs: number;
  /** Write transactions waiting for the next group commit, and whether one is queued to take them. */
  private pendingWrites: PendingWrite[] = [];
  private groupQueued = false;
  private readonly checkpointer?: Checkpointer;
  /** Group commits run, and the write transactions they held: for tests and the benchmark. */
  readonly commitStats = { commits: 0, transactions: 0, largestGroup: 0 };
  /** Set while an erase's purge could not finish: retried in the background until it does. */
  private purgeRetry?: NodeJS.Timeout;

  constructor(options: SqliteDriverOptions) {
    // node:sqlite is loaded here, when a SQLite store is opened, not when the package loads: on a Node.js
    // older than 22.13 the nodes still load for PostgreSQL stores, and this says what to do.
    const { DatabaseSync } = loadNodeSqlite();
    try {
      if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
      this.busyTimeoutMs = options.busyTimeoutMs;
      this.db = new DatabaseSync(options.path, { timeout: BLOCKING_WAIT_MS });
      // Lock waits are short and synchronous here (node:sqlite blocks the event loop while SQLite waits);
      // the driver waits between tries asynchronously (see whenFree), so opening never freezes the process
      // while another one holds the write lock.
      this.db.exec(`PRAGMA busy_timeout = ${BLOCKING_WAIT_MS}`);
      // Setting WAL needs a moment of exclusive access. When several processes open a new file at once,
      // SQLite can answer BUSY at once, without waiting on the busy timeout (a lock upgrade that could
      // deadlock): the switch is retried a few times, a few milliseconds apart. On a file already in WAL
      // mode it takes no lock.
      openRetrying(() => this.db.exec('PRAGMA journal_mode = WAL'));
      // Connection settings: no lock needed.
      const synchronous = options.synchronous === 'full' ? 'FULL' : 'NORMAL';
      this.db.exec(`PRAGMA synchronous = ${synchronous}`);
      if (options.path !== ':memory:') {
        // Checkpoints run on a worker thread, never inside one of this connection's commits (see
        // Checkpointer); after a complete checkpoint the log file is cut back (WAL_SIZE_LIMIT_BYTES).
        this.db.exec('PRAGMA wal_autocheckpoint = 0');
        this.db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
        this.checkpointer = new Checkpointer({ path: options.path, busyTimeoutMs: options.busyTimeoutMs });
      }
      this.db.exec('PRAGMA foreign_keys = ON');
      // Erased data must not linger in free pages: overwrite deleted content with zeros.
      this.db.exec('PRAGMA secure_delete = ON');
      // Lets SQLite gather the statistics its planner needs, cheaply, as the SQLite docs advise at open. It
      // may write (ANALYZE), so it needs the write lock: when another process holds it (one migrating a new
      // file, a long write), it is skipped this time rather than waited for; it is only an optimisation.
      try {
        this.db.exec('PRAGMA optimize = 0x10002');
      } catch (error) {
        if (!isBusy(error)) throw error;
      }
    } catch (error) {
      throw new OmnithreadError('STORE_UNAVAILABLE', `Could not open the SQLite store at ${options.path}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** A prepared statement, from a small LRU cache: the most recently used stay, the rest are left to the GC. */
  private statement(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (statement) {
      this.statements.delete(sql);
    } else {
      statement = this.db.prepare(sql);
      if (this.statements.size >= STATEMENT_CACHE) this.statements.delete(this.statements.keys().next().value!);
    }
    this.statements.set(sql, statement);
    return statement;
  }

  private readonly executor: SqlTransaction = {
    all: async <T extends Row>(sql: string, params: readonly SqlParam[] = []) => this.statement(sql).all(...params) as T[],
    get: async <T extends Row>(sql: string, params: readonly SqlParam[] = []) => this.statement(sql).get(...params) as T | undefined,
    run: async (sql: string, params: readonly SqlParam[] = []) => Number(this.statement(sql).run(...params).changes),
    lock: async () => undefined,
    lockScoped: async () => undefined,
    defer: async (sql: string, params: readonly SqlParam[] = []) => void this.statement(sql).run(...params),
    many: async (statements: readonly Statement[], _options?: { commit?: boolean }) => statements.map(({ sql, params }) => this.statement(sql).all(...params) as Row[]),
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

  /**
   * Runs a unit of work, again while SQLite answers BUSY (another process holds the lock), waiting between
   * tries on timers, never on this thread: 1, 2, 4... ms up to 50 ms a step, busyTimeoutMs in all. The
   * queue of this connection holds meanwhile (its work would wait for the same lock).
   */
  private async whenFree<T>(work: () => Promise<T>): Promise<T> {
    const deadline = performance.now() + this.busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!isBusy(error) || performance.now() >= deadline) throw error;
        await sleep(Math.min(50, 2 ** attempt) * (0.5 + Math.random() / 2));
      }
    }
  }

  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new OmnithreadError('STORE_UNAVAILABLE', 'The SQLite store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pendingWrites.push({ fn, resolve: resolve as (value: unknown) => void, reject: (error) => reject(storeError(error)) });
      if (this.groupQueued) return;
      this.groupQueued = true;
      void this.exclusive(() => this.commitGroup());
    });
  }

  /**
   * Takes the write transactions waiting now (up to GROUP_LIMIT) and runs them in one SQLite transaction.
   * Taken when the connection is free, not when queued, so every transaction that arrived meanwhile joins.
   */
  private async commitGroup(): Promise<void> {
    this.groupQueued = false;
    const group = this.pendingWrites.splice(0, GROUP_LIMIT);
    if (this.pendingWrites.length) {
      this.groupQueued = true;
      void this.exclusive(() => this.commitGroup());
    }
    if (!group.length) return;
    if (this.closed) {
      for (const write of group) write.reject(new OmnithreadError('STORE_UNAVAILABLE', 'The SQLite store is closed'));
      return;
    }
    // Let a checkpoint that copied the bulk of the log finish while nothing is written (see Checkpointer).
    if (this.checkpointer?.wantsFinish) await this.checkpointer.finish();
    try {
      await this.whenFree(async () => this.db.exec('BEGIN IMMEDIATE'));
    } catch (error) {
      for (const write of group) write.reject(error);
      return;
    }
    try {
      await this.runGroup(group);
    } catch (error) {
      // A savepoint statement itself failed: nothing of the group is committed.
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      for (const write of group) write.reject(error);
    }
  }

  /** The body of a group commit, inside BEGIN IMMEDIATE: each transaction in its savepoint, then COMMIT. */
  private async runGroup(group: PendingWrite[]): Promise<void> {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    // A lone transaction needs no savepoint: its failure rolls the whole transaction back.
    const savepoints = group.length > 1;
    for (const write of group) {
      if (savepoints) this.db.exec('SAVEPOINT omnithread_write');
      try {
        const value = await write.fn(this.executor);
        if (savepoints) this.db.exec('RELEASE omnithread_write');
        outcomes.push({ ok: true, value });
      } catch (error) {
        if (!this.db.isTransaction) {
          // SQLite rolled the whole transaction back itself (an I/O error, a full disk): the work of
          // the group's earlier transactions is gone too, so none of them is acknowledged.
          for (const w of group) w.reject(error);
          return;
        }
        if (savepoints) {
          this.db.exec('ROLLBACK TO omnithread_write');
          this.db.exec('RELEASE omnithread_write');
        }
        outcomes.push({ ok: false, error });
      }
    }
    try {
      if (!savepoints && !outcomes[0].ok) this.db.exec('ROLLBACK');
      else this.db.exec('COMMIT');
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      for (const write of group) write.reject(error);
      return;
    }
    this.commitStats.commits++;
    this.commitStats.transactions += group.length;
    this.commitStats.largestGroup = Math.max(this.commitStats.largestGroup, group.length);
    this.checkpointer?.committed(group.length);
    group.forEach((write, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
  }

  /** How the log's checkpoints went (undefined for ':memory:'). */
  get checkpointStats(): Checkpointer['stats'] | undefined {
    return this.checkpointer?.stats;
  }

  readOne<T extends Row = Row>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    return this.exclusive(() => this.whenFree(async () => this.statement(sql).get(...params) as T | undefined)).catch((error: unknown) => Promise.reject(storeError(error)));
  }

  read<T>(fn: (db: SqlExecutor) => Promise<T>): Promise<T> {
    return this.exclusive(() => this.whenFree(() => this.inTransaction('BEGIN', fn))).catch((error: unknown) => Promise.reject(storeError(error)));
  }

  /**
   * Erased rows are already zeroed in their pages (secure_delete), but the database file keeps the old
   * pages until the WAL is checkpointed, and the WAL keeps every earlier version of them until it is
   * truncated. A checkpoint can not pass a reader still on an older snapshot (another process, a backup):
   * it is tried again, between the store's other work, for up to waitMs; after that the outcome says it
   * is pending and it goes on in the background until it succeeds.
   */
  async purgeDeleted(options: { waitMs: number }): Promise<PurgeOutcome> {
    const deadline = performance.now() + options.waitMs;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.checkpoint();
      if (outcome.complete || performance.now() >= deadline) {
        if (!outcome.complete) this.retryPurgeLater();
        return outcome;
      }
      await sleep(Math.min(500, 20 * 2 ** attempt));
    }
  }

  private checkpoint(): Promise<PurgeOutcome> {
    return this.exclusive(async () => {
      if (this.purgeRetry) clearTimeout(this.purgeRetry);
      this.purgeRetry = undefined;
      let result: { busy: number; log: number; checkpointed: number } | undefined;
      try {
        result = this.db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as typeof result;
      } catch (error) {
        if (!isBusy(error)) throw storeError(error);
      }
      if (result && result.busy === 0) {
        return { complete: true, detail: 'The erased rows were zeroed in the database file and the write-ahead log was checkpointed and truncated: no copy is left in the store\'s files (backups keep theirs until they are rotated).' };
      }
      return {
        complete: false,
        detail: `The erased rows are deleted and zeroed, but another connection (a reader on an older snapshot, a backup, another process) kept the write-ahead log from being checkpointed: until it is, the old pages stay in the -wal file. Retrying every ${PURGE_RETRY_MS / 1000} s in the background.`,
      };
    });
  }

  private retryPurgeLater(): void {
    if (this.closed || this.purgeRetry) return;
    this.purgeRetry = setTimeout(() => {
      this.purgeRetry = undefined;
      this.checkpoint().then(
        (outcome) => (outcome.complete ? undefined : this.retryPurgeLater()),
        () => this.retryPurgeLater(),
      );
    }, PURGE_RETRY_MS);
    this.purgeRetry.unref();
  }

  /** True while an erase's purge is still waiting to finish (see purgeDeleted). */
  get purgePending(): boolean {
    return this.purgeRetry !== undefined;
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
    if (this.purgeRetry) {
      clearTimeout(this.purgeRetry);
      this.purgeRetry = undefined;
      // The last chance of this connection: nobody else may be left to hold the log open.
      try {
        this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      } catch {
        // busy: the next connection's purge or checkpoint will do it
      }
    }
    await this.checkpointer?.close();
    this.statements.clear();
    this.db.close();
  }
}
