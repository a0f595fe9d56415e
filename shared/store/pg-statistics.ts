import type { Pool } from 'pg';

/**
 * Planner statistics for a PostgreSQL store that is young or growing fast.
 *
 * PostgreSQL plans from the statistics ANALYZE gathers, and autovacuum gathers them only once a minute at
 * best (autovacuum_naptime) and after 10% of a table changed. Until then the planner knows nothing of a
 * table: every equality is a guess of 0.5% of the rows, and a lookup by primary key costs the same as a
 * scan of any index that starts with the workspace. It picked by tie, and picked badly: in the first
 * minute of bench (h) every message's `UPDATE conversations ... WHERE workspace = ? AND id = ?` walked
 * conversations_assigned or conversations_opened by workspace alone, and a timeline page walked
 * events_seq (850 conversation rows read per message). One ANALYZE at 300 messages ended it.
 *
 * So the driver reads its tables' change counters (pg_stat_user_tables, kept by the server) and analyzes
 * a table once it has 50 changes and has changed by half since its last statistics, or never had any and
 * fills more than a page.
 * It reads them after this process's first 64 commits, then after twice as many each time nothing was
 * stale (back to 64 after an ANALYZE), 1.5 s after such a check found nothing (the counters lag the
 * commits by up to a second), and once a minute for the other processes' writes: a store that
 * grows from nothing is analyzed at about 1x, 1.5x, 2.25x ... its size, and a settled one costs a small
 * query now and then. The check runs on a pool connection after the commit, never inside a request's
 * transaction. ANALYZE (SKIP_LOCKED) samples at most 30,000 rows and takes a lock that blocks neither
 * reads nor writes; a table another process is analyzing is skipped. A table this user may not analyze
 * (not its owner) is left to autovacuum.
 */
export interface StatisticsKeeper {
  /** One more write transaction committed by this process: checks early when enough piled up. */
  wrote(): void;
  stop(): Promise<void>;
}

/** Changes before a table is worth analyzing at all, and the share of its rows that makes it stale. */
const MIN_CHANGES = 50;
const STALE_SHARE = 0.5;
/** Commits of this process between two checks: doubles while nothing is stale, back to the first after an ANALYZE. */
const FIRST_WRITES = 64;
const MOST_WRITES = 65_536;
/** Checks for the other processes' writes, whatever this one does; never two checks closer than the gap. */
const PERIOD_MS = 60_000;
const GAP_MS = 200;
const FOLLOW_UP_MS = 1_500;

interface TableState {
  name: string;
  changed: number;
  /** Rows at the last ANALYZE or VACUUM; -1 when the table never had statistics. */
  rows: number;
  /** Pages in the table's file now. */
  pages: number;
  /** ANALYZE runs on it so far, by anyone but autovacuum. */
  analyzed: number;
}

/**
 * Worth an ANALYZE: changed by half since its statistics (and at least 50 rows), or never analyzed and
 * past its first page. The server's counters lag a busy backend by up to a second, the file's size does
 * not: a young store is analyzed after about a hundred messages rather than several hundred.
 */
export function stale(table: TableState): boolean {
  if (table.rows < 0) return table.changed >= MIN_CHANGES || table.pages > 1;
  return table.changed >= MIN_CHANGES && table.changed >= table.rows * STALE_SHARE;
}

export function keepStatistics(pool: Pool, tables: readonly string[], options: { periodMs?: number; clock?: () => number } = {}): StatisticsKeeper {
  const clock = options.clock ?? Date.now;
  const watched = new Set(tables);
  const missed = new Map<string, number>();
  let writes = 0;
  let threshold = FIRST_WRITES;
  let lastCheck = 0;
  let running: Promise<void> | undefined;
  let stopped = false;

  const read = async (): Promise<TableState[]> =>
    (
      await pool.query<{ name: string; changed: string; rows: string; pages: string; analyzed: string }>(
        `SELECT s.relname AS name, s.n_mod_since_analyze AS changed, c.reltuples AS rows,
                pg_relation_size(s.relid) / current_setting('block_size')::int AS pages, s.analyze_count AS analyzed
           FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
          WHERE s.schemaname = current_schema() AND s.relname = ANY($1)`,
        [[...watched]],
      )
    ).rows.map((r) => ({ name: r.name, changed: Number(r.changed), rows: Number(r.rows), pages: Number(r.pages), analyzed: Number(r.analyzed) }));

  const analyze = async (due: TableState[]): Promise<void> => {
    const client = await pool.connect();
    try {
      await client.query(`ANALYZE (SKIP_LOCKED) ${due.map((t) => client.escapeIdentifier(t.name)).join(', ')}`);
    } finally {
      client.release();
    }
    // A table neither counted as analyzed nor given new statistics was skipped: not ours to analyze
    // (another user owns it) or another process was on it. After a second miss it is left to autovacuum.
    const after = new Map((await read()).map((t) => [t.name, t]));
    for (const table of due) {
      const now = after.get(table.name);
      if (now && (now.analyzed > table.analyzed || now.rows !== table.rows)) continue;
      missed.set(table.name, (missed.get(table.name) ?? 0) + 1);
      if ((missed.get(table.name) ?? 0) >= 2) watched.delete(table.name);
    }
  };

  // The server's counters reach pg_stat_user_tables up to a second after the commits they count, so a check
  // that writes asked for and that found nothing (or could not run yet) is looked at again once they have:
  // a burst that ends right after it is not left to the minute's check.
  let followUp: NodeJS.Timeout | undefined;
  const later = (): void => {
    if (followUp || stopped) return;
    followUp = setTimeout(() => {
      followUp = undefined;
      check(false);
    }, FOLLOW_UP_MS);
    followUp.unref();
  };

  /** Starts a check unless one runs or ran a moment ago; false when it did not start. */
  const check = (afterWrites: boolean): boolean => {
    if (stopped || running || !watched.size || clock() - lastCheck < GAP_MS) return false;
    lastCheck = clock();
    writes = 0;
    running = (async () => {
      const due = (await read()).filter(stale);
      if (due.length) await analyze(due);
      else if (afterWrites) later();
      threshold = due.length ? FIRST_WRITES : Math.min(MOST_WRITES, threshold * 2);
    })()
      // An unreachable store or a failed ANALYZE only delays the next check; requests report their own errors.
      .catch(() => undefined)
      .finally(() => {
        running = undefined;
      });
    return true;
  };

  const timer = setInterval(() => check(false), options.periodMs ?? PERIOD_MS);
  timer.unref();
  check(false);

  return {
    wrote() {
      if (++writes >= threshold && !check(true)) later();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (followUp) clearTimeout(followUp);
      await running;
    },
  };
}
