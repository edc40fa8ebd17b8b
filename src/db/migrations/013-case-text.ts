// A case's own title and description (SPEC §5 "Customer": `edit <case> --title … --description …`).
// Why columns on `cases` rather than a side table: they are current state of the case like its
// subject, changed only through changeCase, so every change lands in the history with who and when.
// Both are nullable: a case has neither until a consultant gives it one.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('cases').addColumn('title', 'text').execute();
  await db.schema.alterTable('cases').addColumn('description', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
