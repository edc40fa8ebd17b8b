// The HTML report (SPEC §6): one self-contained file with the tables and two charts, readable on
// screen and printed. The report object is built by hand here (buildReport's own tests cover the
// figures); this file checks what a browser makes of the HTML: headless Chromium with every
// network request blocked and recorded, charts drawn inside the page's width on screen and in
// print, cells equal to formatCell of the values, and ids shown literally, never as markup.
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCell, reportColumns, rowName, tableSections } from '../../src/reports/columns';
import { metrics } from './metrics';
import { renderReportHtml } from '../../src/reports/html';
import type { Report, ReportRow } from '../../src/reports/types';
import { openInChromium } from '../support/chromium';
import { makeTempDir, removeTempDir } from '../support/tmp';

const NASTY_ID = 'eve<b>&co';
const TITLE = 'Desk report <i>November</i> & more';

function sampleReport(): Report {
  const rows: ReportRow[] = [
    {
      consultant: null,
      ...metrics({
        emails_received: 40,
        closed: 12,
        closed_on_time_without_consulting: 6,
        closed_on_time_with_consulting: 3,
        closed_late_with_consulting: 2,
        closed_late_without_consulting: 1,
        consultations_on_time: 4,
        consultations_late: 2,
        feedback_after_closing: 3,
        feedback_after_closing_pct: 25,
        first_response: { count: 11, median_seconds: 3725, p90_seconds: 95405 },
        resolution: { count: 12, median_seconds: 86400, p90_seconds: 300000.4 },
        ratings: { count: 6, by_score: { good: 4, okay: 1, bad: 1 }, good_pct: 66.66666 },
      }),
    },
    {
      consultant: 'alice',
      ...metrics({
        closed: 7,
        closed_on_time_without_consulting: 4,
        closed_on_time_with_consulting: 2,
        closed_late_with_consulting: 1,
        consultations_on_time: 3,
        consultations_late: 1,
        feedback_after_closing: 1,
        feedback_after_closing_pct: 14.3,
        first_response: { count: 7, median_seconds: 1800, p90_seconds: 7260 },
        resolution: { count: 7, median_seconds: 50000, p90_seconds: 120000 },
        ratings: { count: 4, by_score: { good: 3, okay: 1, bad: 0 }, good_pct: 75 },
      }),
    },
    {
      consultant: 'bob',
      ...metrics({
        closed: 4,
        closed_on_time_without_consulting: 2,
        closed_on_time_with_consulting: 1,
        closed_late_with_consulting: 1,
        consultations_on_time: 1,
        consultations_late: 1,
        feedback_after_closing: 2,
        feedback_after_closing_pct: 50,
        first_response: { count: 4, median_seconds: 600, p90_seconds: 95405 },
        resolution: { count: 4, median_seconds: 90000, p90_seconds: 300000.4 },
        ratings: { count: 2, by_score: { good: 1, okay: 0, bad: 1 }, good_pct: 50 },
      }),
    },
    // closed one case late and nothing else: no durations, no ratings (the '–' cells)
    { consultant: NASTY_ID, ...metrics({ closed: 1, closed_late_without_consulting: 1, feedback_after_closing_pct: 0 }) },
  ];
  const days = ['2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05', '2026-11-06', '2026-11-07', '2026-11-08'].map((date, i) => ({
    date,
    received: [9, 7, 6, 8, 5, 3, 2][i]!,
    closed: [1, 2, 3, 2, 2, 1, 1][i]!,
  }));
  return {
    period: { from: '2026-11-02', to: '2026-11-08', timezone: 'Europe/Warsaw', start: '2026-11-01T23:00:00.000Z', end: '2026-11-08T23:00:00.000Z' },
    by: 'consultant',
    filter: {},
    generated_at: '2026-11-09T06:00:00.000Z',
    rows,
    days,
  };
}

describe('report HTML, as text', () => {
  it('loads nothing from the network: no script, no link, no http(s) in src, href, @import or url()', () => {
    const html = renderReportHtml(sampleReport(), { title: TITLE });
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/<(img|iframe|object|embed|video|audio|source)\b/i);
    expect(html).not.toMatch(/\b(src|href|xlink:href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/@import/i);
    expect(html).not.toMatch(/url\(\s*["']?\s*(https?:)?\/\//i);
    // What http:// remains is the SVG namespace declarations, which load nothing.
    const others = [...html.matchAll(/https?:\/\/[^"'\s)]*/g)].map((m) => m[0]).filter((u) => !/^http:\/\/www\.w3\.org\/(2000\/svg|1999\/xlink)$/.test(u));
    expect(others).toEqual([]);
    // and the charts were drawn at build time: two inline SVGs with paths in them
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).not.toMatch(/<b>/);
  });

  it('puts every column into exactly one table, in the columns\u2019 order', () => {
    const columns = reportColumns(sampleReport());
    const sections = tableSections(columns);
    expect(sections.flatMap((s) => s.columns.map((c) => c.key))).toEqual(columns.map((c) => c.key));
    expect(sections.map((s) => s.columns.length)).toEqual([6, 4, 5, 5]);
  });

  it('draws a long period per day as two lines instead of slivers of bars', () => {
    const days = Array.from({ length: 90 }, (_, i) => ({
      date: `2026-${String(9 + Math.floor(i / 30)).padStart(2, '0')}-${String((i % 30) + 1).padStart(2, '0')}`,
      received: i % 7,
      closed: i % 5,
    }));
    const html = renderReportHtml({ ...sampleReport(), days }, { title: 'Quarter' });
    const daily = /<figure class="chart" id="chart-days">[\s\S]*?<\/figure>/.exec(html)![0];
    // two lines (a path each, no point symbols) instead of 180 bars, and the legend still names both series
    expect(daily.match(/ecmeta_ssr_type="chart"/g)?.length ?? 0).toBeLessThan(10);
    expect(daily).toContain('>Received</text>');
    expect(daily).toContain('>Closed</text>');
  });

  it('groups by pool: the pool column, the per-pool chart and the filter in the heading', () => {
    const rows: ReportRow[] = [
      { pool: null, ...metrics({ closed: 3, closed_on_time_without_consulting: 3 }) },
      { pool: 'cards', ...metrics({ closed: 2, closed_on_time_without_consulting: 2 }) },
      { pool: 'loans', ...metrics({ closed: 1, closed_on_time_without_consulting: 1 }) },
    ];
    const html = renderReportHtml({ ...sampleReport(), by: 'pool', filter: { pool: 'cards' }, rows }, { title: 'Pools' });
    expect(html).toContain('<th scope="col">pool</th>');
    expect(html).toContain('Closed cases per pool, by closing category');
    expect(html).toContain(', by pool; only pool cards</p>');
    const closing = /<figure class="chart" id="chart-closing">[\s\S]*?<\/figure>/.exec(html)![0];
    expect(closing).toContain('>cards</text>');
    expect(closing).toContain('>loans</text>');
    expect(closing).not.toContain('>all</text>');
  });

  it('says so instead of drawing an empty chart when there are no days or no per-pool rows', () => {
    const report: Report = { ...sampleReport(), by: 'pool', rows: [{ pool: null, ...metrics({}) }], days: [] };
    const html = renderReportHtml(report, { title: 'Empty' });
    expect(html).not.toContain('<svg');
    expect(html).toContain('The period has no days.');
    expect(html).toContain('The report has no per-pool rows.');
    expect(html).toContain('<th scope="col">pool</th>');
  });
});

describe('report HTML in headless Chromium', () => {
  let dir: string;
  let file: string;
  const report = sampleReport();

  beforeAll(async () => {
    dir = await makeTempDir('mailwarden-report-html-');
    file = path.join(dir, 'report.html');
    await fs.writeFile(file, renderReportHtml(report, { title: TITLE }));
  });
  afterAll(async () => {
    if (dir) await removeTempDir(dir);
  });

  it('the recorder sees (and blocks) a request when a page makes one', async () => {
    // Without this, "no request was made" below could just mean nothing was recorded.
    const probe = path.join(dir, 'probe.html');
    await fs.writeFile(probe, '<!DOCTYPE html><html><body><img src="http://203.0.113.9/x.png" alt=""></body></html>');
    const { page, requests } = await openInChromium(probe);
    expect(requests).toEqual(['http://203.0.113.9/x.png']);
    await page.context().close();
  });

  it('shows the heading, the charts inside the page on screen and in print, exact cells, literal ids, and makes no request', async () => {
    const { page, requests } = await openInChromium(file, { width: 800, height: 1000 });
    try {
      // heading: title and texts literal, period with timezone, generation time in that zone
      expect(await page.title()).toBe(TITLE);
      expect(await page.locator('h1').textContent()).toBe(TITLE);
      expect(await page.locator('header .period').textContent()).toBe('From 2026-11-02 to 2026-11-08 (Europe/Warsaw), by consultant');
      expect(await page.locator('header .generated').textContent()).toBe('Generated at 2026-11-09 07:00 CET');

      // charts: labelled SVGs with drawn elements, inside the page's width
      const charts = async () =>
        page.$$eval('figure.chart', (figs) =>
          figs.map((f) => {
            const svg = f.querySelector('svg')!;
            const box = svg.getBoundingClientRect();
            return {
              id: f.id,
              label: svg.getAttribute('aria-label'),
              role: svg.getAttribute('role'),
              title: svg.querySelector('title')?.textContent,
              paths: svg.querySelectorAll('path').length,
              texts: [...svg.querySelectorAll('text')].map((t) => t.textContent),
              left: box.left,
              right: box.right,
              width: box.width,
              height: box.height,
              pageWidth: document.documentElement.clientWidth,
              textFill: getComputedStyle(svg.querySelector('text')!).fill,
            };
          }),
        );
      const screen = await charts();
      expect(screen.map((c) => c.id)).toEqual(['chart-days', 'chart-closing']);
      for (const c of screen) {
        expect(c.role).toBe('img');
        expect(c.label).toBe(c.title);
        expect(c.label).toMatch(/^(Cases received and closed per day|Closed cases per consultant, by closing category)$/);
        expect(c.paths).toBeGreaterThan(10);
        expect(c.texts.length).toBeGreaterThan(5);
        expect(c.width).toBeGreaterThan(300);
        expect(c.height).toBeGreaterThan(100);
        expect(c.left).toBeGreaterThanOrEqual(0);
        expect(c.right).toBeLessThanOrEqual(c.pageWidth);
      }
      // the day chart names its series; the closing chart has one bar label per consultant, ids literal
      expect(screen[0]!.texts).toEqual(expect.arrayContaining(['Received', 'Closed']));
      expect(screen[1]!.texts).toEqual(expect.arrayContaining(['alice', 'bob', NASTY_ID, 'On time, not consulted', 'Late, not consulted']));
      expect(screen[1]!.texts).not.toContain('all');

      // tables: every cell is formatCell of its value, the row header is the row's name
      const columns = reportColumns(report);
      const shown = await page.$$eval('section.tables tbody tr', (trs) =>
        trs.map((tr) => ({
          row: tr.getAttribute('data-row'),
          name: tr.querySelector('th')!.textContent,
          cells: [...tr.querySelectorAll('td')].map((td) => [td.getAttribute('data-key'), td.textContent] as const),
        })),
      );
      const expected = report.rows.map((row, i) => ({
        row: String(i),
        name: rowName(row),
        cells: new Map(columns.map((c) => [c.key, formatCell(c.kind, c.value(row))])),
      }));
      const merged = expected.map((e) => ({
        name: e.name,
        cells: new Map(shown.filter((s) => s.row === e.row).flatMap((s) => s.cells.map(([k, v]) => [k!, v] as const))),
      }));
      expect(merged.map((m) => m.name)).toEqual(['all', 'alice', 'bob', NASTY_ID]);
      expect(merged.map((m) => m.cells)).toEqual(expected.map((e) => e.cells));
      // a few read cell by cell: a duration, a percentage, a rating count and the '–' for no value
      const cell = (row: number, key: string) => page.locator(`tr[data-row="${row}"] td[data-key="${key}"]`).textContent();
      expect(await cell(0, 'first_response_p90_seconds')).toBe('26:30:05');
      expect(await cell(0, 'resolution_p90_seconds')).toBe('83:20:00');
      expect(await cell(0, 'ratings_good_pct')).toBe('66.7');
      expect(await cell(1, 'feedback_after_closing_pct')).toBe('14.3');
      expect(await cell(2, 'ratings_bad')).toBe('1');
      expect(await cell(3, 'first_response_median_seconds')).toBe('–');
      expect(await cell(3, 'ratings_good_pct')).toBe('–');
      expect(await cell(3, 'feedback_after_closing_pct')).toBe('0.0');
      expect(await page.locator('th[data-key="first_response_median_seconds"]').first().textContent()).toBe('First response median');
      // escaping: the id is text, not markup
      expect(await page.locator('tr[data-row="3"] th').first().textContent()).toBe(NASTY_ID);
      expect(await page.locator('b, i').count()).toBe(0);

      // print: black text on white, charts within the printable width of an A4 page (~703 px)
      await page.emulateMedia({ media: 'print' });
      await page.setViewportSize({ width: 703, height: 1000 });
      const printed = await charts();
      for (const c of printed) {
        expect(c.width).toBeGreaterThan(300);
        expect(c.left).toBeGreaterThanOrEqual(0);
        expect(c.right).toBeLessThanOrEqual(c.pageWidth);
        expect(c.pageWidth).toBeLessThanOrEqual(703);
        expect(c.textFill).toBe('rgb(0, 0, 0)');
      }
      const colors = await page.evaluate(() => ({ color: getComputedStyle(document.body).color, background: getComputedStyle(document.body).backgroundColor }));
      expect(colors).toEqual({ color: 'rgb(0, 0, 0)', background: 'rgb(255, 255, 255)' });
      const breaks = await page.$$eval('table, figure.chart', (els) => els.map((e) => getComputedStyle(e).breakInside));
      expect(new Set(breaks)).toEqual(new Set(['avoid']));
      // and Chromium prints it: an A4 PDF of a few pages (tables and charts not split)
      const pdf = await page.pdf({ format: 'A4', path: path.join(dir, 'report.pdf') });
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      const pages = pdf.toString('latin1').match(/\/Type\s*\/Page\b/g)?.length ?? 0;
      expect(pages).toBeGreaterThanOrEqual(1);
      expect(pages).toBeLessThanOrEqual(4); // 2 here: a stray page break per table would give more

      // a screenshot of the whole page, for a person to look at
      await page.emulateMedia({ media: 'screen' });
      const shot = path.join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      const png = await fs.readFile(shot);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(png.length).toBeGreaterThan(20_000);

      expect(requests).toEqual([]);
    } finally {
      await page.context().close();
    }
  });
});
