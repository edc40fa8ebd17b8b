// Customer ratings (SPEC §5E). One row per rated reply and customer: the customer's latest rating
// of that reply (last wins; each earlier one stays in the case history as a `rating` event). A
// rating names the outbox row and `messages` row of the reply it rates and the consultant who
// wrote it, so reports count it for that consultant however the case moves on afterwards, and
// the rating mail's raw bytes (the customer's own words) stay reachable by their SHA-256.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('ratings')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('outbox_id', 'integer', (c) => c.notNull())
    .addColumn('message_row_id', 'integer')
    .addColumn('consultant', 'text')
    .addColumn('customer', 'text', (c) => c.notNull())
    .addColumn('score', 'text', (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('message_id', 'text')
    .addColumn('raw_sha256', 'text')
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ratings_reply_customer').on('ratings').columns(['outbox_id', 'customer']).unique().execute();
  await db.schema.createIndex('ratings_case').on('ratings').column('case_id').execute();
  await db.schema.createIndex('ratings_consultant_at').on('ratings').columns(['consultant', 'at']).execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
