// The SQL spellings reports need that differ between databases, kept here so the report queries
// above src/db stay the same on every backend (SPEC §10):
// - the continuous percentile: SQLite 3.47+ has percentile_cont(value, fraction) built in;
//   PostgreSQL spells it `percentile_cont(fraction) WITHIN GROUP (ORDER BY value)`;
// - a column kept out of index choice, so that a grouped query reads the index that leads with its
//   group instead of sorting (SQLite: unary plus; PostgreSQL's planner needs no such hint);
// - an instant given as a parameter where nothing tells PostgreSQL its type (a VALUES list);
// - the milliseconds between two instants (SQLite keeps ISO text, PostgreSQL timestamptz).
import { sql, type RawBuilder } from 'kysely';
import { isPostgres, type AnyDb } from './dialect.js';

/** The p-th continuous percentile (0 < p < 1) of a numeric column, by linear interpolation. */
export function percentileCont(db: AnyDb, column: string, p: number): RawBuilder<number | null> {
  if (isPostgres(db)) return sql<number | null>`percentile_cont(${sql.lit(p)}) WITHIN GROUP (ORDER BY ${sql.ref(column)})`;
  return sql<number | null>`percentile_cont(${sql.ref(column)}, ${sql.lit(p)})`;
}

/** The column, in a form the planner will not pick an index for (SQLite: unary plus). */
export function notIndexed(db: AnyDb, column: string): RawBuilder<string> {
  return isPostgres(db) ? sql<string>`${sql.ref(column)}` : sql<string>`+${sql.ref(column)}`;
}

/** An ISO-8601 instant as a typed SQL value. */
export function instant(db: AnyDb, iso: string): RawBuilder<string> {
  return isPostgres(db) ? sql<string>`CAST(${iso} AS timestamptz)` : sql<string>`${iso}`;
}

/** Whole milliseconds from the instant in column `from` to the one in column `to` (SQL expressions). */
export function millisBetween(db: AnyDb, from: string, to: string): RawBuilder<number> {
  if (isPostgres(db)) return sql<number>`CAST(ROUND(EXTRACT(EPOCH FROM (${sql.raw(to)} - ${sql.raw(from)})) * 1000) AS bigint)`;
  return sql<number>`CAST(ROUND((unixepoch(${sql.raw(to)}, 'subsec') - unixepoch(${sql.raw(from)}, 'subsec')) * 1000) AS INTEGER)`;
}
