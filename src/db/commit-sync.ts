// Commits made durable before the daemon tells anyone outside about them. The daemon's SQLite
// connection commits with synchronous = NORMAL: a commit is written to the WAL and not fsynced, so
// it survives the daemon being killed (kill -9) but a power loss or a kernel crash may roll back
// the last ones. Most of the daemon's commits can take that: a lost claim is claimed again, a lost
// lease is taken again, a lost `sent` mark sends the mail again with the same Message-ID. Two
// cannot, because someone outside acts on them: the 250 after which the MTA deletes its copy, and
// the mark on the IMAP server (in `move` mode the message leaves the folder the daemon reads).
// So before either, syncCommits fsyncs the WAL once for every commit made so far, on the daemon's
// file thread, while the event loop goes on. Syncs asked for while one runs share the next one
// (group commit): four senders' deliveries pay one fsync, not four. Commits are told apart by
// SQLite's count of changes on the connection: a wait for commits that a sync running already
// covers shares it (the drainer's, for the mail a delivery queued, shares the delivery's), and a
// wait when nothing was written since the last sync costs nothing.
// A command opens its connection with synchronous = FULL instead (connection.ts): each commit is
// fsynced before the command says it is done. On PostgreSQL the server's commit is durable
// (synchronous_commit), and syncCommits has nothing to do.
import fs from 'node:fs';

/** fsyncs one file; the daemon's is its file thread (src/db/file-thread.ts). */
export type FileSyncer = (file: string) => Promise<void>;

/**
 * fsyncs a file that may not exist: a WAL not made yet holds no commit. Synchronous, for the file
 * thread; opened read-only, which fsync needs no more than. fdatasync, as SQLite's own syncs on
 * Linux: the frames and the file's size, not its times, so a WAL rewritten in place after a
 * checkpoint costs no journal commit of the file system.
 */
export function fsyncFileSync(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsyncFileSync as a FileSyncer, on this thread: where no file thread is given. */
export const syncHere: FileSyncer = async (file) => fsyncFileSync(file);

/**
 * Where a database's commits stand, as SQLite's total_changes() counts them: every row a statement
 * on the connection inserted, updated or deleted, a count that only grows. Read inside a
 * transaction, it counts that transaction's own changes, not committed yet.
 */
export interface ChangeCount {
  total: number;
  inTransaction: boolean;
}

/**
 * What is committed and what is durable on one database, in change counts. Each reading errs on
 * the safe side: what a caller needs synced may count too much (a transaction open at the time),
 * what a sync covers may count too little (the last count read outside a transaction).
 */
class CommitLedger {
  /** Every change up to this count is fsynced. */
  durable = 0;
  /** A count read outside a transaction: every change up to it is committed. */
  private committed = 0;

  constructor(
    readonly wal: string,
    private readonly read: () => ChangeCount,
  ) {}

  /** At least every change committed so far: what a caller asking now needs synced. */
  needed(): number {
    return this.look().total;
  }

  /** At most the changes committed so far: what a sync that starts now is sure to make durable. */
  covered(): number {
    this.look();
    return this.committed;
  }

  private look(): ChangeCount {
    const count = this.read();
    if (!count.inTransaction) this.committed = count.total;
    return count;
  }
}

/**
 * One fsync at a time. A request is answered by the first sync that covers its count: at once when
 * one already has, else the one running when it covers the count (it started after those
 * commits), else the next one to start.
 */
class GroupSync {
  private running: { done: Promise<void>; covers: number } | null = null;
  private queued: Promise<void> | null = null;

  constructor(
    private readonly ledger: CommitLedger,
    private readonly sync: () => Promise<void>,
  ) {}

  request(upTo: number): Promise<void> {
    if (upTo <= this.ledger.durable) return Promise.resolve();
    if (!this.running) return this.start();
    if (this.running.covers >= upTo) return this.running.done;
    this.queued ??= this.running.done.then(
      () => this.startQueued(),
      () => this.startQueued(),
    );
    return this.queued;
  }

  private startQueued(): Promise<void> {
    this.queued = null;
    return this.start();
  }

  private start(): Promise<void> {
    // Read before the fsync is asked for: every change counted is in the WAL it flushes.
    const covers = this.ledger.covered();
    const done = this.sync()
      .then(() => {
        this.ledger.durable = Math.max(this.ledger.durable, covers);
      })
      .finally(() => {
        if (this.running?.done === done) this.running = null;
      });
    this.running = { done, covers };
    return done;
  }
}

/** Per database (its Kysely instance) opened with deferred syncs: its ledger and the syncs of its WAL. */
const deferred = new WeakMap<object, { ledger: CommitLedger; groups: WeakMap<FileSyncer, GroupSync> }>();

/**
 * Called by openDatabase for a connection that commits without fsync (synchronous = NORMAL):
 * `changes` reads its change count (SQLite's total_changes()).
 */
export function deferCommitSync(db: object, walFile: string, changes: () => ChangeCount): void {
  deferred.set(db, { ledger: new CommitLedger(walFile, changes), groups: new WeakMap() });
}

/**
 * A mark for the commits made on `db` so far, to pass to syncCommits later: taken right after a
 * commit (an after-commit hook), it lets the wait for that commit share a sync started since.
 * 0 on a database whose commits are durable as they return.
 */
export function commitMark(db: object): number {
  return deferred.get(db)?.ledger.needed() ?? 0;
}

/**
 * Resolves once every commit made on `db` before the call (or up to `upTo`, a commitMark) is
 * durable: at once for a database that fsyncs each commit itself (a command's, PostgreSQL) or
 * when nothing was committed since the last sync; else after an fsync of its WAL by `syncer`.
 */
export function syncCommits(db: object, syncer: FileSyncer = syncHere, upTo?: number): Promise<void> {
  const entry = deferred.get(db);
  if (!entry) return Promise.resolve();
  let group = entry.groups.get(syncer);
  if (!group) entry.groups.set(syncer, (group = new GroupSync(entry.ledger, () => syncer(entry.ledger.wal))));
  return group.request(upTo ?? entry.ledger.needed());
}
