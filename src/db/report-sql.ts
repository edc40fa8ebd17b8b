// The two SQL spellings reports need that differ between databases, kept here so the report
// queries above src/db stay the same on every backend (SPEC §10): the continuous percentile
// (SQLite 3.47+ has percentile_cont(value, fraction) built in; PostgreSQL spells it
// `percentile_cont(fraction) WITHIN GROUP (ORDER BY value)`), and a column kept out of index
// choice so that a grouped query reads the index that leads with its group instead of sorting.
import { sql, type RawBuilder } from 'kysely';

/** The p-th continuous percentile (0 < p < 1) of a numeric column, by linear interpolation. */
export function percentileCont(column: string, p: number): RawBuilder<number | null> {
  return sql<number | null>`percentile_cont(${sql.ref(column)}, ${sql.lit(p)})`;
}

/** The column, in a form the planner will not pick an index for (SQLite: unary plus). */
export function notIndexed(column: string): RawBuilder<string> {
  return sql<string>`+${sql.ref(column)}`;
}
