// Claims that hold on any database, not only under SQLite's single writer (graphile-worker's
// way): each claim is one conditional UPDATE whose row count says whether it won.
// - cases.version: every change to a case bumps it, and a change applies only to the version
//   it was decided on, so two writers can never both move the same case (`next`, the status
//   machine, the scheduler);
// - outbox.claim_token: a random token per claim, the proof that the row in hand is still ours;
// - outbox.notice_key: one key per scheduled notice (e.g. the overdue notice of a case for one
//   deadline), unique, so the same notice can never be queued twice.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('cases')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('outbox').addColumn('claim_token', 'text').execute();
  await db.schema.alterTable('outbox').addColumn('notice_key', 'text').execute();
  await db.schema.createIndex('outbox_notice_key').on('outbox').column('notice_key').unique().execute();
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
