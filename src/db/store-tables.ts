// What migrate-store copies, read from the SQLite file itself rather than from a list kept here:
// every table of sqlite_master (a table a later migration adds is copied without anyone touching
// this file), in foreign-key order so a referenced row is always in PostgreSQL before the rows that
// name it, and without kysely's own bookkeeping (the target is migrated by openDatabase, so its
// kysely_migration rows exist already; they are compared instead of copied).
import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import { sql, type Kysely, type QueryExecutorProvider } from 'kysely';
import { usageError } from '../errors.js';
import { isTimeColumn } from './postgres.js';

/** Any table of either database, by name: migrate-store copies tables it learns of at run time. */
export type AnyTables = Record<string, Record<string, unknown>>;
export type StoreDb = Kysely<AnyTables>;

export interface StoreTable {
  name: string;
  /** Column names in the SQLite declaration order; the same names exist on PostgreSQL. */
  columns: string[];
}

/** Tables that belong to SQLite or to kysely's migrator, never to mailwarden's data. */
function isBookkeeping(name: string): boolean {
  return name.startsWith('sqlite_') || name.startsWith('kysely_');
}

/** Every data table of the SQLite database, parents before children. */
export function sourceTables(sqlite: Database.Database): StoreTable[] {
  const names = (sqlite.prepare(`select name from sqlite_master where type = 'table' order by name`).all() as Array<{ name: string }>)
    .map((r) => r.name)
    .filter((n) => !isBookkeeping(n));
  const parents = new Map<string, Set<string>>();
  for (const name of names) {
    const refs = sqlite.prepare(`select "table" as ref from pragma_foreign_key_list(?)`).all(name) as Array<{ ref: string }>;
    // A table that names itself (a tree) is no ordering constraint between tables.
    parents.set(name, new Set(refs.map((r) => r.ref).filter((r) => r !== name && names.includes(r))));
  }
  return foreignKeyOrder(names, parents).map((name) => ({
    name,
    columns: (sqlite.prepare(`select name from pragma_table_info(?) order by cid`).all(name) as Array<{ name: string }>).map((c) => c.name),
  }));
}

/** Kahn's order, alphabetical among equals so two runs copy in the same order. */
function foreignKeyOrder(names: string[], parents: Map<string, Set<string>>): string[] {
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < names.length) {
    const ready = names.find((n) => !done.has(n) && [...parents.get(n)!].every((p) => done.has(p)));
    if (!ready) {
      const stuck = names.filter((n) => !done.has(n)).join(', ');
      throw usageError('EMIGRATESTORE', `The tables ${stuck} name each other in a foreign-key loop, so no copy order exists.`);
    }
    done.add(ready);
    order.push(ready);
  }
  return order;
}

/** The migrations applied to a database, by name, as kysely records them. */
export async function appliedMigrations(db: QueryExecutorProvider): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
  return rows.map((r) => r.name);
}

/**
 * A row's value as both engines agree to show it: PostgreSQL gives an instant back as
 * `toISOString()` where SQLite keeps the text written (maybe without milliseconds), bytea and blob
 * both come back as Buffers, integers as numbers.
 */
function normalise(column: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { b: Buffer.from(value).toString('hex') };
  if (typeof value === 'bigint') return { n: value.toString() };
  if (typeof value === 'number') return { n: String(value) };
  if (typeof value === 'string' && isTimeColumn(column)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return { t: new Date(ms).toISOString() };
  }
  return { s: typeof value === 'string' ? value : JSON.stringify(value) };
}

/** 2^128: row digests are summed modulo this, so the sum does not depend on the order rows are read in. */
const MODULUS = 1n << 128n;

/**
 * An order-independent checksum of a table: the sum of every row's SHA-256 (first 128 bits), so
 * SQLite read in rowid order and PostgreSQL read in whatever order it likes compare equal exactly
 * when they hold the same rows (as a multiset), and neither side is sorted in memory.
 */
export class TableChecksum {
  rows = 0;
  private sum = 0n;

  constructor(private readonly columns: string[]) {}

  add(row: Record<string, unknown>): void {
    const values = this.columns.map((c) => normalise(c, row[c]));
    const digest = crypto.createHash('sha256').update(JSON.stringify(values)).digest();
    this.sum = (this.sum + BigInt(`0x${digest.subarray(0, 16).toString('hex')}`)) % MODULUS;
    this.rows += 1;
  }

  digest(): string {
    return this.sum.toString(16).padStart(32, '0');
  }
}
