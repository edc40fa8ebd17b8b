// `report --format html` (SPEC §6): one self-contained file a person opens or prints, with the
// heading, the figures as tables and two charts. Nothing in it is fetched when it is viewed: the
// CSS is inline, the charts are inline SVG drawn at build time (src/reports/charts.ts) and there
// is no script, so it reads the same offline, attached to a mail, or as a PDF. The table cells come
// from reportColumns/formatCell (src/reports/columns.ts) like the text table's, so both show the
// same numbers. Every text taken from the report or the caller is escaped here.
import { formatInZone } from '../time-format.js';
import { closingChartSvg, dailyChartSvg } from './charts.js';
import { formatCell, groupHeader, reportColumns, rowName, tableSections, type ReportColumn } from './columns.js';
import { REPORT_CSS } from './html-style.js';
import type { Report } from './types.js';

/** Text for HTML content and quoted attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function table(report: Report, title: string, columns: ReportColumn[]): string {
  const head = columns.map((c) => `<th scope="col" data-key="${escapeHtml(c.key)}">${escapeHtml(c.label)}</th>`).join('');
  const body = report.rows
    .map((row, i) => {
      const name = rowName(row);
      const cells = columns.map((c) => `<td data-key="${escapeHtml(c.key)}">${escapeHtml(formatCell(c.kind, c.value(row)))}</td>`).join('');
      const total = ('consultant' in row ? row.consultant : row.pool) === null;
      return `<tr data-row="${i}"${total ? ' class="total"' : ''}><th scope="row">${escapeHtml(name)}</th>${cells}</tr>`;
    })
    .join('\n');
  return [
    `<div class="table-wrap"><table>`,
    `<caption>${escapeHtml(title)}</caption>`,
    `<thead><tr><th scope="col">${escapeHtml(groupHeader(report))}</th>${head}</tr></thead>`,
    `<tbody>\n${body}\n</tbody></table></div>`,
  ].join('\n');
}

/**
 * A chart with its visible caption; the SVG itself is labelled too (role, aria-label and a
 * <title>), so a screen reader names it even without the caption.
 */
function figure(id: string, caption: string, svg: string | null, emptyText: string): string {
  if (svg === null) return `<section class="chart" id="${id}"><h2>${escapeHtml(caption)}</h2><p class="empty">${escapeHtml(emptyText)}</p></section>`;
  const label = escapeHtml(caption);
  const labelled = svg.replace(/^<svg /, `<svg role="img" aria-label="${label}" `).replace(/^(<svg [^>]*>)/, `$1<title>${label}</title>`);
  return `<figure class="chart" id="${id}"><figcaption><h2>${label}</h2></figcaption>\n${labelled}\n</figure>`;
}

function heading(report: Report, title: string): string {
  const p = report.period;
  const by = report.by === 'pool' ? 'pool' : 'consultant';
  const filters = Object.entries(report.filter)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${v}`);
  const generated = formatInZone(new Date(report.generated_at), p.timezone, true);
  return [
    `<header>`,
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="period">From <time datetime="${escapeHtml(p.from)}">${escapeHtml(p.from)}</time> to <time datetime="${escapeHtml(p.to)}">${escapeHtml(p.to)}</time> (${escapeHtml(p.timezone)}), by ${by}${filters.length > 0 ? `; only ${escapeHtml(filters.join(', '))}` : ''}</p>`,
    `<p class="generated">Generated at <time datetime="${escapeHtml(report.generated_at)}">${escapeHtml(generated)}</time></p>`,
    `</header>`,
  ].join('\n');
}

/** The whole report as one HTML document (UTF-8), ready to write to a file or mail. */
export function renderReportHtml(report: Report, opts: { title: string }): string {
  const who = report.by === 'pool' ? 'pool' : 'consultant';
  const tables = tableSections(reportColumns(report)).map((s) => table(report, s.title, s.columns));
  return [
    `<!DOCTYPE html>`,
    `<html lang="en">`,
    `<head>`,
    `<meta charset="utf-8">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${escapeHtml(opts.title)}</title>`,
    `<style>${REPORT_CSS}</style>`,
    `</head>`,
    `<body>`,
    heading(report, opts.title),
    `<main>`,
    figure('chart-days', 'Cases received and closed per day', dailyChartSvg(report), 'The period has no days.'),
    figure('chart-closing', `Closed cases per ${who}, by closing category`, closingChartSvg(report), `The report has no per-${who} rows.`),
    `<section class="tables"><h2>Figures</h2>`,
    ...tables,
    `</section>`,
    `</main>`,
    `</body>`,
    `</html>`,
    ``,
  ].join('\n');
}
