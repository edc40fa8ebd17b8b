// The customer's side of data protection (SPEC §5 "Customer", §9). A customer record is keyed by
// the address in lower case (mail addresses are compared ignoring case everywhere else too), and
// every edit of it is one append-only row in customer_changes (who, when, field, from, to), as
// case history is for cases. An erasure is one row in erasures naming who erased and when under a
// pseudonym id, never the address: after it nothing in the database may name the person.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('customers')
    .addColumn('address', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text')
    .addColumn('phone', 'text')
    .addColumn('organisation', 'text')
    .addColumn('notes', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('customer_changes')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('field', 'text', (c) => c.notNull())
    .addColumn('from_value', 'text')
    .addColumn('to_value', 'text')
    .execute();
  await db.schema.createIndex('customer_changes_address').on('customer_changes').columns(['address', 'id']).execute();

  await db.schema
    .createTable('erasures')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('pseudonym', 'text')
    .addColumn('erased_by', 'text', (c) => c.notNull())
    .addColumn('erased_at', 'text', (c) => c.notNull())
    .addColumn('cases', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('messages', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('files_deleted', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
