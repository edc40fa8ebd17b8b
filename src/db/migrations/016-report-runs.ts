// One row per scheduled report sent (SPEC §6 `reports:`, §10): the key (report id, slot) is what
// makes "once per schedule, even with several daemons" hold. A daemon claims a slot by inserting
// its row with ON CONFLICT DO NOTHING in the transaction that queues the mail, so the row and
// the mail commit together or not at all, and a second daemon firing the same slot inserts
// nothing and sends nothing. `slot` is the scheduled instant (ISO, UTC), not when it ran.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('report_runs')
    .addColumn('report_id', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('period_from', 'text', (c) => c.notNull())
    .addColumn('period_to', 'text', (c) => c.notNull())
    .addColumn('ran_at', 'text', (c) => c.notNull())
    .addColumn('ran_by', 'text', (c) => c.notNull())
    .addColumn('outbox_ids', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('report_runs_pk', ['report_id', 'slot'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
