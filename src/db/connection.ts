// Opens the SQLite database under the data dir: WAL so readers never block the daemon,
// foreign keys on, a busy timeout so short-lived CLI processes wait for the lock instead of
// failing, and every migration applied before anything else touches it.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type Migration, type MigrationProvider } from 'kysely';
import { MailwardenError, unavailableError } from '../errors.js';
import type { DB } from './schema.js';
import * as m001 from './migrations/001-initial.js';
import * as m002 from './migrations/002-next-queue.js';
import * as m003 from './migrations/003-inbound-fingerprint.js';
import * as m004 from './migrations/004-labels-ignore-case.js';
import * as m005 from './migrations/005-compare-and-set.js';
import * as m006 from './migrations/006-parked.js';
import * as m007 from './migrations/007-claimed-by.js';
import { cacheStatements } from './statement-cache.js';

export type Db = Kysely<DB>;

const MIGRATIONS: Record<string, Migration> = {
  '001-initial': m001,
  '002-next-queue': m002,
  '003-inbound-fingerprint': m003,
  '004-labels-ignore-case': m004,
  '005-compare-and-set': m005,
  '006-parked': m006,
  '007-claimed-by': m007,
};

class StaticMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export interface OpenOptions {
  dataDir: string;
  /** Milliseconds a writer waits for another process's lock before giving up. */
  busyTimeoutMs?: number;
  /** A long-lived process (the daemon) that runs the same statements again and again: keep them prepared. */
  reuseStatements?: boolean;
}

export interface Opened {
  db: Db;
  sqlite: Database.Database;
  file: string;
  close(): Promise<void>;
}

/** Creates the data dir (0700) when missing; raw mail and the database live in it. */
function ensureDataDir(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
}

export async function openDatabase(opts: OpenOptions): Promise<Opened> {
  ensureDataDir(opts.dataDir);
  const file = path.join(opts.dataDir, 'mailwarden.sqlite');
  // Create the file ourselves so it is 0600 whatever the umask.
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  fs.chmodSync(file, 0o600);
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file, { timeout: opts.busyTimeoutMs ?? 15_000 });
  } catch (err) {
    throw unavailableError('EDBOPEN', `Cannot open the database ${file}: ${(err as Error).message}.`);
  }
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('synchronous = NORMAL');
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrate(db);
  if (opts.reuseStatements) cacheStatements(sqlite);
  for (const suffix of ['-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.chmodSync(file + suffix, 0o600);
  }
  return { db, sqlite, file, close: () => db.destroy() };
}

/** Applies every pending migration; a no-op when the schema is current. Returns the names applied. */
export async function migrate(db: Kysely<DB>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new StaticMigrations() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MailwardenError('unavailable', 'EMIGRATE', `Database migration ${failed} failed: ${(error as Error).message}.`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Runs fn in a write transaction taken with BEGIN IMMEDIATE, so two processes never both read
 * "free" and then both write (the `next` race): the second waits on the lock, then sees the first's
 * commit. Everything fn writes commits together or not at all.
 */
export async function writeTx<T>(db: Db, fn: (tx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const result = await fn(conn);
      await sql`commit`.execute(conn);
      return result;
    } catch (err) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}
