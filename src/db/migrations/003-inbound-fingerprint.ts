// Ingest's dedupe key: the content fingerprint of each inbound message (SHA-256 over the headers
// minus the trace fields each delivery adds, plus the body with normalised line endings), so the
// same mail in two boxes, or fetched again after a UIDVALIDITY change, is recognised even where
// the raw bytes differ (Delivered-To, Received, CRLF versus LF).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('inbound').addColumn('content_sha256', 'text').execute();
  await db.schema.createIndex('inbound_content').on('inbound').column('content_sha256').execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
