// The case listing (`mailwarden cases`, SPEC §6), paged in SQL. Why paged: a desk keeps every
// case it ever had, and building the §7 view of 100,000 of them (labels, consultation, overdue)
// to print a screenful took seconds. So every filter is a WHERE clause, the page is a LIMIT, and
// only the page's rows get their labels and consultation loaded (caseViews, by id IN …). By
// default only open cases are listed (a status that does not end the case, src/cases/status.ts);
// `all` lists every status, and naming statuses lists exactly those. The order is the queue's:
// oldest first (FIFO), ties by id. The open scope is written with literal statuses so that
// SQLite and PostgreSQL both use the partial index of migration 021 for it.
import { sql, type Kysely, type RawBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config } from '../config/types.js';
import { isEmail } from '../config/validate.js';
import type { CaseStatus, DB } from '../db/schema.js';
import { usageError } from '../errors.js';
import { overdueAt } from './overdue-sql.js';
import { CLOSING } from './status.js';
import { caseViews, type CaseView } from './view.js';

const STATUSES: readonly CaseStatus[] = ['received', 'in_progress', 'under_consultation', 'postponed', 'solved', 'closed'];

/** How many cases one listing shows unless told otherwise. */
export const PAGE_SIZE = 100;

export interface CaseFilters {
  /** Exactly these statuses (one or several, comma-separated on the command line). */
  status?: string[];
  /** Every status; without it (and without `status`) only open cases are listed. */
  all?: boolean;
  pool?: string;
  /** Consultant id, or `none` for unassigned cases. */
  assignee?: string;
  overdue?: boolean;
  /** the customer's address, matched ignoring case */
  customer?: string;
  /** a label the case carries, matched ignoring case */
  label?: string;
  /** received at or after this instant (ISO, as stored; see parseSince in ./when.ts) */
  since?: string;
  /** at most this many cases (default PAGE_SIZE) */
  limit?: number;
}

/** Which statuses a listing covers: open ones (the default), every one, or those named. */
export type ListingScope = 'open' | 'all' | 'status';

export function listingScope(f: CaseFilters): ListingScope {
  if (f.status && f.status.length > 0) return 'status';
  return f.all ? 'all' : 'open';
}

/**
 * Refuses filters naming a status, pool or consultant that does not exist, listing the known ones,
 * a customer that is not an address, an empty label, a start that is not an instant and a page
 * size that is not a positive whole number.
 */
function checkFilters(config: Config, f: CaseFilters): void {
  for (const s of f.status ?? []) {
    if (!STATUSES.includes(s as CaseStatus)) throw usageError('EBADSTATUS', `Unknown status "${s}" (allowed: ${STATUSES.join(', ')}).`);
  }
  if (f.pool && !config.pools.some((p) => p.id === f.pool)) {
    throw usageError('EUNKNOWNPOOL', `There is no pool "${f.pool}" (known: ${config.pools.map((p) => p.id).join(', ')}).`);
  }
  if (f.assignee && f.assignee !== 'none' && !config.consultants.some((c) => c.id === f.assignee)) {
    throw usageError('EUNKNOWNCONSULTANT', `There is no consultant "${f.assignee}" (known: ${config.consultants.map((c) => c.id).join(', ')}, or none).`);
  }
  if (f.customer !== undefined && !isEmail(f.customer.trim()))
    throw usageError('EBADADDRESS', `"${f.customer}" is not an e-mail address to list the cases of.`);
  if (f.label !== undefined && !f.label.trim()) throw usageError('EBADLABEL', 'The label to list the cases of is empty.');
  if (f.since !== undefined && Number.isNaN(Date.parse(f.since))) throw usageError('EBADSINCE', `"${f.since}" is not an instant to list cases from.`);
  if (f.limit !== undefined && (!Number.isInteger(f.limit) || f.limit < 1))
    throw usageError('EBADLIMIT', `The page size must be a positive whole number, not ${f.limit}.`);
}

/** `status NOT IN ('solved', 'closed')` with the statuses as literals: the partial index's own WHERE (migration 021). */
function isOpen(): RawBuilder<SqlBool> {
  return sql<SqlBool>`cases.status not in (${sql.join(CLOSING.map((s) => sql.lit(s)))})`;
}

/** Every filter as a WHERE clause on `cases`. */
function matching<O>(q: SelectQueryBuilder<DB, 'cases', O>, f: CaseFilters): SelectQueryBuilder<DB, 'cases', O> {
  const scope = listingScope(f);
  if (scope === 'status') q = q.where('cases.status', 'in', f.status as CaseStatus[]);
  else if (scope === 'open') q = q.where(isOpen());
  if (f.pool) q = q.where('cases.pool_id', '=', f.pool);
  if (f.assignee === 'none') q = q.where('cases.assignee', 'is', null);
  else if (f.assignee) q = q.where('cases.assignee', '=', f.assignee);
  if (f.overdue) {
    const at = nowIso();
    q = q.where((eb) => overdueAt(eb, at));
  }
  const customer = f.customer?.trim().toLowerCase();
  if (customer) q = q.where((eb) => eb(eb.fn('lower', ['cases.customer_address']), '=', customer));
  if (f.label) {
    // Labels are unique ignoring case (SPEC §5; the index is on lower(label)), so match the same way.
    const label = f.label.trim();
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('case_labels')
          .select('case_labels.case_id')
          .whereRef('case_labels.case_id', '=', 'cases.id')
          .where((l) => l(l.fn('lower', ['case_labels.label']), '=', l.fn('lower', [l.val(label)]))),
      ),
    );
  }
  // received_at is stored as toISOString() text, so the bound takes the same form to compare as text.
  if (f.since) q = q.where('cases.received_at', '>=', new Date(f.since).toISOString());
  return q;
}

/** One page of the cases matching the filters, oldest first. */
export async function listCases(db: Kysely<DB>, config: Config, f: CaseFilters = {}): Promise<CaseView[]> {
  checkFilters(config, f);
  const rows = await matching(db.selectFrom('cases').selectAll(), f)
    .orderBy('cases.received_at')
    .orderBy('cases.id')
    .limit(f.limit ?? PAGE_SIZE)
    .execute();
  return caseViews(db, rows);
}

/** How many cases match the filters in all, whatever the page size. */
export async function countCases(db: Kysely<DB>, config: Config, f: CaseFilters = {}): Promise<number> {
  checkFilters(config, f);
  const row = await matching(
    db.selectFrom('cases').select((eb) => eb.fn.countAll<number>().as('n')),
    f,
  ).executeTakeFirstOrThrow();
  return Number(row.n);
}
