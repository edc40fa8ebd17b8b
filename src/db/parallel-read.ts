// Read-only queries run on two connections at once, one in this thread and one in a reader
// thread (read-worker.ts), so a report over a year of a busy desk uses both cores of a small
// machine instead of one (SQLite answers one query at a time per connection; WAL lets two
// connections read together). The queries are split alternately, so give them heaviest first.
// Each side reads in one transaction, one snapshot; the two snapshots may differ by what was
// committed between their starts. Where the compiled reader thread does not exist (the test
// runner loads the TypeScript sources), everything runs here, in order. On PostgreSQL the pool
// has connections enough: every query goes out at once, each on its own, the server's cores
// doing the work.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CompiledQuery } from 'kysely';
import { databaseFile, type Db } from './connection.js';
import { isPostgres } from './dialect.js';

const WORKER_FILE = fileURLToPath(new URL('./read-worker.js', import.meta.url));

type Rows = Array<Record<string, unknown>>;

export async function readConcurrently(db: Db, queries: CompiledQuery[]): Promise<Rows[]> {
  if (isPostgres(db) && !db.isTransaction) return Promise.all(queries.map(async (q) => (await db.executeQuery(q)).rows as Rows));
  const file = databaseFile(db);
  if (file === undefined || queries.length < 2 || !fs.existsSync(WORKER_FILE)) return readHere(db, queries);
  const theirs = queries.filter((_, i) => i % 2 === 0);
  const mine = queries.filter((_, i) => i % 2 === 1);
  const away = readInThread(file, theirs);
  // If this side fails, the thread's answer is still awaited (and dropped) so it never dangles.
  const here = await readHere(db, mine).catch(async (err: unknown) => {
    await away.catch(() => undefined);
    throw err;
  });
  const there = await away;
  return queries.map((_, i) => (i % 2 === 0 ? there[i / 2]! : here[(i - 1) / 2]!));
}

async function readHere(db: Db, queries: CompiledQuery[]): Promise<Rows[]> {
  if (db.isTransaction) return readEach(db, queries);
  return db.transaction().execute((tx) => readEach(tx, queries));
}

async function readEach(db: Db, queries: CompiledQuery[]): Promise<Rows[]> {
  const out: Rows[] = [];
  for (const q of queries) out.push((await db.executeQuery(q)).rows as Rows);
  return out;
}

function readInThread(file: string, queries: CompiledQuery[]): Promise<Rows[]> {
  return new Promise((resolve, reject) => {
    // Not the parent's node flags: a parent started with `--input-type` or `-e` would stop the thread's start.
    const worker = new Worker(WORKER_FILE, { execArgv: [] });
    worker.once('message', (m: { rows?: Rows[]; error?: string }) => {
      void worker.terminate();
      if (m.rows) resolve(m.rows);
      else reject(new Error(`The report's second reader failed: ${m.error ?? 'no answer'}.`));
    });
    worker.once('error', reject);
    worker.postMessage({ file, queries: queries.map((q) => ({ sql: q.sql, parameters: [...q.parameters] })) });
  });
}
