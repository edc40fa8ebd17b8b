// Labels are unique on a case ignoring case (SPEC §5: `+vip` then `+Vip` is one label). The
// domain checks it (for every script), and this index makes it hold under two concurrent writers
// too (SQLite's lower() folds ASCII only). Rows that already differ only by case are merged
// first, keeping the spelling that sorts first.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DELETE FROM case_labels WHERE EXISTS (
      SELECT 1 FROM case_labels AS first
      WHERE first.case_id = case_labels.case_id AND lower(first.label) = lower(case_labels.label) AND first.label < case_labels.label)`.execute(db);
  await sql`CREATE UNIQUE INDEX case_labels_ignore_case ON case_labels (case_id, lower(label))`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
