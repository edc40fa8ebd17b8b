// The box's auto-response rate (loop-breaker.ts: how many auto-responses this box queued in the
// last box_window) is asked in every accept transaction that may answer. Its only index was
// (kind, to_addresses, created_at), which serves the per-recipient window but leaves the per-box
// count reading every auto-response row the desk ever sent: at 100k cases that one statement made
// ingest ~10% slower than on an empty database (issue 18). With (kind, from_address, created_at)
// it reads only the rows inside the window.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('outbox_box_rate').on('outbox').columns(['kind', 'from_address', 'created_at']).execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
