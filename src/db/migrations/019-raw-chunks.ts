// Raw mail and attachments kept in the database, for several daemons on several machines (SPEC §10,
// `storage.files: database`): each content-addressed file is split into chunks of 1 MiB, one row
// each, so no statement ever carries a 50 MB message whole and a reader can stream it back. The
// key (kind, sha256, seq) makes storing the same content twice a no-op (ON CONFLICT DO NOTHING).
// `bytes` is 'blob' here; the PostgreSQL backend maps it to bytea.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('stored_chunks')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('bytes', 'blob', (c) => c.notNull())
    .addPrimaryKeyConstraint('stored_chunks_pk', ['kind', 'sha256', 'seq'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
