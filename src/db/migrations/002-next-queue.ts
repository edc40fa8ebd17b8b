// `mailwarden next` looks for the oldest waiting case of one pool and one case priority; this
// index makes that one step down a b-tree however long the queue (bench/next: 100k open cases).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('cases_next').on('cases').columns(['status', 'pool_id', 'priority', 'received_at', 'id']).execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
