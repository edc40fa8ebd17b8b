// Issue 18: `next --json` and `show` list the cases that link to the case shown (linked_from) and
// those merged into it; without an index the first lookup read every case (about 100 ms at
// 100,000 cases, inside `next`'s write transaction, so concurrent takers queued on it). Migration
// 022 indexes linked_case_id; this holds SQLite's plan for both reverse lookups to an index (a
// plan, not a time).
import { describe, expect, it } from 'vitest';
import { planDatabase } from '../support/query-plan';

describe('the case view’s reverse links on SQLite', () => {
  const scratch = planDatabase('mw-case-links-');
  // The statements caseLinks (src/cases/case-links.ts) sends, as kysely compiles them.
  const plan = (column: 'linked_case_id' | 'merged_into') =>
    scratch.plan(scratch.db().selectFrom('cases').select(['id', 'status', 'subject']).where(column, '=', 'ACME-000001').orderBy('id'));

  it('finds the cases linking to one through an index (fails on a scan of every case)', () => {
    const steps = plan('linked_case_id');
    expect(steps[0]).toMatch(/^SEARCH cases USING INDEX cases_linked_from \(linked_case_id=\?\)/);
    expect(steps.some((s) => s.startsWith('SCAN cases'))).toBe(false);
  });

  it('finds the cases merged into one through an index (fails on a scan of every case)', () => {
    expect(plan('merged_into').some((s) => s.startsWith('SCAN cases'))).toBe(false);
  });
});
