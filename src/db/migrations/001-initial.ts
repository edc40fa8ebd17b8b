// The first schema, with room for the whole specification. Later changes are new files, never
// edits to this one. Kept to portable SQL through kysely's builder (see SPEC §10: PostgreSQL later).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // Per-box sync state: the high-water mark is the truth about what is done (DESIGN).
  await db.schema
    .createTable('mailbox_state')
    .addColumn('mailbox_id', 'text', (c) => c.primaryKey())
    .addColumn('uidvalidity', 'integer')
    .addColumn('last_uid', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_sync_at', 'text')
    .addColumn('last_error', 'text')
    .execute();

  // Raw RFC 822 bytes are on disk under data/raw/<aa>/<sha256>; this names them.
  await db.schema
    .createTable('raw_messages')
    .addColumn('sha256', 'text', (c) => c.primaryKey())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('stored_at', 'text', (c) => c.notNull())
    .addColumn('erased_at', 'text')
    .execute();

  // Never-reused case numbers, one counter per prefix.
  await db.schema
    .createTable('case_sequences')
    .addColumn('prefix', 'text', (c) => c.primaryKey())
    .addColumn('last_value', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('cases')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('pool_id', 'text', (c) => c.notNull())
    .addColumn('mailbox_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('priority', 'text', (c) => c.notNull().defaultTo('normal'))
    .addColumn('subject', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('customer_address', 'text', (c) => c.notNull())
    .addColumn('customer_name', 'text')
    .addColumn('language', 'text')
    .addColumn('assignee', 'text')
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('deadline_at', 'text', (c) => c.notNull())
    .addColumn('first_response_at', 'text')
    .addColumn('closed_at', 'text')
    .addColumn('remind_at', 'text')
    .addColumn('overdue_notified_at', 'text')
    .addColumn('linked_case_id', 'text')
    .addColumn('flags', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('cases_queue').on('cases').columns(['status', 'pool_id', 'received_at']).execute();
  await db.schema.createIndex('cases_customer').on('cases').columns(['customer_address', 'received_at']).execute();
  await db.schema.createIndex('cases_assignee').on('cases').columns(['assignee', 'status']).execute();

  await db.schema
    .createTable('case_labels')
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('label', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('case_labels_pk', ['case_id', 'label'])
    .execute();

  // Who may thread onto a case by its tag (SPEC §3 participant check).
  await db.schema
    .createTable('case_participants')
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('added_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('case_participants_pk', ['case_id', 'address'])
    .execute();

  // Append-only history (RT's transactions): current state on `cases` changes only with a row here.
  await db.schema
    .createTable('case_events')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('field', 'text')
    .addColumn('from_value', 'text')
    .addColumn('to_value', 'text')
    .addColumn('data', 'text')
    .execute();
  await db.schema.createIndex('case_events_case').on('case_events').columns(['case_id', 'id']).execute();

  // Every e-mail or CLI text on a case.
  await db.schema
    .createTable('messages')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('author', 'text')
    .addColumn('from_address', 'text')
    .addColumn('from_name', 'text')
    .addColumn('to_addresses', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('cc_addresses', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('subject', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('message_id', 'text')
    .addColumn('in_reply_to', 'text')
    .addColumn('references', 'text')
    .addColumn('text', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('raw_sha256', 'text')
    .addColumn('state', 'text')
    .addColumn('is_feedback', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('is_auto_reply', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('flags', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();
  await db.schema.createIndex('messages_case').on('messages').columns(['case_id', 'id']).execute();
  await db.schema.createIndex('messages_message_id').on('messages').column('message_id').execute();

  await db.schema
    .createTable('attachments')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('message_row_id', 'integer', (c) => c.notNull().references('messages.id'))
    .addColumn('filename', 'text')
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'text')
    .addColumn('content_id', 'text')
    .addColumn('inline', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('attachments_message').on('attachments').column('message_row_id').execute();

  // Each message that reached a box or the listener, keyed for exactly-once (SPEC §3).
  await db.schema
    .createTable('inbound')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('mailbox_id', 'text', (c) => c.notNull())
    .addColumn('uidvalidity', 'integer')
    .addColumn('uid', 'integer')
    .addColumn('queue_id', 'text')
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('case_id', 'text')
    .addColumn('message_row_id', 'integer')
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('inbound_uid').on('inbound').columns(['mailbox_id', 'uidvalidity', 'uid']).unique().execute();
  await db.schema.createIndex('inbound_queue').on('inbound').columns(['source', 'queue_id']).unique().execute();
  await db.schema.createIndex('inbound_dedupe').on('inbound').columns(['message_id', 'sha256']).execute();

  // Transactional outbox (DESIGN: a message's way out).
  await db.schema
    .createTable('outbox')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('case_id', 'text')
    .addColumn('message_row_id', 'integer')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull().unique())
    .addColumn('from_address', 'text', (c) => c.notNull())
    .addColumn('to_addresses', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('mime', 'blob', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('lease_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('smtp_response', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text')
    .execute();
  await db.schema.createIndex('outbox_due').on('outbox').columns(['state', 'next_attempt_at']).execute();
  await db.schema.createIndex('outbox_recipient').on('outbox').columns(['kind', 'to_addresses', 'created_at']).execute();

  await db.schema
    .createTable('consultations')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('dept_id', 'text', (c) => c.notNull())
    .addColumn('consultant', 'text', (c) => c.notNull())
    .addColumn('outbox_id', 'integer')
    .addColumn('sent_at', 'text', (c) => c.notNull())
    .addColumn('deadline_at', 'text', (c) => c.notNull())
    .addColumn('answered_at', 'text')
    .addColumn('overdue_notified_at', 'text')
    .execute();
  await db.schema.createIndex('consultations_case').on('consultations').column('case_id').execute();

  await db.schema
    .createTable('approvals')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('outbox_id', 'integer', (c) => c.notNull())
    .addColumn('trainee', 'text', (c) => c.notNull())
    .addColumn('supervisor', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('questionnaire_answers')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('questionnaire_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('answered_by', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();

  // Snippets are configured in YAML; this records their use (which code, language, by whom).
  await db.schema
    .createTable('snippet_uses')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('case_id', 'text', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('language', 'text', (c) => c.notNull())
    .addColumn('consultant', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();

  // Presence: who looked at a case and when (show records it).
  await db.schema
    .createTable('case_views')
    .addColumn('case_id', 'text', (c) => c.notNull())
    .addColumn('consultant', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('case_views_pk', ['case_id', 'consultant'])
    .execute();

  await db.schema
    .createTable('absences')
    .addColumn('consultant', 'text', (c) => c.primaryKey())
    .addColumn('until', 'text', (c) => c.notNull())
    .addColumn('replacement', 'text')
    .addColumn('set_by', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();

  // Mail that must never be relayed (unsigned staff replies and the like), kept for review.
  await db.schema
    .createTable('quarantine')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('raw_sha256', 'text', (c) => c.notNull())
    .addColumn('mailbox_id', 'text')
    .addColumn('case_id', 'text')
    .addColumn('from_address', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();

  await sql`select 1`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
