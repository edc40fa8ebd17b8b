// The checkpointer's thread (./checkpointer.ts): its own connection to the daemon's SQLite file,
// copying what the write-ahead log holds into the database file, PASSIVE (never waiting for the
// writer nor making it wait), every `intervalMs`. It posts how many frames each pass copied.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { nameThisThread } from '../thread-name.js';

nameThisThread('mw-checkpoint');

interface Settings {
  file: string;
  intervalMs: number;
}

const { file, intervalMs } = workerData as Settings;

// better-sqlite3's errors reach the parent without their message: each failure becomes a plain Error.
function plainly<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

const db = plainly(`cannot open ${file}`, () => new Database(file, { fileMustExist: true, timeout: 1_000 }));

function checkpoint(): void {
  const [result] = plainly('checkpoint failed', () => db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>);
  if (result && result.checkpointed > 0) parentPort?.postMessage({ checkpointed: result.checkpointed, log: result.log });
}

const timer = setInterval(checkpoint, intervalMs);
parentPort?.on('message', (m: { stop?: boolean }) => {
  if (!m.stop) return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
