// Fewer index entries written with every new case (issue 18): each index a case row is in costs
// its accept one more page in the write-ahead log, fsynced before the 250. `cases_customer` indexed
// the customer's address as written, which no query reads any more (every lookup by customer
// matches lower(customer_address), migration 021's index). `cases_merged_into` held an entry for
// every case, nearly all of them NULL; partial, it holds only the merged ones, and the one lookup,
// `merged_into = ?` (the cases merged into the one shown), implies the IS NOT NULL that lets SQLite
// and PostgreSQL both use it. Plain SQL both accept.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX cases_customer`.execute(db);
  await sql`DROP INDEX cases_merged_into`.execute(db);
  await sql`CREATE INDEX cases_merged_into ON cases (merged_into) WHERE merged_into IS NOT NULL`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
