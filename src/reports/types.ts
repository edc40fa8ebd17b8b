// The shape of a report (SPEC §6, §7): what `report --json` prints, and what the table, CSV and
// HTML renderers and the scheduled report mail all draw from, so every format shows the same
// numbers. Built by buildReport (src/reports/build.ts) from SQL aggregations over the history.

/** The period asked for, as local dates and as the UTC instants that bound it. */
export interface ReportPeriod {
  /** first day, YYYY-MM-DD in the instance timezone */
  from: string;
  /** last day, YYYY-MM-DD in the instance timezone (inclusive) */
  to: string;
  timezone: string;
  /** ISO instant of `from` 00:00 local (inclusive) */
  start: string;
  /** ISO instant of the day after `to`, 00:00 local (exclusive) */
  end: string;
}

/** Median and 90th percentile of a duration (PostgreSQL's percentile_cont: linear interpolation). */
export interface DurationFigures {
  /** how many cases the figures are over */
  count: number;
  median_seconds: number | null;
  p90_seconds: number | null;
}

export interface RatingFigures {
  count: number;
  /** every score the pools' rating lines offer (default good, okay, bad), zero when none was given */
  by_score: Record<string, number>;
  /** good / count × 100, one decimal; null when there is no rating */
  good_pct: number | null;
}

/** The figures of one row: the whole desk, one consultant or one pool. */
export interface ReportMetrics {
  emails_received: number;
  /** cases closed in the period (last closing in the period, counted once) */
  closed: number;
  closed_on_time_without_consulting: number;
  closed_on_time_with_consulting: number;
  closed_late_with_consulting: number;
  closed_late_without_consulting: number;
  /** consultations whose department answered by the deadline */
  consultations_on_time: number;
  /** consultations answered after the deadline, or still unanswered past it */
  consultations_late: number;
  feedback_after_closing: number;
  /** feedback_after_closing / closed × 100, one decimal; null when nothing was closed */
  feedback_after_closing_pct: number | null;
  first_response: DurationFigures;
  resolution: DurationFigures;
  ratings: RatingFigures;
}

/** One row: `consultant` (or `pool`, by grouping) null is the whole desk. */
export type ReportRow = ReportMetrics & ({ consultant: string | null } | { pool: string | null });

/** Cases received and closed on one local day of the period (for the HTML chart). */
export interface ReportDay {
  date: string;
  received: number;
  closed: number;
}

export type ReportGrouping = 'consultant' | 'pool';

export interface Report {
  period: ReportPeriod;
  by: ReportGrouping;
  /** the filters asked for, when any */
  filter: { consultant?: string; pool?: string };
  generated_at: string;
  /** the total first (consultant/pool null), then one row per consultant or pool */
  rows: ReportRow[];
  days: ReportDay[];
}

export interface ReportOptions {
  /** YYYY-MM-DD, local to the instance timezone */
  from: string;
  to: string;
  by?: ReportGrouping;
  consultant?: string;
  pool?: string;
}

export const REPORT_FORMATS = ['table', 'csv', 'json', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
