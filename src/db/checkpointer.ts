// The daemon's WAL checkpoints, moved off its event loop while mail flows. SQLite copies the
// write-ahead log into the database file when a commit finds the log past 1,000 pages, inside
// that commit: under steady ingest one commit in about thirteen took 9-17 ms instead of 0.25 ms
// (page writes and an fsync), and every delivery, IMAP fetch and send waited behind it (issue
// 18: 81 such commits were 57% of all commit time). While mail flows, a thread of its own
// checkpoints PASSIVE every 200 ms, so the log stays short and commits never do it; the daemon's
// connection keeps a far higher automatic threshold as a backstop should the thread die. A
// thread costs about 7 MB, so it starts with the first message and ends after a quiet 30 s, like
// the parser threads; between, the occasional commit (lease renewals) checkpoints as SQLite does.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

const WORKER_FILE = fileURLToPath(new URL('./checkpoint-worker.js', import.meta.url));

/** Pages the daemon's own commits let the log reach before checkpointing themselves (~80 MB). */
const BACKSTOP_PAGES = 20_000;
/** SQLite's default: in force whenever no thread runs. */
const DEFAULT_PAGES = 1_000;
const INTERVAL_MS = 200;
const IDLE_MS = 30_000;

export class Checkpointer {
  static readonly BACKSTOP_PAGES = BACKSTOP_PAGES;
  static readonly DEFAULT_PAGES = DEFAULT_PAGES;
  private worker: Worker | null = null;
  private gone: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | null = null;
  private copied = 0;
  /** A thread failed: commits checkpoint for the rest of this process, rather than a thread (and an error line) per message. */
  private failed = false;

  /** `onFailure`: the thread died; commits checkpoint themselves again, and no thread is started again. */
  constructor(
    private readonly sqlite: Database.Database,
    private readonly file: string,
    private readonly onFailure: (err: Error) => void,
    private readonly idleMs = IDLE_MS,
  ) {}

  /** Frames the thread has copied into the database file so far. */
  get checkpointed(): number {
    return this.copied;
  }

  /** A thread runs now. */
  get running(): boolean {
    return this.worker !== null;
  }

  /**
   * Write load is coming: the thread runs (started if need be) until `idleMs` pass without a
   * call. Where the compiled thread does not exist (the test runner loads the TypeScript
   * sources), commits go on checkpointing themselves.
   */
  wanted(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.stop(), this.idleMs);
    this.idleTimer.unref();
    if (this.worker || this.failed || !fs.existsSync(WORKER_FILE)) return;
    // Not the parent's node flags: a parent started with `--input-type` or `-e` would stop the thread's start.
    const worker = new Worker(WORKER_FILE, { execArgv: [], workerData: { file: this.file, intervalMs: INTERVAL_MS } });
    this.worker = worker;
    this.sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    worker.on('message', (m: { checkpointed: number }) => (this.copied += m.checkpointed));
    this.gone = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const failed = (err: unknown) => {
      if (this.worker !== worker) return; // stopped on purpose
      this.worker = null;
      this.failed = true;
      this.autocheckpoint(DEFAULT_PAGES);
      this.onFailure(err instanceof Error ? err : new Error(`the checkpoint thread failed: ${JSON.stringify(err)}`));
    };
    worker.once('error', failed);
    worker.once('exit', (code) => failed(new Error(`the checkpoint thread exited with code ${code}`)));
    worker.unref();
  }

  /** Ends the thread (its last pass done) and gives checkpoints back to the commits. */
  async stop(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    // Commits checkpoint again from now on: no moment when nothing would.
    this.autocheckpoint(DEFAULT_PAGES);
    // Held (ref'd) until it has gone: a process waiting on nothing else would otherwise end here.
    worker.ref();
    worker.postMessage({ stop: true });
    await this.gone;
  }

  private autocheckpoint(pages: number): void {
    if (this.sqlite.open) this.sqlite.pragma(`wal_autocheckpoint = ${pages}`);
  }
}
