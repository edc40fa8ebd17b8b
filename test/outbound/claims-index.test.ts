// Issue 18: a drainer took its next row with one query that OR-ed the due rules, which SQLite
// answers by reading every due row and sorting them: a backlog of 20,000 queued rows (the SMTP
// server was away) cost 3.9 ms a claim, n² for the whole backlog. claims.ts now reads the first
// due row of each rule from the (state, next_attempt_at) index; this holds each read to it, by
// its plan, never by a time.
import { describe, expect, it } from 'vitest';
import { DUE_RULES, firstDueQuery } from '../../src/outbound/claims';
import { planDatabase } from '../support/query-plan';

describe('the outbox claim on SQLite', () => {
  const scratch = planDatabase('mw-claim-plan-');

  it.each(DUE_RULES.map((rule) => [rule.state, rule]))(
    'finds the first due %s row through the outbox_due index, already in order (fails on a scan or a sort of the due rows)',
    (_state, rule) => {
      const plan = scratch.plan(firstDueQuery(scratch.db(), rule, '2026-12-01T00:00:00.000Z'));
      expect(plan).toHaveLength(1);
      expect(plan[0]).toMatch(/^SEARCH outbox USING (COVERING )?INDEX outbox_due \(state=\?/);
    },
  );
});
