// Consultations as side threads (SPEC §5C). A consultation is open until the department answers
// or the consultant withdraws it; it keeps which messages asked and answered, how the answer came
// (token or tag), and who withdrew it. The (state, deadline_at) index is the overdue scan's: the
// scheduler looks only at the consultations whose deadline passed and whose notice is not yet out.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('consultations')
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('open'))
    .execute();
  await db.schema.alterTable('consultations').addColumn('question_row_id', 'integer').execute();
  await db.schema.alterTable('consultations').addColumn('answer_row_id', 'integer').execute();
  await db.schema.alterTable('consultations').addColumn('answered_via', 'text').execute();
  await db.schema.alterTable('consultations').addColumn('withdrawn_by', 'text').execute();
  await db.schema.alterTable('consultations').addColumn('withdrawn_at', 'text').execute();
  await db.schema.createIndex('consultations_due').on('consultations').columns(['overdue_notified_at', 'deadline_at']).execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
