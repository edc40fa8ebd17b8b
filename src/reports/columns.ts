// The columns of a report, in order, with their labels and how each cell is written. The table,
// the CSV and the HTML all take their columns from here, so the same figure is the same number in
// every format: counts as integers, percentages with one decimal, durations as whole seconds
// (JSON, CSV) or the same seconds written h:mm:ss (table, HTML).
import type { Report, ReportRow } from './types.js';

export type ColumnKind = 'count' | 'pct' | 'duration';

export interface ReportColumn {
  /** stable name: the CSV header */
  key: string;
  /** what a person reads: table and HTML headers */
  label: string;
  kind: ColumnKind;
  value: (row: ReportRow) => number | null;
}

const FIXED: ReportColumn[] = [
  { key: 'emails_received', label: 'E-mails received', kind: 'count', value: (r) => r.emails_received },
  { key: 'closed', label: 'Cases closed', kind: 'count', value: (r) => r.closed },
  { key: 'closed_on_time_without_consulting', label: 'On time, not consulted', kind: 'count', value: (r) => r.closed_on_time_without_consulting },
  { key: 'closed_on_time_with_consulting', label: 'On time, consulted', kind: 'count', value: (r) => r.closed_on_time_with_consulting },
  { key: 'closed_late_with_consulting', label: 'Late, consulted', kind: 'count', value: (r) => r.closed_late_with_consulting },
  { key: 'closed_late_without_consulting', label: 'Late, not consulted', kind: 'count', value: (r) => r.closed_late_without_consulting },
  { key: 'consultations_on_time', label: 'Consultations in time', kind: 'count', value: (r) => r.consultations_on_time },
  { key: 'consultations_late', label: 'Consultations late', kind: 'count', value: (r) => r.consultations_late },
  { key: 'feedback_after_closing', label: 'Feedback after closing', kind: 'count', value: (r) => r.feedback_after_closing },
  { key: 'feedback_after_closing_pct', label: 'Feedback % of closed', kind: 'pct', value: (r) => r.feedback_after_closing_pct },
  { key: 'first_response_count', label: 'First responses', kind: 'count', value: (r) => r.first_response.count },
  { key: 'first_response_median_seconds', label: 'First response median', kind: 'duration', value: (r) => r.first_response.median_seconds },
  { key: 'first_response_p90_seconds', label: 'First response p90', kind: 'duration', value: (r) => r.first_response.p90_seconds },
  { key: 'resolution_median_seconds', label: 'Resolution median', kind: 'duration', value: (r) => r.resolution.median_seconds },
  { key: 'resolution_p90_seconds', label: 'Resolution p90', kind: 'duration', value: (r) => r.resolution.p90_seconds },
  { key: 'ratings_count', label: 'Ratings', kind: 'count', value: (r) => r.ratings.count },
];

/** Every column of this report: the fixed ones, one per rating score, then % good. */
export function reportColumns(report: Report): ReportColumn[] {
  const scores = report.rows[0] ? Object.keys(report.rows[0].ratings.by_score) : [];
  return [
    ...FIXED,
    ...scores.map((s): ReportColumn => ({ key: `ratings_${s}`, label: `Rated ${s}`, kind: 'count', value: (r) => r.ratings.by_score[s] ?? 0 })),
    { key: 'ratings_good_pct', label: 'Rated good %', kind: 'pct', value: (r) => r.ratings.good_pct },
  ];
}

/** The name of the row's group: a consultant or pool id, or `all` for the desk's total. */
export function rowName(row: ReportRow): string {
  const name = 'consultant' in row ? row.consultant : row.pool;
  return name ?? 'all';
}

/** The grouping column's header. */
export function groupHeader(report: Report): string {
  return report.by === 'pool' ? 'pool' : 'consultant';
}

/** A cell for a person to read: '–' for no value, durations as h:mm:ss, percentages with one decimal. */
export function formatCell(kind: ColumnKind, value: number | null): string {
  if (value === null) return '–';
  if (kind === 'pct') return value.toFixed(1);
  if (kind === 'duration') return formatSeconds(value);
  return String(value);
}

/** Whole seconds as h:mm:ss (hours run past 24: 26:30:05), so the figure stays exact. */
function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * The tables, by topic, so each one fits a printed page's width. A column whose key matches no
 * earlier section lands in the last one, so a column added to columns.ts is never left out.
 */
const SECTIONS: { title: string; takes: (key: string) => boolean }[] = [
  { title: 'Cases', takes: (k) => k === 'emails_received' || k.startsWith('closed') },
  { title: 'Consultations and feedback', takes: (k) => k.startsWith('consultations_') || k.startsWith('feedback_') },
  { title: 'Response and resolution times (h:mm:ss)', takes: (k) => k.startsWith('first_response_') || k.startsWith('resolution_') },
  { title: 'Ratings and other figures', takes: () => true },
];

/** The report's columns split into SECTIONS, in column order; empty sections are dropped. */
export function tableSections(columns: ReportColumn[]): { title: string; columns: ReportColumn[] }[] {
  const sections = SECTIONS.map((s) => ({ title: s.title, columns: [] as ReportColumn[] }));
  for (const column of columns) {
    const at = SECTIONS.findIndex((s) => s.takes(column.key));
    sections[at]!.columns.push(column);
  }
  return sections.filter((s) => s.columns.length > 0);
}
