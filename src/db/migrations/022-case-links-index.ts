// Cases opened from a mail that names another case link to it (linked_case_id), and every case
// view (`show`, `next --json`, the mail commands' replies) lists the cases that link to this one.
// Without an index that lookup read every case: about 100 ms at 100,000 cases, inside `next`'s
// write transaction, so eight consultants taking cases at once waited on one another's scans
// (issue 18). Partial: only the few linked cases are in it, and `linked_case_id = ?` implies the
// IS NOT NULL that lets SQLite and PostgreSQL both use it. Plain SQL both accept.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX cases_linked_from ON cases (linked_case_id) WHERE linked_case_id IS NOT NULL`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
