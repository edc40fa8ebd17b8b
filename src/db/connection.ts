// Opens the SQLite database under the data dir: WAL so readers never block the daemon,
// foreign keys on, a busy timeout so short-lived CLI processes wait for the lock instead of
// failing, every migration applied before anything else touches it, and each commit fsynced
// before it returns, except the daemon's, which it syncs itself before it answers for them
// (./commit-sync.ts).
// better-sqlite3 is synchronous: SQLite's busy timeout sleeps inside the call, and in the daemon
// that sleep stops every box, the listener and the drainer at once. So a long-lived process asks
// for a short busy timeout and a lock wait instead: writeTx tries BEGIN IMMEDIATE again after
// short pauses on the event loop, up to a deadline the caller may bring closer (a delivery whose
// sender is waiting for an answer), while reads (WAL) and the other services go on.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, Migrator, SqliteDialect, sql, type Migration, type MigrationProvider } from 'kysely';
import { MailwardenError, unavailableError } from '../errors.js';
import { isLocked } from './errors.js';
import type { DB } from './schema.js';
import * as m001 from './migrations/001-initial.js';
import * as m002 from './migrations/002-next-queue.js';
import * as m003 from './migrations/003-inbound-fingerprint.js';
import * as m004 from './migrations/004-labels-ignore-case.js';
import * as m005 from './migrations/005-compare-and-set.js';
import * as m006 from './migrations/006-parked.js';
import * as m007 from './migrations/007-claimed-by.js';
import * as m008 from './migrations/008-staff-mail.js';
import * as m009 from './migrations/009-consultations.js';
import * as m010 from './migrations/010-absence-log.js';
import * as m011 from './migrations/011-ratings.js';
import * as m012 from './migrations/012-customers.js';
import * as m013 from './migrations/013-case-text.js';
import * as m014 from './migrations/014-merged-into.js';
import * as m015 from './migrations/015-customer-views.js';
import * as m016 from './migrations/016-report-runs.js';
import * as m017 from './migrations/017-report-facts.js';
import * as m018 from './migrations/018-box-leases.js';
import * as m019 from './migrations/019-raw-chunks.js';
import * as m020 from './migrations/020-outbox-box-rate.js';
import * as m021 from './migrations/021-case-listing.js';
import * as m022 from './migrations/022-case-links-index.js';
import * as m023 from './migrations/023-lighter-case-rows.js';
import { cacheStatements } from './statement-cache.js';
import { deferCommitSync, type ChangeCount } from './commit-sync.js';
import { openHooks, takeHooks } from './after-commit.js';
import { isPostgres } from './dialect.js';

export type Db = Kysely<DB>;

const MIGRATIONS: Record<string, Migration> = {
  '001-initial': m001,
  '002-next-queue': m002,
  '003-inbound-fingerprint': m003,
  '004-labels-ignore-case': m004,
  '005-compare-and-set': m005,
  '006-parked': m006,
  '007-claimed-by': m007,
  '008-staff-mail': m008,
  '009-consultations': m009,
  '010-absence-log': m010,
  '011-ratings': m011,
  '012-customers': m012,
  '013-case-text': m013,
  '014-merged-into': m014,
  '015-customer-views': m015,
  '016-report-runs': m016,
  '017-report-facts': m017,
  '018-box-leases': m018,
  '019-raw-chunks': m019,
  '020-outbox-box-rate': m020,
  '021-case-listing': m021,
  '022-case-links-index': m022,
  '023-lighter-case-rows': m023,
};

class StaticMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

/** How long SQLite waits for another process's lock unless told otherwise (and always while migrating). */
const DEFAULT_BUSY_TIMEOUT_MS = 15_000;

export interface OpenOptions {
  dataDir: string;
  /** `postgres://…` (config `database.url`): PostgreSQL instead of the SQLite file in the data dir. */
  url?: string;
  /**
   * Milliseconds SQLite itself waits for another process's lock before giving up, asleep inside
   * the call (the whole process waits). Migrations at open always wait the default.
   */
  busyTimeoutMs?: number;
  /**
   * Milliseconds writeTx goes on trying for another process's lock, pausing on the event loop
   * between tries, when its caller names no deadline; 0 (the default) tries once. For the daemon.
   */
  lockWaitMs?: number;
  /** A long-lived process (the daemon) that runs the same statements again and again: keep them prepared. */
  reuseStatements?: boolean;
  /**
   * The daemon: commits are not fsynced one by one (SQLite's synchronous = NORMAL); it makes them
   * durable with syncCommits (./commit-sync.ts) before it answers for them. Otherwise (a command)
   * each commit is fsynced before it returns (synchronous = FULL). SQLite only.
   */
  deferCommitSync?: boolean;
}

export interface Opened {
  db: Db;
  /** The SQLite connection and its file; absent on PostgreSQL. */
  sqlite?: Database.Database;
  file?: string;
  close(): Promise<void>;
}

/**
 * The file of better-sqlite3's compiled addon, named outright. The CLI bundle holds the package's
 * JavaScript (scripts/bundle.mjs), and there the lookup it would run (`bindings`, which starts
 * from the caller's file) cannot find the package; it is a dozen stat calls anyway. Undefined
 * when the addon is not where npm builds it: then the package looks for itself, which works in
 * tsc's dist/ (and tests), not in the bundle.
 */
function sqliteAddon(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node');
  } catch {
    return undefined;
  }
}

/** Creates the data dir (0700) when missing; raw mail and the database live in it. */
function ensureDataDir(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
}

export async function openDatabase(opts: OpenOptions): Promise<Opened> {
  ensureDataDir(opts.dataDir);
  if (opts.url) return openPostgresDatabase(opts.url);
  const file = path.join(opts.dataDir, 'mailwarden.sqlite');
  // Create the file ourselves so it is 0600 whatever the umask.
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  fs.chmodSync(file, 0o600);
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file, { timeout: DEFAULT_BUSY_TIMEOUT_MS, nativeBinding: sqliteAddon() });
  } catch (err) {
    throw unavailableError('EDBOPEN', `Cannot open the database ${file}: ${(err as Error).message}.`);
  }
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  // A new database's migrations are a hundred statements, each its own commit: not fsynced one by
  // one. The first commit after them (FULL) or syncCommits (deferred) fsyncs the WAL they are in.
  sqlite.pragma('synchronous = NORMAL');
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrate(db);
  if (opts.deferCommitSync) deferCommitSync(db, `${file}-wal`, changeCounter(sqlite));
  else sqlite.pragma('synchronous = FULL');
  // Only now: a daemon starting while a command writes must wait for it rather than fail to migrate.
  if (opts.busyTimeoutMs !== undefined) sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs))}`);
  if (opts.lockWaitMs) lockWaits.set(db, opts.lockWaitMs);
  databaseFiles.set(db, file);
  if (opts.reuseStatements) cacheStatements(sqlite);
  for (const suffix of ['-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.chmodSync(file + suffix, 0o600);
  }
  return { db, sqlite, file, close: () => db.destroy() };
}

/** The connection's change count for syncCommits: SQLite's total_changes(), one prepared read. */
function changeCounter(sqlite: Database.Database): () => ChangeCount {
  const total = sqlite.prepare('select total_changes()').pluck();
  return () => ({ total: total.get() as number, inTransaction: sqlite.inTransaction });
}

async function openPostgresDatabase(url: string): Promise<Opened> {
  // Loaded only here: pg is no part of a SQLite desk's start-up.
  const { checkReachable, openPostgres } = await import('./postgres.js');
  const { db, pool } = openPostgres({ url });
  try {
    await checkReachable(pool, url);
    await migrate(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, close: () => db.destroy() };
}

/** Applies every pending migration; a no-op when the schema is current. Returns the names applied. */
export async function migrate(db: Kysely<DB>): Promise<string[]> {
  if (await isCurrent(db)) return [];
  const migrator = new Migrator({ db, provider: new StaticMigrations() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MailwardenError('unavailable', 'EMIGRATE', `Database migration ${failed} failed: ${(error as Error).message}.`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Every migration recorded as applied, and no other: one read. The migrator itself takes its lock
 * table in a write transaction on every open, which a command started many times at once (eight
 * consultants' `next`) would queue on; it runs only when something is to be done or is wrong.
 */
async function isCurrent(db: Kysely<DB>): Promise<boolean> {
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    const known = Object.keys(MIGRATIONS);
    return rows.length === known.length && rows.every((r) => known.includes(r.name));
  } catch {
    return false; // no migration table yet: a new database
  }
}

/** Per database: how long writeTx waits for another process's lock when the caller names no deadline. */
const lockWaits = new WeakMap<Db, number>();

/** Per database: the SQLite file it was opened on, for a second reader (src/db/parallel-read.ts). */
const databaseFiles = new WeakMap<Db, string>();

export function databaseFile(db: Db): string | undefined {
  return databaseFiles.get(db);
}

/** The first pause between tries for the lock, and the longest; each try doubles it, with jitter. */
const LOCK_PAUSE_FIRST_MS = 25;
const LOCK_PAUSE_MAX_MS = 500;

export interface TxOptions {
  /**
   * Stop waiting for another process's lock at this time (ms since the epoch, as Date.now());
   * the error is then the database's own "busy" (isBusy). Default: the database's lock wait.
   */
  lockDeadline?: number;
  /** Called once, when the first try finds the lock held and writeTx starts to wait (for a log line). */
  onWait?: () => void;
}

/**
 * Runs fn in a write transaction taken with BEGIN IMMEDIATE, so two processes never both read
 * "free" and then both write (the `next` race): the second waits on the lock, then sees the first's
 * commit. Everything fn writes commits together or not at all. While another process holds the
 * lock, BEGIN is tried again after growing pauses until the deadline (TxOptions); fn runs once,
 * only after the lock is ours.
 */
export async function writeTx<T>(db: Db, fn: (tx: Kysely<DB>) => Promise<T>, opts: TxOptions = {}): Promise<T> {
  if (isPostgres(db)) return postgresTx(db, fn);
  const deadline = opts.lockDeadline ?? Date.now() + (lockWaits.get(db) ?? 0);
  for (let tries = 1; ; tries++) {
    const attempt = await tryTx(db, fn);
    if (attempt.ran) return attempt.value;
    const left = deadline - Date.now();
    if (left <= 0) throw attempt.busy;
    if (tries === 1) opts.onWait?.();
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, lockPause(tries))));
  }
}

let savepoints = 0;

/**
 * Runs `fn` inside a savepoint of the caller's transaction: when it throws, its writes are undone
 * and the error rethrown, while the transaction goes on (a staff mail whose action is refused is
 * still recorded, in quarantine). The same SQL on SQLite and PostgreSQL.
 */
export async function withSavepoint<T>(tx: Kysely<DB>, fn: () => Promise<T>): Promise<T> {
  const name = sql.raw(`mw_sp_${++savepoints}`);
  await sql`savepoint ${name}`.execute(tx);
  try {
    const value = await fn();
    await sql`release savepoint ${name}`.execute(tx);
    return value;
  } catch (err) {
    await sql`rollback to savepoint ${name}`.execute(tx);
    await sql`release savepoint ${name}`.execute(tx);
    throw err;
  }
}

type Attempt<T> = { ran: true; value: T } | { ran: false; busy: unknown };

/** The statements around every SQLite write transaction, compiled once: they are run for every message. */
const BEGIN_IMMEDIATE = CompiledQuery.raw('begin immediate');
const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');

/**
 * One try: BEGIN IMMEDIATE, fn, COMMIT. A lock held elsewhere ends the try before fn runs, and the
 * connection is given back, so the daemon's reads go on while this one waits.
 */
async function tryTx<T>(db: Db, fn: (tx: Kysely<DB>) => Promise<T>): Promise<Attempt<T>> {
  return db.connection().execute(async (conn): Promise<Attempt<T>> => {
    try {
      await conn.executeQuery(BEGIN_IMMEDIATE);
    } catch (err) {
      if (isLocked(err)) return { ran: false, busy: err };
      throw err;
    }
    openHooks(conn);
    try {
      const value = await fn(conn);
      await conn.executeQuery(COMMIT);
      runHooks(takeHooks(conn));
      return { ran: true, value };
    } catch (err) {
      takeHooks(conn);
      await conn.executeQuery(ROLLBACK).catch(() => undefined);
      throw err;
    }
  });
}

/** The after-commit hooks of a committed transaction; one that throws cannot undo the commit, so it is not the caller's error. */
function runHooks(hooks: Array<() => void>): void {
  for (const hook of hooks) {
    try {
      hook();
    } catch {
      // A wake-up that failed: the drainer's poll still finds the mail.
    }
  }
}

/** Times a PostgreSQL transaction that lost a deadlock or serialization check is run again. */
const PG_TX_TRIES = 5;

/**
 * PostgreSQL: READ COMMITTED, no table lock. Every claim inside fn is its own compare-and-set or
 * SKIP LOCKED statement, so two processes may run fn at once and still never both win one row.
 * A transaction the server undid (deadlock, 40P01) holds nothing and runs again.
 */
async function postgresTx<T>(db: Db, fn: (tx: Kysely<DB>) => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      let hooks: Array<() => void> = [];
      const value = await db.transaction().execute(async (trx) => {
        openHooks(trx);
        try {
          return await fn(trx);
        } finally {
          hooks = takeHooks(trx);
        }
      });
      runHooks(hooks);
      return value;
    } catch (err) {
      if (!isLocked(err) || tries >= PG_TX_TRIES) throw err;
      await new Promise((resolve) => setTimeout(resolve, lockPause(tries)));
    }
  }
}

/** The pause before try n+1: between half and all of min(max, first * 2^(n-1)), so waiters do not knock in step. */
function lockPause(tries: number): number {
  const ceiling = Math.min(LOCK_PAUSE_MAX_MS, LOCK_PAUSE_FIRST_MS * 2 ** Math.min(tries - 1, 10));
  return Math.round(ceiling * (0.5 + Math.random() / 2));
}
