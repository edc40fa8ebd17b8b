// Merge (SPEC §5): a case merged into another stays as a closed row that points at the case it
// went into, so its ID keeps threading (a tag in a subject, a header naming one of its messages)
// into the merged case, and `show` of either lists the other.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('cases').addColumn('merged_into', 'text').execute();
  await db.schema.createIndex('cases_merged_into').on('cases').column('merged_into').execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
