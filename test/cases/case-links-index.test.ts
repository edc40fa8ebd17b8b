// Issue 18: `next --json` and `show` list the cases that link to the case shown (linked_from) and
// those merged into it; without an index the first lookup read every case (about 100 ms at
// 100,000 cases, inside `next`'s write transaction, so concurrent takers queued on it). Migration
// 022 indexes linked_case_id; this holds SQLite's plan for both reverse lookups to an index (a
// plan, not a time). Migration 023 made the merged_into index partial: a new case writes no entry.
import { sql } from 'kysely';
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

  it('finds the cases merged into one through the partial index of merged cases (fails on a scan of every case)', () => {
    const steps = plan('merged_into');
    expect(steps[0]).toMatch(/^SEARCH cases USING INDEX cases_merged_into \(merged_into=\?\)/);
    expect(steps.some((s) => s.startsWith('SCAN cases'))).toBe(false);
  });

  it('writes no entry into it for a case not merged, and keeps no index on the address as written (fails if a new case pays for either)', async () => {
    const { rows: indexes } = await sql<{
      name: string;
      sql: string | null;
    }>`select name, sql from sqlite_master where type = 'index' and tbl_name = 'cases'`.execute(scratch.db());
    expect(indexes.find((i) => i.name === 'cases_merged_into')?.sql).toMatch(/WHERE merged_into IS NOT NULL$/);
    expect(indexes.map((i) => i.name)).not.toContain('cases_customer');
  });
});
