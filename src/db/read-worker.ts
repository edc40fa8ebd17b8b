// The second reader of src/db/parallel-read.ts: a thread with its own read-only connection to the
// same SQLite file, which runs the compiled queries it is given and posts their rows back.
import { parentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { nameThisThread } from '../thread-name.js';

nameThisThread('mw-read');

interface ReadJob {
  file: string;
  queries: Array<{ sql: string; parameters: unknown[] }>;
}

parentPort?.once('message', (job: ReadJob) => {
  try {
    const db = new Database(job.file, { readonly: true, fileMustExist: true, timeout: 15_000 });
    try {
      // One transaction: every query of this thread reads the same snapshot.
      const rows = db.transaction(() => job.queries.map((q) => db.prepare(q.sql).all(...q.parameters)))();
      parentPort?.postMessage({ rows });
    } finally {
      db.close();
    }
  } catch (err) {
    parentPort?.postMessage({ error: (err as Error).message });
  }
});
