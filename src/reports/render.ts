// A report in each format of SPEC §6: `table` for a terminal, `csv` (RFC 4180, by csv-stringify),
// `json` (the Report itself, §7) and `html` (src/reports/html.ts). Table and CSV take their
// columns from src/reports/columns.ts, like the HTML, so one figure is one number everywhere:
// the CSV holds the raw values (whole seconds, percentages with one decimal), the table the same
// values written for a person. The HTML module (and its charting library) is loaded only when an
// HTML report is asked for, so other commands start as fast as before.
import { stringify } from 'csv-stringify/sync';
import { formatCell, groupHeader, reportColumns, rowName, tableSections } from './columns.js';
import type { Report, ReportFormat } from './types.js';

export async function renderReport(report: Report, format: ReportFormat, opts: { title: string }): Promise<string> {
  if (format === 'json') return JSON.stringify(report, null, 2) + '\n';
  if (format === 'csv') return renderReportCsv(report);
  if (format === 'html') {
    const { renderReportHtml } = await import('./html.js');
    return renderReportHtml(report, opts);
  }
  return renderReportTable(report, opts);
}

/** One header row of column keys, then one row per report row; an empty cell where there is no value. */
function renderReportCsv(report: Report): string {
  const columns = reportColumns(report);
  const header = [groupHeader(report), ...columns.map((c) => c.key)];
  const rows = report.rows.map((row) => [rowName(row), ...columns.map((c) => c.value(row) ?? '')]);
  return stringify([header, ...rows], { record_delimiter: 'windows' });
}

/** The report for a terminal: a heading, then one aligned table per topic. */
function renderReportTable(report: Report, opts: { title: string }): string {
  const p = report.period;
  const filters = Object.entries(report.filter).map(([k, v]) => `${k} ${v}`);
  const lines = [`${opts.title}: ${p.from} to ${p.to} (${p.timezone}), by ${report.by}${filters.length ? `; only ${filters.join(', ')}` : ''}`];
  for (const section of tableSections(reportColumns(report))) {
    const header = [groupHeader(report), ...section.columns.map((c) => c.label)];
    const body = report.rows.map((row) => [rowName(row), ...section.columns.map((c) => formatCell(c.kind, c.value(row)))]);
    lines.push('', section.title, ...aligned([header, ...body]));
  }
  return lines.join('\n') + '\n';
}

/** Columns padded to their widest cell: the name column left-aligned, the figures right-aligned. */
function aligned(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
}
