// `mailwarden report` (SPEC §6) on a week built at every edge of the definitions
// (test/reports/edges.ts): every figure of every row is asserted in JSON, the same numbers are
// read back from the CSV and from the HTML opened in headless Chromium (with its charts drawn
// inside the page and a screenshot written), and the report rows written as things happened
// are the ones the history gives when they are rebuilt from it (the migration's backfill).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseCsv } from 'csv-parse/sync';
import { sql } from 'kysely';
import { requireConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { ParserPool } from '../../src/ingest/parse';
import { backfillReportFacts } from '../../src/db/migrations/017-report-facts';
import { formatCell, reportColumns } from '../../src/reports/columns';
import type { Report, ReportMetrics } from '../../src/reports/types';
import { metrics } from './metrics';
import { cliJson, runCli } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { openInChromium } from '../support/chromium';
import { removeTempDir } from '../support/tmp';
import { openTestDb } from '../cases/fixtures';
import type { Opened } from '../../src/db/connection';
import { EDGE_CONFIG, PERIOD, buildEdgeWeek } from './edges';

// Worked out by hand from edges.ts (seconds; percentiles interpolate like PostgreSQL's percentile_cont).
const EXPECTED: Record<string, ReportMetrics> = {
  all: metrics({
    emails_received: 12, // A B C D E F G +G's feedback, H's feedback, I1 J K
    closed: 7, // A B C D F G K
    closed_on_time_without_consulting: 2, // A (exactly at the deadline), K (working hours)
    closed_on_time_with_consulting: 2, // C, F (withdrawn consultation)
    closed_late_with_consulting: 1, // D
    closed_late_without_consulting: 2, // B (one second late), G (reopened, solved next day)
    consultations_on_time: 1, // D (answered exactly at the deadline)
    consultations_late: 2, // C (one second late), E (never answered)
    feedback_after_closing: 2, // G, H
    feedback_after_closing_pct: 28.6,
    first_response: { count: 7, median_seconds: 25200, p90_seconds: 35640 },
    resolution: { count: 7, median_seconds: 28801, p90_seconds: 60480 },
    ratings: { count: 3, by_score: { good: 1, okay: 1, bad: 1 }, good_pct: 33.3 },
  }),
  sam: metrics({
    emails_received: 2,
    closed: 3,
    closed_on_time_with_consulting: 1,
    closed_late_with_consulting: 1,
    closed_late_without_consulting: 1,
    consultations_on_time: 1,
    consultations_late: 1,
    feedback_after_closing_pct: 0,
    first_response: { count: 2, median_seconds: 34200, p90_seconds: 41400 },
    resolution: { count: 3, median_seconds: 43200, p90_seconds: 77760 },
    ratings: { count: 1, by_score: { good: 0, okay: 1, bad: 0 }, good_pct: 0 },
  }),
  cody: metrics({
    emails_received: 9,
    closed: 4,
    closed_on_time_without_consulting: 2,
    closed_on_time_with_consulting: 1,
    closed_late_without_consulting: 1,
    consultations_late: 1,
    feedback_after_closing: 2,
    feedback_after_closing_pct: 50,
    first_response: { count: 5, median_seconds: 7200, p90_seconds: 29880 },
    resolution: { count: 4, median_seconds: 28801, p90_seconds: 30060 },
    ratings: { count: 2, by_score: { good: 1, okay: 0, bad: 1 }, good_pct: 50 },
  }),
  tina: metrics(),
};

describe('report', () => {
  let cfg: TestConfig;
  let config: Config;
  let opened: Opened;
  let parsers: ParserPool;
  let env: Record<string, string>;
  let cases: Record<string, string>;

  beforeAll(async () => {
    cfg = await writeTestConfig({ overrides: EDGE_CONFIG });
    config = requireConfig(cfg.configPath);
    opened = await openTestDb(cfg.dataDir);
    parsers = new ParserPool({ size: 1 });
    env = { MAILWARDEN_CONFIG: cfg.configPath };
    cases = await buildEdgeWeek({ config, opened, parsers });
  });
  afterAll(async () => {
    await parsers?.close();
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  const args = ['report', '--from', PERIOD.from, '--to', PERIOD.to];

  it('gives every figure, per consultant and for the desk, at every edge of the definitions', async () => {
    const report = await cliJson<Report>(args, { env });
    expect(report.period).toEqual({ ...PERIOD, timezone: 'Europe/Warsaw', start: '2026-10-04T22:00:00.000Z', end: '2026-10-09T22:00:00.000Z' });
    expect(report.rows.map((r) => ('consultant' in r ? r.consultant : undefined))).toEqual([null, 'sam', 'cody', 'tina']);
    const [all, sam, cody, tina] = report.rows;
    expect(all).toEqual({ consultant: null, ...EXPECTED.all });
    expect(sam).toEqual({ consultant: 'sam', ...EXPECTED.sam });
    expect(cody).toEqual({ consultant: 'cody', ...EXPECTED.cody });
    expect(tina).toEqual({ consultant: 'tina', ...EXPECTED.tina });
    // Cases received (by the case's first mail) and closed per local day.
    expect(report.days).toEqual([
      { date: '2026-10-05', received: 3, closed: 3 },
      { date: '2026-10-06', received: 3, closed: 2 },
      { date: '2026-10-07', received: 1, closed: 0 },
      { date: '2026-10-08', received: 0, closed: 1 },
      { date: '2026-10-09', received: 3, closed: 1 },
    ]);
  });

  it('groups by pool, and filters by pool or consultant with the same numbers', async () => {
    const byPool = await cliJson<Report>([...args, '--by', 'pool'], { env });
    expect(byPool.rows.map((r) => ('pool' in r ? r.pool : undefined))).toEqual([null, 'general', 'cards']);
    expect(byPool.rows[0]).toEqual({ pool: null, ...EXPECTED.all });
    const cards = byPool.rows[2]!;
    expect(cards).toMatchObject({ emails_received: 1, closed: 1, closed_on_time_without_consulting: 1, resolution: { count: 1, median_seconds: 30600 } });
    expect(byPool.rows[1]).toMatchObject({ emails_received: 11, closed: 6, consultations_late: 2, feedback_after_closing: 2 });

    const onlyCards = await cliJson<Report>([...args, '--pool', 'cards'], { env });
    expect(onlyCards.rows[0]).toMatchObject({ consultant: null, emails_received: 1, closed: 1, consultations_late: 0 });
    expect(onlyCards.rows.find((r) => 'consultant' in r && r.consultant === 'cody')).toMatchObject({
      closed: 1,
      first_response: { count: 1, median_seconds: 30600 },
    });

    const onlyCody = await cliJson<Report>([...args, '--consultant', 'cody'], { env });
    expect(onlyCody.rows).toEqual([{ consultant: 'cody', ...EXPECTED.cody }]);
    expect(onlyCody.days.reduce((n, d) => n + d.closed, 0)).toBe(4);
  });

  it('writes the same numbers as CSV (RFC 4180) and as a terminal table', async () => {
    const report = await cliJson<Report>(args, { env });
    const csv = await runCli([...args, '--format', 'csv'], { env });
    expect(csv.code).toBe(0);
    expect(csv.stdout).toContain('\r\n');
    const [header, ...rows] = parseCsv<string[]>(csv.stdout);
    const columns = reportColumns(report);
    expect(header).toEqual(['consultant', ...columns.map((c) => c.key)]);
    expect(rows.map((r) => r[0])).toEqual(['all', 'sam', 'cody', 'tina']);
    rows.forEach((cells, i) => {
      columns.forEach((c, j) => {
        const value = c.value(report.rows[i]!);
        expect(cells[j + 1], `${cells[0]} ${c.key}`).toBe(value === null ? '' : String(value));
      });
    });
    expect(rows[0]!.slice(1, 3)).toEqual(['12', '7']);

    const table = await runCli(args, { env });
    expect(table.code).toBe(0);
    const codyLine = table.stdout.split('\n').find((l) => l.startsWith('cody') && l.includes('8:00:01'));
    expect(codyLine, table.stdout).toBeDefined(); // resolution median 28801 s
    expect(table.stdout).toMatch(/^all\s+12\s+7\s+2\s+2\s+1\s+2$/m);
  });

  it('writes one self-contained HTML file whose tables and charts Chromium shows inside the page', async () => {
    const report = await cliJson<Report>(args, { env });
    const file = path.join(cfg.dir, 'week.html');
    const r = await runCli([...args, '--format', 'html', '--output', file], { env });
    expect(r.code, r.stderr).toBe(0);
    const { page, requests } = await openInChromium(file, { width: 1000, height: 1200 });
    const columns = reportColumns(report);
    for (const [i, row] of report.rows.entries()) {
      for (const c of columns) {
        const cell = await page.locator(`tr[data-row="${i}"] td[data-key="${c.key}"]`).first().textContent();
        expect(cell, `row ${i} ${c.key}`).toBe(formatCell(c.kind, c.value(row)));
      }
    }
    const charts = await page.locator('svg').evaluateAll((svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        return {
          drawn: svg.querySelectorAll('path, rect, text').length,
          width: box.width,
          height: box.height,
          right: box.right,
          page: document.documentElement.clientWidth,
        };
      }),
    );
    expect(charts).toHaveLength(2);
    for (const chart of charts) {
      expect(chart.drawn).toBeGreaterThan(5);
      expect(chart.width).toBeGreaterThan(100);
      expect(chart.height).toBeGreaterThan(50);
      expect(chart.right).toBeLessThanOrEqual(chart.page);
    }
    const shot = path.join(cfg.dir, 'week.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
    expect(requests).toEqual([]);
    await page.context().close();
    // Written once: a second run refuses to overwrite it.
    const again = await runCli([...args, '--format', 'html', '--output', file], { env });
    expect(again.code).toBe(64);
    expect(again.stderr).toMatch(/exists already/);
  });

  it('keeps report rows equal to what the history gives when they are rebuilt from it', async () => {
    const tables = ['report_received', 'report_closings', 'report_first_responses'] as const;
    const snapshot = async () => {
      const out: Record<string, unknown[]> = {};
      for (const t of tables) {
        const rows = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(t)} ORDER BY case_id, at`.execute(opened.db);
        out[t] = rows.rows.map(({ id: _id, ...rest }) => rest);
      }
      return out;
    };
    const live = await snapshot();
    expect(live.report_closings!.length).toBe(10); // H, A, B, C, D, F, G twice, K, J
    for (const t of tables) await sql`DELETE FROM ${sql.table(t)}`.execute(opened.db);
    await backfillReportFacts(opened.db);
    expect(await snapshot()).toEqual(live);
    expect(cases.G).toBeDefined();
  });

  it('refuses bad options with one sentence', async () => {
    const bad: Array<[string[], RegExp, string]> = [
      [['report', '--from', '2026-10-32', '--to', PERIOD.to], /--from wants a date as YYYY-MM-DD/, 'EBADDATE'],
      [['report', '--from', PERIOD.to, '--to', PERIOD.from], /ends \(2026-10-05\) before it begins/, 'EBADPERIOD'],
      [[...args, '--format', 'pdf'], /--format wants table, csv, json, html/, 'EBADFORMAT'],
      [[...args, '--by', 'team'], /--by wants consultant or pool/, 'EBADGROUPING'],
      [[...args, '--consultant', 'zoe'], /There is no consultant "zoe"/, 'EUNKNOWNCONSULTANT'],
      [[...args, '--pool', 'loans'], /There is no pool "loans"/, 'EUNKNOWNPOOL'],
    ];
    for (const [argv, message, code] of bad) {
      const r = await runCli(argv, { env });
      expect(r.code, argv.join(' ')).toBe(64);
      expect(r.stderr.trim().split('\n'), argv.join(' ')).toHaveLength(1);
      expect(r.stderr, argv.join(' ')).toMatch(message);
      const j = await runCli([...argv, '--json'], { env });
      expect(JSON.parse(j.stderr).error.code, argv.join(' ')).toBe(code);
    }
    // A missing option is commander's refusal, the same for every command.
    const missing = await runCli(['report', '--from', PERIOD.from], { env });
    expect(missing.code).toBe(64);
    expect(missing.stderr).toMatch(/required option '--to <date>'/);
  });
});
