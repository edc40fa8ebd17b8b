// No poison message (SPEC §3): a message whose accept keeps failing for a reason that is not
// transient is counted here, one row per (box, raw message), and parked once the count reaches
// `ingest.max_attempts`. The row names the kept raw file, where the message came from (so
// `reprocess --parked` can accept it as if it had just arrived) and the last error. States:
// failing (counted, will be tried again) -> parked (the box went on without it) -> reprocessed.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('parked')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('mailbox_id', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('uidvalidity', 'integer')
    .addColumn('uid', 'integer')
    .addColumn('queue_id', 'text')
    .addColumn('envelope_from', 'text')
    .addColumn('received_at', 'text')
    .addColumn('message_id', 'text')
    .addColumn('from_address', 'text')
    .addColumn('subject', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('error', 'text', (c) => c.notNull())
    .addColumn('first_failed_at', 'text', (c) => c.notNull())
    .addColumn('last_failed_at', 'text', (c) => c.notNull())
    .addColumn('parked_at', 'text')
    .addColumn('notice_outbox_id', 'integer')
    .addColumn('reprocessed_at', 'text')
    .addColumn('case_id', 'text')
    .execute();
  await db.schema.createIndex('parked_message').on('parked').columns(['mailbox_id', 'sha256']).unique().execute();
  await db.schema.createIndex('parked_state').on('parked').columns(['state', 'id']).execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
