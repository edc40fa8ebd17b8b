// Commits made durable before the daemon tells anyone outside about them. The daemon's SQLite
// connection commits with synchronous = NORMAL: a commit is written to the WAL and not fsynced, so
// it survives the daemon being killed (kill -9) but a power loss or a kernel crash may roll back
// the last ones. Most of the daemon's commits can take that: a lost claim is claimed again, a lost
// lease is taken again, a lost `sent` mark sends the mail again with the same Message-ID. Two
// cannot, because someone outside acts on them: the 250 after which the MTA deletes its copy, and
// the mark on the IMAP server (in `move` mode the message leaves the folder the daemon reads).
// So before either, syncCommits fsyncs the WAL once for every commit made so far, on the daemon's
// file thread, while the event loop goes on. Syncs asked for while one runs share the next one
// (group commit): four senders' deliveries pay one fsync, not four.
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

/** One fsync at a time; a request waits for a sync that starts after it was made. */
class GroupSync {
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly sync: () => Promise<void>) {}

  request(): Promise<void> {
    if (!this.running) return this.start();
    // The sync running now may have started before the caller's commit: the next one covers it.
    this.queued ??= this.running.then(
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
    const run = this.sync().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }
}

/** Per database (its Kysely instance) opened with deferred syncs: its WAL file and the syncs of it. */
const deferred = new WeakMap<object, { wal: string; groups: WeakMap<FileSyncer, GroupSync> }>();

/** Called by openDatabase for a connection that commits without fsync (synchronous = NORMAL). */
export function deferCommitSync(db: object, walFile: string): void {
  deferred.set(db, { wal: walFile, groups: new WeakMap() });
}

/**
 * Resolves once every commit made on `db` before the call is durable: at once for a database that
 * fsyncs each commit itself (a command's, PostgreSQL), else after an fsync of its WAL by `syncer`.
 */
export function syncCommits(db: object, syncer: FileSyncer = syncHere): Promise<void> {
  const entry = deferred.get(db);
  if (!entry) return Promise.resolve();
  let group = entry.groups.get(syncer);
  if (!group) entry.groups.set(syncer, (group = new GroupSync(() => syncer(entry.wal))));
  return group.request();
}
