// Issue 18: ingest at 100k cases was ~10% slower than on an empty database, and far worse with
// large outbox rows, because the box's auto-response rate (loop-breaker.ts) counted its window by
// reading every auto-response row the desk ever sent. Migration 020 gives that count its own
// index, and box-rate-bound.ts reads it only near the cap; this holds SQLite's plans for the
// count and for the read by id that spares it (plans, not times).
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { planDatabase } from '../support/query-plan';

describe('the box auto-response rate on SQLite', () => {
  const scratch = planDatabase('mw-box-rate-');

  it('counts only the window, through the (kind, from_address, created_at) index (fails on a scan of every auto-response)', () => {
    // The statement boxAutoResponsesSince sends, as kysely compiles it.
    const query = scratch
      .db()
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', 'auto_response')
      .where('from_address', '=', 'desk@example.test')
      .where('created_at', '>', '2026-01-01T00:00:00.000Z');
    expect(scratch.plan(query)).toEqual(['SEARCH outbox USING COVERING INDEX outbox_box_rate (kind=? AND from_address=? AND created_at>?)']);
  });

  it('carries a count forward by reading only the rows after the last one it saw, by id (fails on a scan of the outbox)', () => {
    // The statement box-rate-bound.ts's rowsFrom sends, as kysely compiles it.
    const query = scratch
      .db()
      .selectFrom('outbox')
      .select(['id', 'message_id', 'kind', 'from_address'])
      .where('id', '>=', 41)
      .orderBy('id')
      .limit(sql.lit(501));
    expect(scratch.plan(query)).toEqual(['SEARCH outbox USING INTEGER PRIMARY KEY (rowid>?)']);
  });
});
