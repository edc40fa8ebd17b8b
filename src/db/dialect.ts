// Which engine a kysely handle talks to. The few statements whose spelling differs between SQLite
// and PostgreSQL (src/db only) ask this of the handle they are given, a transaction included, so
// no caller above src/db ever passes a dialect around.
import { PostgresAdapter, sql, type RawBuilder } from 'kysely';

/** Any kysely handle or transaction, whatever its table types. */
export interface AnyDb {
  getExecutor(): { readonly adapter: unknown };
}

export function isPostgres(db: AnyDb): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * Makes transactions that pass the same key run one after the other from here to their commit:
 * a check-then-write (is this content already here? was this sender answered within the window?)
 * then sees every earlier one's rows. On SQLite every write transaction already runs alone
 * (BEGIN IMMEDIATE); on PostgreSQL, under READ COMMITTED, a transaction-scoped advisory lock on
 * the key's hash does it, released by the commit.
 */
export async function serializeOn(tx: AnyDb & Parameters<RawBuilder<unknown>['execute']>[0], key: string): Promise<void> {
  if (!isPostgres(tx)) return;
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(tx);
}

/**
 * A read of rows the transaction is about to claim: on PostgreSQL `FOR UPDATE SKIP LOCKED`, so
 * that concurrent claimers each get a different row instead of all picking the same one and all
 * but one losing the compare-and-set after it; SQLite has no row locks (and needs none: its write
 * transactions run one at a time). The compare-and-set stays the guarantee either way.
 */
export function skippingLocked<Q extends { forUpdate(): { skipLocked(): Q } }>(tx: AnyDb, query: Q): Q {
  return isPostgres(tx) ? query.forUpdate().skipLocked() : query;
}

/**
 * A bytes column read as text for a case-insensitive LIKE: SQLite's lower() reads a blob as text
 * already; PostgreSQL's bytea is first encoded (`escape`: ASCII stays itself, other bytes become
 * octal escapes), which is enough to find an ASCII address in stored mail.
 */
export function bytesAsText(db: AnyDb, column: string): RawBuilder<string> {
  return isPostgres(db) ? sql<string>`encode(${sql.ref(column)}, 'escape')` : sql<string>`${sql.ref(column)}`;
}
