// Which engine a kysely handle talks to. The few statements whose spelling differs between SQLite
// and PostgreSQL (src/db only) ask this of the handle they are given, a transaction included, so
// no caller above src/db ever passes a dialect around.
import { PostgresAdapter, type Kysely } from 'kysely';

export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
