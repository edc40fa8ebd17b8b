// Absence and replacement (SPEC §5D). `absences` (migration 001) holds each consultant's current
// absence, one row per consultant, replaced when it is set again. What it held before is kept here:
// every set, replace and clear, with who did it and when, so a supervisor can tell later who was
// away when and who stood in (the current row alone forgets that).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('absence_log')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('consultant', 'text', (c) => c.notNull())
    // set | replaced | cleared
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('until', 'text')
    .addColumn('replacement', 'text')
    .addColumn('by', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    // what the absence was before this entry replaced or cleared it: {until, replacement, set_by, at}
    .addColumn('previous', 'text')
    .execute();
  await db.schema.createIndex('absence_log_consultant').on('absence_log').columns(['consultant', 'id']).execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
