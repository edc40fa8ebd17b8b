// The SQL behind each figure of a report (SPEC §6). Every function runs one aggregation grouped by
// the report's grouping (consultant or pool) and one for the whole desk, and returns the figures
// keyed by group; nothing loops over cases in JavaScript. The definitions, in the words of §6:
// - e-mails received: customers' mails (no automatic replies, no bounces) that arrived in the
//   period, counted for the case's pool, and for the consultant who held the case when the mail
//   came or, when nobody did, who took the case up next;
// - closings: a case counts once, at its last closing in the period, for whoever closed it; on
//   time when that closing was at or before its response deadline; consulted when a consultation
//   was asked before it; its resolution time runs from the case's receipt to that closing;
// - consultations: judged in the period that holds their deadline, for the consultant who asked;
//   in time when the department's answer came by the deadline, late when it came after or has
//   not come and the deadline has passed; one withdrawn before its deadline is not judged;
// - feedback: a customer's mail on a closed case, counted for whoever closed it last before;
// - first responses: for the consultant whose reply it was, when it was sent in the period;
// - ratings: given in the period, for the consultant who wrote the rated reply.
import { sql, type CompiledQuery, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { instant, notIndexed, percentileCont } from '../db/report-sql.js';
import type { ReportDay, ReportGrouping } from './types.js';

export interface Scope {
  start: string;
  end: string;
  /** now: a consultation whose deadline is still ahead is not judged yet */
  at: string;
  by: ReportGrouping;
  consultant?: string;
  pool?: string;
}

/** The figures of each group (consultant or pool id; null: nobody, e.g. the system) and of all. */
export interface Grouped<T> {
  all: T;
  groups: Map<string | null, T>;
}

type Row = Record<string, unknown> & { grp?: string | null };

/** A figure's queries (compiled, to run wherever there is a free connection) and how to read their rows. */
export interface FigureQueries<T> {
  queries: CompiledQuery[];
  read(rows: Row[][]): T;
}

function num(v: unknown): number {
  return v === null || v === undefined ? 0 : Number(v);
}

function orNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** The total query and the grouped one; their rows keyed by group. */
function grouped<T>(build: (byGroup: boolean) => { compile(): CompiledQuery }, read: (r: Row | undefined) => T): FigureQueries<Grouped<T>> {
  return {
    queries: [build(false).compile(), build(true).compile()],
    read: ([all, groups]) => ({ all: read(all?.[0]), groups: new Map((groups ?? []).map((r) => [r.grp ?? null, read(r)])) }),
  };
}

export interface ClosingFigures {
  closed: number;
  onTimePlain: number;
  onTimeConsulted: number;
  lateConsulted: number;
  latePlain: number;
  resolution: { count: number; medianMs: number | null; p90Ms: number | null };
}

/** Cases closed in the period, each at its last closing in it (report_closings, migration 017). */
export function closingFigures(db: Kysely<DB>, s: Scope): FigureQueries<Grouped<ClosingFigures>> {
  const groupColumn = s.by === 'pool' ? 'pool_id' : 'consultant';
  return grouped(
    (byGroup) =>
      db
        .selectFrom('report_closings')
        .select([
          sql<number>`count(*)`.as('closed'),
          sql<number>`sum(on_time * (1 - consulted))`.as('on_time_plain'),
          sql<number>`sum(on_time * consulted)`.as('on_time_consulted'),
          sql<number>`sum((1 - on_time) * consulted)`.as('late_consulted'),
          sql<number>`sum((1 - on_time) * (1 - consulted))`.as('late_plain'),
          percentileCont(db, 'resolution_ms', 0.5).as('median'),
          percentileCont(db, 'resolution_ms', 0.9).as('p90'),
        ])
        .$if(byGroup, (q) => q.select(sql<string | null>`${sql.ref(groupColumn)}`.as('grp')).groupBy(groupColumn))
        // Grouped, the index that leads with the group is read in order: no sort of a year of rows.
        .where(byGroup ? notIndexed(db, 'at') : sql.ref('at'), '>=', s.start)
        .where(byGroup ? notIndexed(db, 'at') : sql.ref('at'), '<', s.end)
        .where((eb) => eb.or([eb('next_closing_at', 'is', null), eb('next_closing_at', '>=', s.end)]))
        .$if(s.pool !== undefined, (q) => q.where('pool_id', '=', s.pool ?? ''))
        .$if(s.consultant !== undefined, (q) => q.where('consultant', '=', s.consultant ?? '')),
    (r) => ({
      closed: num(r?.closed),
      onTimePlain: num(r?.on_time_plain),
      onTimeConsulted: num(r?.on_time_consulted),
      lateConsulted: num(r?.late_consulted),
      latePlain: num(r?.late_plain),
      resolution: { count: num(r?.closed), medianMs: orNull(r?.median), p90Ms: orNull(r?.p90) },
    }),
  );
}

export interface ResponseFigures {
  count: number;
  medianMs: number | null;
  p90Ms: number | null;
}

/** First responses sent in the period (report_first_responses, migration 017). */
export function firstResponseFigures(db: Kysely<DB>, s: Scope): FigureQueries<Grouped<ResponseFigures>> {
  const groupColumn = s.by === 'pool' ? 'pool_id' : 'consultant';
  return grouped(
    (byGroup) =>
      db
        .selectFrom('report_first_responses')
        .select([sql<number>`count(*)`.as('n'), percentileCont(db, 'response_ms', 0.5).as('median'), percentileCont(db, 'response_ms', 0.9).as('p90')])
        .$if(byGroup, (q) => q.select(sql<string | null>`${sql.ref(groupColumn)}`.as('grp')).groupBy(groupColumn))
        .where(byGroup ? notIndexed(db, 'at') : sql.ref('at'), '>=', s.start)
        .where(byGroup ? notIndexed(db, 'at') : sql.ref('at'), '<', s.end)
        .$if(s.pool !== undefined, (q) => q.where('pool_id', '=', s.pool ?? ''))
        .$if(s.consultant !== undefined, (q) => q.where('consultant', '=', s.consultant ?? '')),
    (r) => ({ count: num(r?.n), medianMs: orNull(r?.median), p90Ms: orNull(r?.p90) }),
  );
}

/** Customers' mails received in the period (report_received, migration 017). */
export function receivedFigures(db: Kysely<DB>, s: Scope): FigureQueries<Grouped<number>> {
  const groupColumn = s.by === 'pool' ? 'pool_id' : 'consultant';
  return grouped(
    (byGroup) =>
      db
        .selectFrom('report_received')
        .select(sql<number>`count(*)`.as('n'))
        .$if(byGroup, (q) => q.select(sql<string | null>`${sql.ref(groupColumn)}`.as('grp')).groupBy(groupColumn))
        .where(byGroup ? notIndexed(db, 'at') : sql.ref('at'), '>=', s.start)
        .where(byGroup ? notIndexed(db, 'at') : sql.ref('at'), '<', s.end)
        .$if(s.pool !== undefined, (q) => q.where('pool_id', '=', s.pool ?? ''))
        .$if(s.consultant !== undefined, (q) => q.where('consultant', '=', s.consultant ?? '')),
    (r) => num(r?.n),
  );
}

/** The consultant who closed the case last before the feedback came: the one it is counted for. */
function feedbackCloser() {
  return sql<string | null>`(SELECT rc.consultant FROM report_closings rc WHERE rc.case_id = m.case_id AND rc.at <= m.at ORDER BY rc.id DESC LIMIT 1)`;
}

/** Customers' mails on a closed case (they reopened it), received in the period. */
export function feedbackFigures(db: Kysely<DB>, s: Scope): FigureQueries<Grouped<number>> {
  const byPool = s.by === 'pool';
  return grouped(
    (byGroup) => {
      const base = db
        .selectFrom('messages as m')
        .select(sql<number>`count(*)`.as('n'))
        .where(sql<boolean>`m.is_feedback = 1`)
        .where('m.at', '>=', s.start)
        .where('m.at', '<', s.end)
        .$if(s.consultant !== undefined, (q) => q.where(feedbackCloser(), '=', s.consultant ?? ''));
      // The case is read only for its pool.
      if (!byPool && s.pool === undefined) return base.$if(byGroup, (q) => q.select(feedbackCloser().as('grp')).groupBy('grp'));
      return base
        .innerJoin('cases as c', 'c.id', 'm.case_id')
        .$if(byGroup, (q) => (byPool ? q.select('c.pool_id as grp').groupBy('c.pool_id') : q.select(feedbackCloser().as('grp')).groupBy('grp')))
        .$if(s.pool !== undefined, (q) => q.where('c.pool_id', '=', s.pool ?? ''));
    },
    (r) => num(r?.n),
  );
}

export interface ConsultationFigures {
  onTime: number;
  late: number;
}

/** Consultations whose deadline falls in the period and that can be judged now. */
export function consultationFigures(db: Kysely<DB>, s: Scope): FigureQueries<Grouped<ConsultationFigures>> {
  const byPool = s.by === 'pool';
  const inTime = sql<boolean>`(q.answered_at IS NOT NULL AND q.answered_at <= q.deadline_at)`;
  return grouped(
    (byGroup) => {
      const base = db
        .selectFrom('consultations as q')
        .select([sql<number>`sum(CASE WHEN ${inTime} THEN 1 ELSE 0 END)`.as('on_time'), sql<number>`sum(CASE WHEN ${inTime} THEN 0 ELSE 1 END)`.as('late')])
        .where('q.deadline_at', '>=', s.start)
        .where('q.deadline_at', '<', s.end)
        .where((eb) => eb.or([inTime, eb('q.deadline_at', '<=', s.at)]))
        .where((eb) => eb.not(eb.and([eb('q.state', '=', 'withdrawn'), eb('q.withdrawn_at', '<=', eb.ref('q.deadline_at'))])))
        .$if(s.consultant !== undefined, (q) => q.where('q.consultant', '=', s.consultant ?? ''));
      // The case is read only for its pool.
      if (!byPool && s.pool === undefined) {
        return base.$if(byGroup, (q) => q.select('q.consultant as grp').groupBy('q.consultant'));
      }
      return base
        .innerJoin('cases as c', 'c.id', 'q.case_id')
        .$if(byGroup, (q) =>
          q.select(sql<string | null>`${sql.ref(byPool ? 'c.pool_id' : 'q.consultant')}`.as('grp')).groupBy(byPool ? 'c.pool_id' : 'q.consultant'),
        )
        .$if(s.pool !== undefined, (q) => q.where('c.pool_id', '=', s.pool ?? ''));
    },
    (r) => ({ onTime: num(r?.on_time), late: num(r?.late) }),
  );
}

/** Ratings given in the period, per score. */
export function ratingFigures(db: Kysely<DB>, s: Scope, scores: readonly string[]): FigureQueries<Grouped<Record<string, number>>> {
  const byPool = s.by === 'pool';
  return grouped(
    (byGroup) => {
      const base = db
        .selectFrom('ratings as r')
        .select(scores.map((score) => sql<number>`sum(CASE WHEN r.score = ${score} THEN 1 ELSE 0 END)`.as(`s_${score}`)))
        .where(byGroup && !byPool ? notIndexed(db, 'r.at') : sql.ref('r.at'), '>=', s.start)
        .where(byGroup && !byPool ? notIndexed(db, 'r.at') : sql.ref('r.at'), '<', s.end)
        .$if(s.consultant !== undefined, (q) => q.where('r.consultant', '=', s.consultant ?? ''));
      // The case is read only for its pool.
      if (!byPool && s.pool === undefined) {
        return base.$if(byGroup, (q) => q.select('r.consultant as grp').groupBy('r.consultant'));
      }
      return base
        .innerJoin('cases as c', 'c.id', 'r.case_id')
        .$if(byGroup, (q) =>
          q.select(sql<string | null>`${sql.ref(byPool ? 'c.pool_id' : 'r.consultant')}`.as('grp')).groupBy(byPool ? 'c.pool_id' : 'r.consultant'),
        )
        .$if(s.pool !== undefined, (q) => q.where('c.pool_id', '=', s.pool ?? ''));
    },
    (r) => Object.fromEntries(scores.map((score) => [score, num(r?.[`s_${score}`])])),
  );
}

/** Cases received and closed (each at its last closing in the period) on each local day. */
export function dayFigures(db: Kysely<DB>, s: Scope, days: Array<{ date: string; start: string; end: string }>): FigureQueries<ReportDay[]> {
  if (days.length === 0) return { queries: [], read: () => [] };
  const list = sql.join(days.map((d) => sql`(${d.date}, ${instant(db, d.start)}, ${instant(db, d.end)})`));
  const poolCases = s.pool !== undefined ? sql`AND c.pool_id = ${s.pool}` : sql``;
  const mineCases = s.consultant !== undefined ? sql`AND c.assignee = ${s.consultant}` : sql``;
  const poolClosings = s.pool !== undefined ? sql`AND rc.pool_id = ${s.pool}` : sql``;
  const mineClosings = s.consultant !== undefined ? sql`AND rc.consultant = ${s.consultant}` : sql``;
  const query = sql<Row>`
    WITH days(date, day_start, day_end) AS (VALUES ${list})
    SELECT date,
      (SELECT count(*) FROM cases c WHERE c.received_at >= day_start AND c.received_at < day_end ${poolCases} ${mineCases}) AS received,
      (SELECT count(*) FROM report_closings rc WHERE rc.at >= day_start AND rc.at < day_end
         AND (rc.next_closing_at IS NULL OR rc.next_closing_at >= ${s.end}) ${poolClosings} ${mineClosings}) AS closed
    FROM days ORDER BY date`;
  return {
    queries: [query.compile(db)],
    read: ([rows]) => (rows ?? []).map((r) => ({ date: String(r.date), received: num(r.received), closed: num(r.closed) })),
  };
}
