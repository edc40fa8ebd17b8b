// `buildReport`: a period's figures (SPEC §6) for the whole desk and per consultant or per pool,
// assembled from the SQL aggregations in src/reports/figures.ts into the one shape every format
// prints (src/reports/types.ts). Rows: the total first, then every configured consultant (or
// pool) in config order, zeros included, then anyone else the history names (a consultant since
// removed from the config). Durations are whole seconds; percentages have one decimal.
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { usageError } from '../errors.js';
import { RATING_SCORES } from '../tokens.js';
import {
  closingFigures,
  consultationFigures,
  dayFigures,
  feedbackFigures,
  firstResponseFigures,
  ratingFigures,
  receivedFigures,
  type ClosingFigures,
  type FigureQueries,
  type ConsultationFigures,
  type Grouped,
  type ResponseFigures,
  type Scope,
} from './figures.js';
import { periodDays, reportPeriod } from './period.js';
import { readConcurrently } from '../db/parallel-read.js';
import type { DurationFigures, Report, ReportMetrics, ReportOptions, ReportRow } from './types.js';

const GROUPINGS = ['consultant', 'pool'] as const;

function checkOptions(config: Config, opts: ReportOptions): void {
  if (opts.by !== undefined && !GROUPINGS.includes(opts.by)) {
    throw usageError('EBADGROUPING', `--by wants consultant or pool, not "${String(opts.by)}".`);
  }
  if (opts.consultant !== undefined && !config.consultants.some((c) => c.id === opts.consultant)) {
    throw usageError('EUNKNOWNCONSULTANT', `There is no consultant "${opts.consultant}" (known: ${config.consultants.map((c) => c.id).join(', ')}).`);
  }
  if (opts.pool !== undefined && !config.pools.some((p) => p.id === opts.pool)) {
    throw usageError('EUNKNOWNPOOL', `There is no pool "${opts.pool}" (known: ${config.pools.map((p) => p.id).join(', ')}).`);
  }
}

interface AllFigures {
  received: Grouped<number>;
  closings: Grouped<ClosingFigures>;
  responses: Grouped<ResponseFigures>;
  feedback: Grouped<number>;
  consultations: Grouped<ConsultationFigures>;
  ratings: Grouped<Record<string, number>>;
}

export async function buildReport(db: Kysely<DB>, config: Config, opts: ReportOptions): Promise<Report> {
  checkOptions(config, opts);
  const period = reportPeriod(config.instance.timezone, opts.from, opts.to);
  const generatedAt = nowIso();
  const scope: Scope = {
    start: period.start,
    end: period.end,
    at: generatedAt,
    by: opts.by ?? 'consultant',
    ...(opts.consultant !== undefined ? { consultant: opts.consultant } : {}),
    ...(opts.pool !== undefined ? { pool: opts.pool } : {}),
  };
  const plans = {
    closings: closingFigures(db, scope),
    responses: firstResponseFigures(db, scope),
    received: receivedFigures(db, scope),
    consultations: consultationFigures(db, scope),
    feedback: feedbackFigures(db, scope),
    ratings: ratingFigures(db, scope, RATING_SCORES),
    days: dayFigures(db, scope, periodDays(period)),
  };
  // Heaviest first: the queries are shared out alternately between two connections.
  const rows = await readConcurrently(
    db,
    Object.values(plans).flatMap((p) => p.queries),
  );
  const take = <T>(p: FigureQueries<T>): T => p.read(rows.splice(0, p.queries.length));
  const figures: AllFigures = {
    closings: take(plans.closings),
    responses: take(plans.responses),
    received: take(plans.received),
    consultations: take(plans.consultations),
    feedback: take(plans.feedback),
    ratings: take(plans.ratings),
  };
  const days = take(plans.days);
  return {
    period,
    by: scope.by,
    filter: { ...(opts.consultant !== undefined ? { consultant: opts.consultant } : {}), ...(opts.pool !== undefined ? { pool: opts.pool } : {}) },
    generated_at: generatedAt,
    rows: reportRows(config, scope, figures),
    days,
  };
}

/** The total, then one row per group: configured ones in config order, then others the data names. */
function reportRows(config: Config, scope: Scope, f: AllFigures): ReportRow[] {
  const key = scope.by;
  const configured = scope.by === 'pool' ? config.pools.map((p) => p.id) : config.consultants.map((c) => c.id);
  const seen = new Set<string>();
  for (const g of Object.values(f)) for (const k of (g as Grouped<unknown>).groups.keys()) if (k !== null) seen.add(k);
  const others = [...seen].filter((k) => !configured.includes(k)).sort();
  const wanted = (k: string) =>
    (scope.consultant === undefined || scope.by !== 'consultant' || k === scope.consultant) &&
    (scope.pool === undefined || scope.by !== 'pool' || k === scope.pool);
  const groups = [...configured, ...others].filter(wanted);
  const rows: ReportRow[] = groups.map((k) => ({ [key]: k, ...metrics(f, (g) => g.groups.get(k)) }) as ReportRow);
  // Asked for one consultant, the report is that consultant's row; otherwise the total leads.
  if (scope.by === 'consultant' && scope.consultant !== undefined) return rows;
  return [{ [key]: null, ...metrics(f, (g) => g.all) } as ReportRow, ...rows];
}

function metrics(f: AllFigures, pick: <T>(g: Grouped<T>) => T | undefined): ReportMetrics {
  const closings = pick(f.closings);
  const consultations = pick(f.consultations);
  const feedback = pick(f.feedback) ?? 0;
  const closed = closings?.closed ?? 0;
  const byScore = pick(f.ratings) ?? Object.fromEntries(RATING_SCORES.map((s) => [s, 0]));
  const rated = Object.values(byScore).reduce((a, b) => a + b, 0);
  return {
    emails_received: pick(f.received) ?? 0,
    closed,
    closed_on_time_without_consulting: closings?.onTimePlain ?? 0,
    closed_on_time_with_consulting: closings?.onTimeConsulted ?? 0,
    closed_late_with_consulting: closings?.lateConsulted ?? 0,
    closed_late_without_consulting: closings?.latePlain ?? 0,
    consultations_on_time: consultations?.onTime ?? 0,
    consultations_late: consultations?.late ?? 0,
    feedback_after_closing: feedback,
    feedback_after_closing_pct: closed > 0 ? percent(feedback, closed) : null,
    first_response: durations(pick(f.responses)),
    resolution: durations(closings?.resolution),
    ratings: { count: rated, by_score: byScore, good_pct: rated > 0 ? percent(byScore.good ?? 0, rated) : null },
  };
}

function durations(d: ResponseFigures | undefined): DurationFigures {
  if (!d || d.count === 0) return { count: 0, median_seconds: null, p90_seconds: null };
  return { count: d.count, median_seconds: seconds(d.medianMs), p90_seconds: seconds(d.p90Ms) };
}

function seconds(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms / 1000);
}

function percent(part: number, whole: number): number {
  return Math.round((part / whole) * 1000) / 10;
}
