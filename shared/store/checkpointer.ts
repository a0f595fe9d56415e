import { statSync } from 'node:fs';
import { MessageChannel, MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';

/**
 * WAL checkpoints off the request path. With SQLite's automatic checkpoint, the commit that pushes the
 * write-ahead log past 1,000 pages copies the log into the database file and fsyncs it, on the event
 * loop: 2.3% of the commits took a third of all ingest time (p99 13 ms against a p50 of 0.35 ms). The
 * store's own connection turns the automatic checkpoint off (wal_autocheckpoint = 0) and this class runs
 * checkpoints on a worker thread with a connection of its own:
 * - PASSIVE when the log passes `thresholdBytes`: it copies what it can without waiting for, or
 *   blocking, anyone; writers go on appending meanwhile, and the next writer after a complete checkpoint
 *   starts the log over from its beginning (journal_size_limit then trims the file);
 * - TRUNCATE when the log passes `boundBytes` (passive checkpoints could not keep up, or a long reader
 *   held them back): it waits for the writers of this and other processes, which wait for it in turn
 *   (asynchronously, see the driver's whenFree), so the log stays bounded.
 * The log restarts from its beginning only when a writer finds every frame of it checkpointed; under a
 * steady stream of commits, a passive checkpoint that started before the latest ones never covers them.
 * So the worker repeats a passive checkpoint while it makes progress (each pass has less to copy); then
 * the store holds its next write for one last short pass over what was committed meanwhile (finish()),
 * and that write starts the log over. Only writes wait for it, asynchronously; the event loop does not.
 * The worker starts on the first checkpoint, so the many small stores that never fill a log cost nothing.
 * Its answers come back on a port the committing thread reads synchronously: a process whose event loop
 * is kept busy by a stream of writes (every await resolved at once) still sees each checkpoint end.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path, { timeout: workerData.busyTimeoutMs });
db.exec('PRAGMA wal_autocheckpoint = 0');
const answers = workerData.answers;
// Prepared once: a statement prepared per pass holds its native memory until a GC this thread rarely runs
// (20,000 passes grew the process by 15 MiB more than with these two).
const statements = { PASSIVE: db.prepare('PRAGMA wal_checkpoint(PASSIVE)'), TRUNCATE: db.prepare('PRAGMA wal_checkpoint(TRUNCATE)') };
const checkpoint = (mode) => statements[mode].get();
parentPort.on('message', (mode) => {
  if (mode === 'close') { db.close(); process.exit(0); }
  try {
    let result = checkpoint(mode === 'TRUNCATE' ? 'TRUNCATE' : 'PASSIVE');
    for (let pass = 1; mode === 'PASSIVE' && pass < workerData.passes && result.checkpointed < result.log; pass++) {
      const before = result.log - result.checkpointed;
      result = checkpoint('PASSIVE');
      if (result.log - result.checkpointed >= before) break;
    }
    answers.postMessage({ mode, ok: true, busy: result.busy, log: result.log, checkpointed: result.checkpointed });
  } catch (error) {
    answers.postMessage({ mode, ok: false, error: error.message });
  }
});
`;

export interface CheckpointOutcome {
  /** FINAL: the one short passive pass a write waits for (see finish). */
  mode: 'PASSIVE' | 'TRUNCATE' | 'FINAL';
  ok: boolean;
  /** 1 when a reader or writer kept the checkpoint from completing. */
  busy?: number;
  /** Frames in the log, and how many of them are now in the database file. */
  log?: number;
  checkpointed?: number;
  error?: string;
}

export interface CheckpointerOptions {
  path: string;
  busyTimeoutMs: number;
  /** A passive checkpoint is asked for when the log file is larger than this (SQLite's own default is 1,000 pages, ~4 MB). */
  thresholdBytes?: number;
  /** Past this the checkpoint truncates the log, waiting for writers: the log never grows much beyond it. */
  boundBytes?: number;
  /**
   * Past this a write waits for a final pass after the passive ones (see finish), so the log starts over.
   * Below it the log only grows. A final pass holds the writes for its copy and fsyncs (9-37 ms, median
   * 12.6 ms, on the 2-CPU VM), so it is kept for one in several checkpoints: at 16 MB, 107 in 20,000
   * messages (all in the slowest 1%, and 20% of one caller's time); at 32 MB, 59 (one caller 2,855 ->
   * 3,021 msg/s, p99 / p50 2.6x), the log peaking at 36 MiB, half of the 64 MB bound.
   */
  finishBytes?: number;
  /** The log file's size is looked at every this many committed transactions (a stat call: a few microseconds). */
  commitsPerLook?: number;
}

export class Checkpointer {
  private worker?: Worker;
  /** Where the worker's answers arrive, read without waiting for the event loop. */
  private answers?: MessagePort;
  private running?: CheckpointOutcome['mode'];
  /** Set when passive passes have copied the bulk of the log: the next write waits for a final pass. */
  private finishWanted = false;
  private commits = 0;
  private closed = false;
  private readonly walPath: string;
  private readonly thresholdBytes: number;
  private readonly boundBytes: number;
  private readonly finishBytes: number;
  /** The log's size at the last look. */
  private lastSize = 0;
  private readonly commitsPerLook: number;
  private readonly counts = { passive: 0, final: 0, truncate: 0, incomplete: 0, failed: 0, last: undefined as CheckpointOutcome | undefined };

  constructor(private readonly options: CheckpointerOptions) {
    this.walPath = `${options.path}-wal`;
    this.thresholdBytes = options.thresholdBytes ?? 4 * 1024 * 1024;
    this.boundBytes = options.boundBytes ?? 64 * 1024 * 1024;
    this.finishBytes = options.finishBytes ?? 32 * 1024 * 1024;
    this.commitsPerLook = options.commitsPerLook ?? 32;
  }

  /** Called after each commit of the store's connection, with the transactions it held: now and then, looks at the log's size. */
  committed(transactions = 1): void {
    this.commits += transactions;
    if (this.commits < this.commitsPerLook || this.closed) return;
    if (this.running) this.collect();
    if (this.running) return;
    this.commits = 0;
    let size: number;
    try {
      size = statSync(this.walPath).size;
    } catch {
      return; // no log file (yet): nothing to checkpoint
    }
    this.lastSize = size;
    if (size >= this.boundBytes) this.request('TRUNCATE');
    else if (size >= this.thresholdBytes) this.request('PASSIVE');
  }

  private request(mode: CheckpointOutcome['mode']): void {
    this.running = mode;
    this.start().postMessage(mode);
  }

  /** True when the store should let the worker finish a checkpoint before its next write (see finish). */
  get wantsFinish(): boolean {
    if (this.running) this.collect();
    return this.finishWanted && !this.running && !this.closed;
  }

  /**
   * One last passive pass while this connection writes nothing: it only copies what was committed during
   * the earlier passes (milliseconds), and the write that follows starts the log over from its beginning.
   */
  async finish(): Promise<void> {
    this.finishWanted = false;
    this.request('FINAL');
    const deadline = performance.now() + this.options.busyTimeoutMs;
    while (this.running && !this.closed && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      this.collect();
    }
  }

  /** Outcomes, for tests and the benchmark: how many of each, and the last one. */
  get stats(): Checkpointer['counts'] {
    this.collect();
    return this.counts;
  }

  /** Takes the worker's answer, if it has come. */
  private collect(): void {
    const received = this.answers && receiveMessageOnPort(this.answers);
    if (!received) return;
    const outcome = received.message as CheckpointOutcome;
    this.running = undefined;
    this.counts.last = outcome;
    if (!outcome.ok) this.counts.failed++;
    else if (outcome.mode === 'TRUNCATE') this.counts.truncate++;
    else if (outcome.mode === 'FINAL') this.counts.final++;
    else {
      this.counts.passive++;
      if (this.lastSize >= this.finishBytes) this.finishWanted = true;
    }
    if (outcome.ok && (outcome.busy || (outcome.checkpointed ?? 0) < (outcome.log ?? 0))) this.counts.incomplete++;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    this.answers = port1;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path: this.options.path, busyTimeoutMs: this.options.busyTimeoutMs, passes: 8, answers: port2 },
      transferList: [port2],
    });
    worker.unref();
    // A checkpoint that fails (the worker could not open the file) is retried on a later look; the store
    // itself goes on, only the log grows.
    worker.on('error', () => {
      this.running = undefined;
      this.counts.failed++;
      if (this.worker === worker) this.worker = undefined;
    });
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    this.collect();
    this.answers?.close();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close');
    // A checkpoint still running finishes first (its file writes are whole); a worker that does not answer is stopped.
    const timer = setTimeout(() => void worker.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
