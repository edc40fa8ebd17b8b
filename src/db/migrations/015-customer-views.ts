// When each consultant last looked at a customer's record (`mailwarden customer <address> --as
// <c>`), as case_views does for cases: an edit of the record made from an older picture than
// someone else's change is refused unless forced (SPEC §5 collision warning, "the same holds for
// edits of a customer record").
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('customer_views')
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('consultant', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('customer_views_pk', ['address', 'consultant'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
