// The two charts of the HTML report (SPEC §6), drawn by Apache ECharts in Node and kept as inline
// SVG strings, so the report file needs no script, font or network to show them and prints as
// vectors. ECharts' server-side SVG mode builds the markup as a string (no DOM, no canvas), so
// axis scaling, tick choice and bar layout are the library's, not hand-written path arithmetic.
// Only the modules used are registered (echarts/core), which keeps loading it cheap.
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { AriaComponent, GridComponent, LegendComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import { reportColumns, rowName } from './columns.js';
import type { Report, ReportRow } from './types.js';

echarts.use([BarChart, LineChart, AriaComponent, GridComponent, LegendComponent, SVGRenderer]);

/** The drawing width in CSS pixels; the page scales the SVG (viewBox) down to its own width. */
const CHART_WIDTH = 720;

/** Above this many days, bars would be slivers: the per-day chart draws lines instead. */
const MAX_DAY_BARS = 62;

/** The closing categories, in the order the columns list them, with colours that stay apart. */
const CLOSING_CATEGORIES = [
  { key: 'closed_on_time_without_consulting', color: '#2e7d32' },
  { key: 'closed_on_time_with_consulting', color: '#1565c0' },
  { key: 'closed_late_with_consulting', color: '#ef6c00' },
  { key: 'closed_late_without_consulting', color: '#c62828' },
] as const;

const TEXT = { color: '#222', fontFamily: 'sans-serif', fontSize: 12 };

function toSvg(width: number, height: number, option: Record<string, unknown>): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    // animation off: the SVG must be the final picture, not the first frame of a CSS animation.
    chart.setOption({ animation: false, textStyle: TEXT, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** Cases received and closed on each day of the period; null when the period has no days. */
export function dailyChartSvg(report: Report): string | null {
  if (report.days.length === 0) return null;
  const type = report.days.length > MAX_DAY_BARS ? 'line' : 'bar';
  const line = type === 'line' ? { showSymbol: false } : {};
  return toSvg(CHART_WIDTH, 320, {
    legend: { top: 0, textStyle: TEXT },
    grid: { left: 48, right: 16, top: 36, bottom: 56 },
    xAxis: { type: 'category', data: report.days.map((d) => d.date), axisLabel: { hideOverlap: true, rotate: 30 } },
    yAxis: { type: 'value', minInterval: 1 },
    series: [
      { name: 'Received', type, ...line, data: report.days.map((d) => d.received), color: '#1565c0' },
      { name: 'Closed', type, ...line, data: report.days.map((d) => d.closed), color: '#2e7d32' },
    ],
  });
}

/** The rows other than the desk's total: one per consultant, or per pool. */
function groupRows(report: Report): ReportRow[] {
  return report.rows.filter((r) => ('consultant' in r ? r.consultant : r.pool) !== null);
}

/**
 * Each consultant's (or pool's) closed cases split into the four closing categories, as stacked
 * horizontal bars: one bar per name, so the chart grows downwards with the number of names and
 * long ids stay readable. Decal patterns tell the categories apart in black-and-white print too.
 * Null when there is no consultant or pool row.
 */
export function closingChartSvg(report: Report): string | null {
  const rows = groupRows(report);
  if (rows.length === 0) return null;
  const columns = reportColumns(report);
  // Top to bottom in the order of the rows (a category axis starts at the bottom).
  const ordered = [...rows].reverse();
  const series = CLOSING_CATEGORIES.map(({ key, color }) => {
    const column = columns.find((c) => c.key === key);
    if (!column) throw new Error(`report column ${key} is missing`);
    return { name: column.label, type: 'bar', stack: 'closed', color, barMaxWidth: 28, data: ordered.map((r) => column.value(r) ?? 0) };
  });
  return toSvg(CHART_WIDTH, 96 + 34 * rows.length, {
    aria: { enabled: true, decal: { show: true } },
    legend: { top: 0, textStyle: TEXT },
    grid: { left: 16, right: 24, top: 56, bottom: 32 },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: ordered.map(rowName) },
    series,
  });
}
