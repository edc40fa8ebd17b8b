// `mailwarden cases` lists one page, oldest first, of the open cases by default (src/cases/listing.ts).
// Why these indexes: the partial one holds only open cases in FIFO order (received_at, id), so the
// default page is the first rows of an index however many solved and closed cases the desk has
// kept, and counting the open ones reads that index alone; the full one gives `--all` and
// `--status` the same order without sorting every case. `--customer` (and `mailwarden customer`)
// match lower(customer_address), which the older index on the address as written cannot serve.
// The partial index's WHERE is written with literals, as the listing's own is: SQLite uses a
// partial index only for a query whose WHERE matches it. Plain SQL that SQLite and PostgreSQL
// both accept.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX cases_open_fifo ON cases (received_at, id) WHERE status NOT IN ('solved', 'closed')`.execute(db);
  await sql`CREATE INDEX cases_fifo ON cases (received_at, id)`.execute(db);
  await sql`CREATE INDEX cases_customer_lower ON cases (lower(customer_address), received_at)`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
