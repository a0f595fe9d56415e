import { createHash } from 'node:crypto';
import { Pool, PoolClient, PoolConfig, QueryResult, types } from 'pg';
import { OmnithreadError, isOmnithreadError } from '../errors';
import { PurgeOutcome, Row, SqlDriver, SqlExecutor, SqlParam, SqlTransaction, Statement, withRetries } from './driver';
import { StatisticsKeeper, keepStatistics } from './pg-statistics';

// 40P01 deadlock, 40001 serialization failure, 23505 a unique key raced in by another transaction:
// each means "run the transaction again and it will see the other one's result".
const TRANSIENT = new Set(['40P01', '40001', '23505']);
const isTransient = (error: unknown): boolean => TRANSIENT.has((error as { code?: string }).code ?? '');

/**
 * Errors that mean "the store can not be used now, try again later": no SQLSTATE (the connection broke),
 * connection exceptions (08), insufficient resources (53), operator intervention such as a shutdown or a
 * statement timeout (57), system errors (58), and conflicts still there after the retries. Anything else
 * (a constraint, a syntax error) is a bug of ours and stays as it is: the webhook answers it 500, not 503.
 */
function storeError(error: unknown): unknown {
  if (isOmnithreadError(error) || !(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  const unavailable = sqlState
    ? /^(08|53|57|58)/.test(sqlState) || TRANSIENT.has(sqlState)
    : // Node's socket errors (ECONNRESET, ECONNREFUSED, ETIMEDOUT...) and pg's own connection errors.
      (typeof code === 'string' && /^E[A-Z]+$/.test(code)) || /connection terminated|connection (?:was )?(?:closed|ended)|connection error|timeout exceeded when trying to connect/i.test(error.message);
  return unavailable ? new OmnithreadError('STORE_UNAVAILABLE', `The PostgreSQL store could not be used: ${error.message}`, { cause: error }) : error;
}

// BIGINT columns hold epoch milliseconds and sequence numbers, all far below 2^53.
const INT8_OID = 20;
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : types.getTypeParser(oid, format as 'text')) as typeof types.getTypeParser,
};

/** `?` placeholders to `$1, $2 ...`. Our statements never put `?` inside string literals. */
const placeholderCache = new Map<string, string>();
function toPositional(sql: string): string {
  let converted = placeholderCache.get(sql);
  if (converted === undefined) {
    let n = 0;
    converted = sql.replace(/\?/g, () => `$${++n}`);
    placeholderCache.set(sql, converted);
  }
  return converted;
}

/** A lock key as a signed 64-bit integer (PostgreSQL advisory locks are keyed by bigint). */
function lockId(key: string): bigint {
  return createHash('sha256').update(key).digest().readBigInt64BE(0);
}

/** Advisory lock ids for these keys: sorted and deduplicated, so two transactions always take common locks in the same order. */
const sortedLockIds = (keys: readonly string[]): string[] => [...new Set(keys.map(lockId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);

/**
 * Takes advisory locks in the order given, in one statement. PostgreSQL evaluates volatile functions of
 * the select list after ORDER BY, so the row order (WITH ORDINALITY) is the order the locks are taken in.
 * Its parameters are two text arrays, given as array literals ('{1,-2}'): a statement's parameters are
 * strings, numbers or null on both stores.
 */
const LOCK_IN_ORDER = `SELECT CASE WHEN m = 's' THEN pg_advisory_xact_lock_shared(k::bigint) ELSE pg_advisory_xact_lock(k::bigint) END
  FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS t(k, m, n) ORDER BY n`;
const lockParams = (ids: readonly string[], modes: readonly ('s' | 'x')[]): SqlParam[] => [`{${ids.join(',')}}`, `{${modes.join(',')}}`];

/**
 * The name a statement is prepared under on each connection, so PostgreSQL parses and plans it once per
 * connection and then reuses the plan (planning was 0.69 ms of a message's 1.18 ms of server time when
 * every statement was parsed and planned afresh). Bounded, as each connection's server process keeps a
 * plan per name: past the limit, texts go unnamed (an IN list of an unusual length, say), which only
 * costs their planning. Ingest sends 29 distinct texts, the whole API about a hundred.
 */
const NAMED_LIMIT = 500;
const statementNames = new Map<string, string>();
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < NAMED_LIMIT) {
    name = `ot_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

interface Pending {
  text: string;
  values?: readonly SqlParam[];
}

/**
 * One statement on the wire: a parameterised statement (extended protocol), named when `prepared`, or a
 * bare command. Unnamed, PostgreSQL plans it each time: for a pooler that can not keep a connection's
 * prepared statements (PgBouncer in transaction mode before 1.21, or without max_prepared_statements).
 */
function submit<T extends Row>(client: PoolClient, statement: Pending, prepared: boolean): Promise<QueryResult<T>> {
  if (!statement.values) return client.query<T>(statement.text);
  return client.query<T>({ name: prepared ? statementName(statement.text) : undefined, text: statement.text, values: statement.values as SqlParam[] });
}

/**
 * A transaction on one connection. BEGIN, locks and deferred writes wait in `pending` and go out with the
 * next statement, or with the COMMIT, pipelined: every statement is sent at once, each prepared and with
 * its parameters, and the transaction waits once for all of their answers (the connection runs in pg's
 * pipeline mode). A round trip each saved, and no statement parsed or planned twice on a connection.
 */
function executor(client: PoolClient, begin: string, prepared: boolean): SqlTransaction & { finish(): Promise<void> } {
  const pending: Pending[] = [{ text: begin }];
  let committed = false;
  const open = () => {
    if (committed) throw new Error('A statement after the transaction was committed (SqlTransaction.many with commit)');
  };
  /** What is pending, then these statements (then COMMIT), pipelined: the statements' results. */
  const send = async (statements: readonly Pending[], commit: boolean): Promise<QueryResult[]> => {
    open();
    const batch = [...pending.splice(0), ...statements, ...(commit ? [{ text: 'COMMIT' }] : [])];
    if (!batch.length) return [];
    committed = commit;
    // Every answer is awaited, so none is left unhandled. After a failed statement the later ones fail with
    // "current transaction is aborted": the first failure is the cause (a COMMIT then rolls back).
    const settled = await Promise.allSettled(batch.map((statement) => submit(client, statement, prepared)));
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) throw failure.reason;
    const results = settled.map((s) => (s as PromiseFulfilledResult<QueryResult>).value);
    const end = results.length - (commit ? 1 : 0);
    return results.slice(end - statements.length, end);
  };
  const statement = (sql: string, params: readonly SqlParam[]): Pending => ({ text: toPositional(sql), values: params });
  const query = async <T extends Row>(sql: string, params: readonly SqlParam[]): Promise<QueryResult<T>> =>
    (await send([statement(sql, params)], false))[0] as QueryResult<T>;
  const defer = async (sql: string, params: readonly SqlParam[] = []) => {
    open();
    pending.push(statement(sql, params));
  };
  const many = async (statements: readonly Statement[], options: { commit?: boolean } = {}): Promise<Row[][]> =>
    (await send(statements.map(({ sql, params }) => statement(sql, params ?? [])), options.commit === true)).map((r) => r.rows as Row[]);
  return {
    all: async <T extends Row>(sql: string, params: readonly SqlParam[] = []) => (await query<T>(sql, params)).rows,
    get: async <T extends Row>(sql: string, params: readonly SqlParam[] = []) => (await query<T>(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params: readonly SqlParam[] = []) => (await query(sql, params)).rowCount ?? 0,
    defer,
    many,
    lock: async (keys: readonly string[], mode: 'exclusive' | 'shared' = 'exclusive') => {
      if (!keys.length) return;
      const ids = sortedLockIds(keys);
      await defer(LOCK_IN_ORDER, lockParams(ids, ids.map(() => (mode === 'shared' ? 's' : 'x'))));
    },
    lockScoped: async (scope: string, scopeMode: 'exclusive' | 'shared', keys: readonly string[]) => {
      const ids = [String(lockId(scope)), ...sortedLockIds(keys)];
      await defer(LOCK_IN_ORDER, lockParams(ids, ids.map((_, i) => (i === 0 && scopeMode === 'shared' ? 's' : 'x'))));
    },
    /** What is still pending, then COMMIT, in one pipelined send (nothing when `many` committed already). */
    finish: async () => {
      if (!committed) await send([], true);
    },
  };
}

export interface PostgresDriverOptions extends PoolConfig {
  poolSize: number;
  /**
   * What an erase does to the deleted rows' bytes: 'vacuum' (VACUUM of the touched tables: the dead rows
   * and their index entries are removed and their space is reused by later writes, without blocking
   * anyone) or 'full' (VACUUM FULL: the tables and indexes are rewritten into new files and the old
   * files deleted, so the bytes are gone from the data directory; each table is locked while it is
   * rewritten).
   */
  erasePurge?: 'vacuum' | 'full';
  /** Statements prepared once per connection (default), or planned each time (see submit). */
  preparedStatements?: boolean;
}

/** What stays after a purge, whatever its mode: what PostgreSQL itself keeps, for the erase report. */
const POSTGRES_REMAINS =
  'The write-ahead log segments written before the erase still hold the rows until PostgreSQL recycles them (after later checkpoints, at most about max_wal_size of later writes, longer with wal_keep_size, replication slots or WAL archiving), and backups keep theirs until they are rotated.';

/**
 * PostgreSQL through a `pg` pool, for several processes or machines on one store (n8n queue mode with
 * many workers, several Node-RED instances). Transactions run at READ COMMITTED; the store's own advisory
 * locks order conflicting work, and a deadlock or a raced unique key re-runs the transaction.
 */
export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  readonly pool: Pool;
  private readonly erasePurge: 'vacuum' | 'full';
  private readonly preparedStatements: boolean;
  private statistics: StatisticsKeeper | undefined;

  constructor(options: PostgresDriverOptions) {
    const { poolSize, erasePurge, preparedStatements, ...config } = options;
    this.erasePurge = erasePurge ?? 'vacuum';
    this.preparedStatements = preparedStatements ?? true;
    // Pipeline mode: a transaction's statements go out together and are answered in order (see executor).
    this.pool = new Pool({ ...config, max: poolSize, types: typeParsers, pipeline: true } as PoolConfig);
    // An idle client losing its connection must not crash the host process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  private async withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw new OmnithreadError('STORE_UNAVAILABLE', `Could not connect to the PostgreSQL store: ${(error as Error).message}`, { cause: error });
    }
    let broken = false;
    try {
      return await fn(client);
    } catch (error) {
      broken = !(error as { code?: string }).code; // a protocol or network failure: do not reuse this connection
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private inTransaction<T>(begin: string, fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      const tx = executor(client, begin, this.preparedStatements);
      try {
        const result = await fn(tx);
        await tx.finish();
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    try {
      const result = await withRetries(() => this.inTransaction('BEGIN', fn), isTransient);
      this.statistics?.wrote();
      return result;
    } catch (error) {
      throw storeError(error);
    }
  }

  async readOne<T extends Row = Row>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    try {
      const text = toPositional(sql);
      return (await this.pool.query<T>({ name: this.preparedStatements ? statementName(text) : undefined, text, values: params as SqlParam[] })).rows[0];
    } catch (error) {
      throw storeError(error);
    }
  }

  read<T>(fn: (db: SqlExecutor) => Promise<T>): Promise<T> {
    return withRetries(() => this.inTransaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn), isTransient).catch((error: unknown) => Promise.reject(storeError(error)));
  }

  /**
   * VACUUM (or VACUUM FULL) of the tables an erase touched, outside any transaction as PostgreSQL requires.
   * A VACUUM FULL waits for its table's lock at most waitMs (lock_timeout), so it never queues every
   * writer behind a long transaction; when it can not get it, the outcome says so.
   */
  async purgeDeleted(options: { tables: readonly string[]; waitMs: number }): Promise<PurgeOutcome> {
    const full = this.erasePurge === 'full';
    try {
      await this.withClient(async (client) => {
        await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(options.waitMs))}`);
        try {
          for (const table of options.tables) await client.query(`VACUUM ${full ? 'FULL ' : ''}${client.escapeIdentifier(table)}`);
        } finally {
          await client.query('RESET lock_timeout');
        }
      });
    } catch (error) {
      return { complete: false, detail: `The erased rows are deleted, but ${full ? 'VACUUM FULL' : 'VACUUM'} of the touched tables did not finish (${(error as Error).message}): their dead versions stay in the table files until autovacuum or a later erase removes them. ${POSTGRES_REMAINS}` };
    }
    return full
      ? { complete: true, detail: `The touched tables and their indexes were rewritten (VACUUM FULL): the erased rows are gone from the data files. ${POSTGRES_REMAINS}` }
      : {
          complete: true,
          detail: `The touched tables were vacuumed: the erased rows and their index entries are removed and no query can see them, but their bytes may stay in the freed space of the table files until later writes reuse it (erasePurge 'full' rewrites the tables instead). ${POSTGRES_REMAINS}`,
        };
  }

  /** Keeps these tables' planner statistics fresh while they are young or grow fast (see pg-statistics.ts). */
  keepStatistics(tables: readonly string[]): void {
    this.statistics ??= keepStatistics(this.pool, tables);
  }

  async close(): Promise<void> {
    await this.statistics?.stop();
    await this.pool.end();
  }
}
