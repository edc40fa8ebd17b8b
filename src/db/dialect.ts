// Which engine a kysely handle talks to. The few statements whose spelling differs between SQLite
// and PostgreSQL (src/db only) ask this of the handle they are given, a transaction included, so
// no caller above src/db ever passes a dialect around.
import { PostgresAdapter } from 'kysely';

/** Any kysely handle or transaction, whatever its table types. */
export interface AnyDb {
  getExecutor(): { readonly adapter: unknown };
}

export function isPostgres(db: AnyDb): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
