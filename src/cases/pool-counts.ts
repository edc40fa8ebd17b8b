// `mailwarden pools` (SPEC §6): how much work each pool holds right now. The counts come from one
// GROUP BY over `cases`, so the cost stays one query whatever the number of cases; the pools
// themselves come from the configuration, in its order, so a pool without a single case still
// shows (with zeros) and a pool removed from the configuration does not. A case merged into
// another is not counted: its messages and work live on in the case it was merged into.
import type { Expression, ExpressionBuilder, Kysely, SqlBool } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { overdueAt } from './overdue-sql.js';
import { CLOSING } from './status.js';

export interface PoolCounts {
  id: string;
  name: string;
  /** every case of the pool except those merged into another */
  total: number;
  /** not solved or closed */
  open: number;
  /** open and nobody has answered the customer yet */
  unanswered: number;
  /** as `cases --overdue`: own deadline passed while it runs, or a consultation past its deadline */
  overdue: number;
  under_consultation: number;
}

type Counted = Exclude<keyof PoolCounts, 'id' | 'name'>;

/** `sum(case when … then 1 else 0 end)`: how many rows of the group meet the condition. */
function countWhere(eb: ExpressionBuilder<DB, 'cases'>, condition: Expression<SqlBool>) {
  return eb.fn.sum<number | string>(eb.case().when(condition).then(1).else(0).end());
}

/** One row per configured pool, in configuration order. */
export async function poolCounts(db: Kysely<DB>, config: Config): Promise<PoolCounts[]> {
  const at = nowIso();
  const rows = await db
    .selectFrom('cases')
    .where('cases.merged_into', 'is', null)
    .groupBy('cases.pool_id')
    .select((eb) => {
      const open = eb('cases.status', 'not in', [...CLOSING]);
      return [
        'cases.pool_id',
        eb.fn.countAll<number | string>().as('total'),
        countWhere(eb, open).as('open'),
        countWhere(eb, eb.and([open, eb('cases.first_response_at', 'is', null)])).as('unanswered'),
        countWhere(eb, overdueAt(eb, at)).as('overdue'),
        countWhere(eb, eb('cases.status', '=', 'under_consultation')).as('under_consultation'),
      ];
    })
    .execute();
  // PostgreSQL returns count and sum as strings (bigint); SQLite as numbers.
  const byPool = new Map(rows.map((r) => [r.pool_id, r]));
  const num = (pool: string, key: Counted) => Number(byPool.get(pool)?.[key] ?? 0);
  return config.pools.map((p) => ({
    id: p.id,
    name: p.name,
    total: num(p.id, 'total'),
    open: num(p.id, 'open'),
    unanswered: num(p.id, 'unanswered'),
    overdue: num(p.id, 'overdue'),
    under_consultation: num(p.id, 'under_consultation'),
  }));
}
