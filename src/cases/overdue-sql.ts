// What "overdue" means, as SQL: written once so the listing (`cases --overdue`) and the per-pool
// counts (`pools`) can never disagree. It mirrors the case view's JS reading (src/cases/view.ts):
// the case's own response deadline passed while it still runs, or a department it waits for is
// past the consultation's deadline (SPEC §5C).
import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { DB } from '../db/schema.js';
import { DEADLINE_RUNNING } from './view.js';

/** True for a row of `cases` that is overdue at the instant `at` (an ISO timestamp, as stored). */
export function overdueAt(eb: ExpressionBuilder<DB, 'cases'>, at: string): Expression<SqlBool> {
  return eb.or([
    eb.and([eb('cases.status', 'in', [...DEADLINE_RUNNING]), eb('cases.deadline_at', '<', at)]),
    eb.exists(
      eb
        .selectFrom('consultations')
        .select('consultations.id')
        .whereRef('consultations.case_id', '=', 'cases.id')
        .where('consultations.state', '=', 'open')
        .where('consultations.deadline_at', '<', at),
    ),
  ]);
}
