// Reports (SPEC §6) over a year of a busy desk must answer in well under two seconds, and SQLite
// cannot join a million history rows to their cases that fast. So the three moments the figures
// are made of are written, when they happen, as narrow rows beside the history (src/db/report-rows.ts):
// `report_received`, one per customer's mail (for whom it came); `report_closings`, one per
// closing (who closed, on time or not, consulted or not, how long it took); and
// `report_first_responses`, one per case. Here they are filled once from the history an
// existing installation already has. Indexes lead with the column a report groups by, so a
// report reads them in order and never sorts.
import { sql, type Kysely } from 'kysely';
import { millisBetween } from '../report-sql.js';

const CLOSING_FIGURES = ['on_time', 'consulted', 'resolution_ms', 'next_closing_at'];
const RESPONSE_FIGURES = ['response_ms'];

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('report_closings')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('case_id', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('consultant', 'text')
    .addColumn('pool_id', 'text', (c) => c.notNull())
    .addColumn('on_time', 'integer', (c) => c.notNull())
    .addColumn('consulted', 'integer', (c) => c.notNull())
    .addColumn('resolution_ms', 'integer', (c) => c.notNull())
    .addColumn('next_closing_at', 'text')
    .execute();
  await db.schema
    .createTable('report_received')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('case_id', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('consultant', 'text')
    .addColumn('pool_id', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('report_first_responses')
    .addColumn('case_id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('consultant', 'text')
    .addColumn('pool_id', 'text', (c) => c.notNull())
    .addColumn('response_ms', 'integer', (c) => c.notNull())
    .execute();
  await createIndexes(db, 'report_closings', 'report_closings', CLOSING_FIGURES);
  await db.schema.createIndex('report_closings_case').on('report_closings').columns(['case_id', 'id']).execute();
  await createIndexes(db, 'report_first_responses', 'report_responses', RESPONSE_FIGURES);
  await createIndexes(db, 'report_received', 'report_received', []);
  // Filling in who took a case up reads only the rows still waiting for someone.
  await sql`CREATE INDEX report_received_waiting ON report_received (case_id) WHERE consultant IS NULL`.execute(db);
  // The other figures read the history's own tables by time.
  await sql`CREATE INDEX messages_feedback_at ON messages (at, case_id) WHERE is_feedback = 1`.execute(db);
  const judged = ['answered_at', 'state', 'withdrawn_at', 'case_id'];
  await db.schema
    .createIndex('consultations_deadline')
    .on('consultations')
    .columns(['deadline_at', 'consultant', ...judged])
    .execute();
  await db.schema
    .createIndex('consultations_report')
    .on('consultations')
    .columns(['consultant', 'deadline_at', ...judged])
    .execute();
  await db.schema.createIndex('ratings_at').on('ratings').columns(['at', 'score', 'case_id']).execute();
  await db.schema.createIndex('ratings_report').on('ratings').columns(['consultant', 'at', 'score']).execute();
  await db.schema.createIndex('cases_received').on('cases').columns(['received_at', 'pool_id', 'assignee']).execute();
  await backfillReportFacts(db);
}

/** Three covering indexes: by time (the total, the days), by consultant, by pool. */
async function createIndexes(db: Kysely<unknown>, table: string, prefix: string, figures: string[]): Promise<void> {
  await db.schema
    .createIndex(`${prefix}_at`)
    .on(table)
    .columns(['at', 'pool_id', 'consultant', ...figures])
    .execute();
  await db.schema
    .createIndex(`${prefix}_consultant`)
    .on(table)
    .columns(['consultant', 'at', 'pool_id', ...figures])
    .execute();
  await db.schema
    .createIndex(`${prefix}_pool`)
    .on(table)
    .columns(['pool_id', 'at', 'consultant', ...figures])
    .execute();
}

/**
 * Fills the report rows from the history (an installation from before this migration, and the
 * benchmark's generated history). A closing is a `closed_at` history row setting a time; the one
 * that closed a case because it was merged into another is not a resolution and is left out.
 */
export async function backfillReportFacts(db: Kysely<unknown>): Promise<void> {
  // Who held the case when the mail came (the last assignment before it), or else who took it up next.
  await sql`
    INSERT INTO report_received (case_id, at, pool_id, consultant)
    SELECT m.case_id, m.at, c.pool_id,
      COALESCE(
        (SELECT a.to_value FROM case_events a WHERE a.case_id = m.case_id AND a.field = 'assignee' AND a.at <= m.at ORDER BY a.id DESC LIMIT 1),
        (SELECT a.to_value FROM case_events a WHERE a.case_id = m.case_id AND a.field = 'assignee' AND a.at > m.at AND a.to_value IS NOT NULL ORDER BY a.id LIMIT 1))
    FROM messages m JOIN cases c ON c.id = m.case_id
    WHERE m.kind = 'inbound' AND m.is_auto_reply = 0
    ORDER BY m.id`.execute(db);
  await sql`
    INSERT INTO report_closings (case_id, at, consultant, pool_id, on_time, consulted, resolution_ms, next_closing_at)
    SELECT e.case_id, e.at, NULLIF(e.actor, 'system'), c.pool_id,
      CASE WHEN e.at <= c.deadline_at THEN 1 ELSE 0 END,
      CASE WHEN EXISTS (SELECT 1 FROM consultations q WHERE q.case_id = e.case_id AND q.sent_at <= e.at) THEN 1 ELSE 0 END,
      ${millisBetween(db, 'c.received_at', 'e.at')},
      LEAD(e.at) OVER (PARTITION BY e.case_id ORDER BY e.id)
    FROM case_events e JOIN cases c ON c.id = e.case_id
    WHERE e.field = 'closed_at' AND e.to_value IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM case_events m WHERE m.case_id = e.case_id AND m.field = 'merged_into' AND m.at = e.at)
    ORDER BY e.id`.execute(db);
  await sql`
    INSERT INTO report_first_responses (case_id, at, consultant, pool_id, response_ms)
    SELECT e.case_id, e.at, NULLIF(e.actor, 'system'), c.pool_id,
      ${millisBetween(db, 'c.received_at', 'e.at')}
    FROM case_events e JOIN cases c ON c.id = e.case_id
    WHERE e.field = 'first_response_at' AND e.to_value IS NOT NULL
      AND e.id = (SELECT MIN(f.id) FROM case_events f WHERE f.case_id = e.case_id AND f.field = 'first_response_at' AND f.to_value IS NOT NULL)`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('mailwarden migrations are forward-only; restore a backup of the data dir to go back');
}
