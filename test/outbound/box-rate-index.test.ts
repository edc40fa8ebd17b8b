// Issue 18: ingest at 100k cases was ~10% slower than on an empty database, and far worse with
// large outbox rows, because the box's auto-response rate (loop-breaker.ts) counted its window by
// reading every auto-response row the desk ever sent. Migration 020 gives that count its own
// index; this holds SQLite's plan for the statement to it (a plan, not a time).
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
});
