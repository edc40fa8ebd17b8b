// The HTML report's stylesheet, inline in the file (no request when it is viewed). On screen the
// wide tables scroll sideways inside their box; printed, the text is black on white, the charts
// take the page's width, and a table or chart is kept on one page where it fits (the header row
// repeats when a long table must break). SVG presentation attributes lose to CSS, so the print
// rules can turn the charts' grey text black.
export const REPORT_CSS = `
:root { color-scheme: light; }
body { margin: 0 auto; padding: 16px 24px; max-width: 1200px; font: 14px/1.4 system-ui, sans-serif; color: #1a1a1a; background: #fff; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.15em; margin: 0 0 8px; }
header p { margin: 2px 0; color: #444; }
header { margin-bottom: 20px; }
.chart { margin: 0 0 24px; break-inside: avoid; page-break-inside: avoid; }
.chart svg { display: block; max-width: 100%; height: auto; }
.chart .empty { color: #555; font-style: italic; }
.table-wrap { overflow-x: auto; margin-bottom: 20px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; }
thead th { background: #f0f0f0; vertical-align: bottom; text-align: right; }
thead th:first-child, tbody th { text-align: left; }
td { text-align: right; white-space: nowrap; }
tbody th { font-weight: normal; white-space: nowrap; }
tr.total th, tr.total td { font-weight: 700; background: #fafafa; }
@media print {
  @page { margin: 12mm; }
  body { max-width: none; padding: 0; font-size: 10pt; color: #000; background: #fff; }
  header p { color: #000; }
  .chart svg { width: 100%; height: auto; }
  .chart svg text { fill: #000; }
  .table-wrap { overflow: visible; }
  table { width: 100%; break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  th, td { border-color: #000; padding: 2px 4px; }
  thead th, tr.total th, tr.total td { background: #fff; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
`;
