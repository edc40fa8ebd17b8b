// Staff by e-mail (SPEC §5A, §5B). An approval keeps what the trainee's reply asked for beside the
// held mail (the status, reminder and questionnaire answers take effect only on approval) and the
// SHA-256 of the held bytes it approves, so approving releases exactly the draft the supervisor
// read. A quarantined mail keeps why (a closed list of reasons, some of which a supervisor may
// override), what its token claimed, and what became of it: held -> released | dropped.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('approvals').addColumn('status', 'text').execute();
  await db.schema.alterTable('approvals').addColumn('remind_at', 'text').execute();
  await db.schema.alterTable('approvals').addColumn('answers', 'text').execute();
  await db.schema.alterTable('approvals').addColumn('mime_sha256', 'text').execute();
  await db.schema.alterTable('approvals').addColumn('decided_via', 'text').execute();
  await db.schema.alterTable('approvals').addColumn('request_outbox_id', 'integer').execute();
  await db.schema.createIndex('approvals_state').on('approvals').columns(['state', 'id']).execute();

  await db.schema.alterTable('quarantine').addColumn('detail', 'text').execute();
  await db.schema.alterTable('quarantine').addColumn('subject', 'text').execute();
  await db.schema.alterTable('quarantine').addColumn('message_id', 'text').execute();
  await db.schema.alterTable('quarantine').addColumn('token_purpose', 'text').execute();
  await db.schema.alterTable('quarantine').addColumn('token_ref', 'integer').execute();
  await db.schema.alterTable('quarantine').addColumn('issued_to', 'text').execute();
  await db.schema
    .alterTable('quarantine')
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('held'))
    .execute();
  await db.schema.alterTable('quarantine').addColumn('decided_by', 'text').execute();
  await db.schema.alterTable('quarantine').addColumn('decided_at', 'text').execute();
  await db.schema.createIndex('quarantine_state').on('quarantine').columns(['state', 'id']).execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
