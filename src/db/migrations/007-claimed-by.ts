// Who holds a `sending` outbox row: the drainer process that claimed it, named so that another
// drainer on the same machine can prove it dead (its pid gone, or now another process) and take
// the row over at once instead of waiting out the whole lease. NULL for rows claimed before this
// column existed; those keep the lease rule (src/outbound/claimer.ts reads and writes it).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('outbox').addColumn('claimed_by', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
