// Box leases (SPEC §10): several daemons share one database, and each mailbox is worked by one of
// them at a time. `box_leases` holds, per box, who works it and until when; a daemon takes or
// renews a lease with one compare-and-set upsert (src/db/leases.ts), so two daemons never both
// win a box, under SQLite's single writer as under PostgreSQL's READ COMMITTED. `daemon_nodes`
// is each running daemon's heartbeat: the live ones are counted for the fair share of boxes, and
// the node and pid let a restarted daemon release at once the leases its killed predecessor left.
// Times are ISO strings in `*_at` columns (timestamptz on PostgreSQL).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('box_leases')
    .addColumn('mailbox_id', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('taken_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('box_leases_holder').on('box_leases').column('holder').execute();
  await db.schema
    .createTable('daemon_nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('node', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('seen_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
