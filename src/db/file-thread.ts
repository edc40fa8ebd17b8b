// The daemon's file thread: makes a message held in memory a durable file (tmp/, fsync, rename,
// directory fsync: writeDurablySync in ./stored-files.ts) on a thread of its own, synchronously,
// and fsyncs the database's WAL there when the daemon is about to answer for its commits
// (./commit-sync.ts).
// Why: done asynchronously those are six trips through libuv's thread pool, each a thread woken
// and an answer that waits for the daemon's busy event loop; done synchronously on the main thread
// they would stop every other message meanwhile. Here the daemon hands over the bytes and gets one
// answer. Measured with `bench/side-by-side` and the LMTP rate alone on this 2-CPU VM: see the
// issue 18 note (one sender +7 to +13% against the same steps async on the main thread).
// Jobs are written one after another; a thread that fails fails the writes in hand (the listener
// answers 451, the IMAP worker tries again) and the next write starts a new one.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { writeHere, type DurableWriter } from './stored-files.js';
import { syncHere, type FileSyncer } from './commit-sync.js';

const WORKER_FILE = fileURLToPath(new URL('./file-worker.js', import.meta.url));

/** A job for the thread: bytes to make a durable file of, or a file to fsync (the WAL: ./commit-sync.ts). */
export type FileJob = { id: number; root: string; sha256: string; bytes: Uint8Array } | { id: number; sync: string };
export interface FileAnswer {
  id: number;
  /** the failure, with its system code (ENOSPC, EACCES…: the caller tells storage trouble by it) */
  error?: { message: string; code?: string };
}

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class FileThread {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** Whether the compiled worker file is there (not when tests run the sources): looked up once, not per message. */
  private readonly threaded = fs.existsSync(WORKER_FILE);

  /** The writer for StoreOptions.writer. Without the compiled worker file (tests on sources), it writes here. */
  readonly write: DurableWriter = async (root, sha256, bytes) => {
    if (this.closed || !this.threaded) return writeHere(root, sha256, bytes);
    // A copy of its own, handed over: the Buffer may be a view into a larger pool.
    const own = new Uint8Array(bytes);
    return this.post((id) => ({ id, root, sha256, bytes: own }), [own.buffer]);
  };

  /** The syncer for syncCommits: fsyncs a file on the thread, after the writes handed over before. */
  readonly sync: FileSyncer = async (file) => {
    if (this.closed || !this.threaded) return syncHere(file);
    return this.post((id) => ({ id, sync: file }));
  };

  private post(job: (id: number) => FileJob, transfer: ArrayBuffer[] = []): Promise<void> {
    const worker = (this.worker ??= this.spawn());
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      // Referenced while it has work, so a process waiting for an answer stays up for it.
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve, reject });
      worker.postMessage(job(id), transfer);
    });
  }

  /** Whether its thread is up (started by the first write, gone after a failure until the next). */
  get running(): boolean {
    return this.worker !== null;
  }

  /** Ends the thread; a write still in hand fails (the daemon closes it after its services stopped, so none is). */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
    this.failAll(new Error('the file thread was closed'));
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_FILE, { execArgv: [] });
    worker.unref();
    worker.on('message', (answer: FileAnswer) => {
      const p = this.pending.get(answer.id);
      if (!p) return;
      this.pending.delete(answer.id);
      if (this.pending.size === 0) worker.unref();
      if (answer.error === undefined) p.resolve();
      else p.reject(Object.assign(new Error(answer.error.message), answer.error.code ? { code: answer.error.code } : {}));
    });
    // 'error' is followed by 'exit': only the first says so, and only while this is still the
    // thread in use (a later one's writes are not this one's to fail).
    const gone = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.failAll(err);
    };
    worker.on('error', (err) => gone(new Error(`the file thread failed: ${err.message}`)));
    worker.on('exit', (code) => gone(new Error(`the file thread exited with code ${code}`)));
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
