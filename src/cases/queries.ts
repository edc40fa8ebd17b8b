// Reading cases: the filtered listing (`mailwarden cases`), one case with its thread and history
// (`mailwarden show`), a customer's cases, and presence (who viewed a case lately).
import type { Kysely } from 'kysely';
import { addMs, nowIso } from '../clock.js';
import type { Config } from '../config/types.js';
import type { CaseStatus, DB, MessageKind } from '../db/schema.js';
import { usageError } from '../errors.js';
import { caseView, caseViews, type CaseRow, type CaseView } from './view.js';
import { overdueAt } from './overdue-sql.js';
import { isEmail } from '../config/validate.js';
import { parseJsonList } from '../db/json-columns.js';
import { listQuarantine, type QuarantineEntry } from './quarantine.js';
import { caseConsultations } from './consult.js';
import { caseRatings, type RatingView } from './ratings.js';
import { messageDepartment, messageRole, outboxStates, roleContext, type MessageRole } from './message-roles.js';
import { caseAnswers, caseLinks, type AnswerView, type LinkView } from './case-links.js';

const STATUSES: readonly CaseStatus[] = ['received', 'in_progress', 'under_consultation', 'postponed', 'solved', 'closed'];

/** How long a view counts as "looking at it right now". */
const PRESENCE_WINDOW_MS = 5 * 60_000;

export interface CaseFilters {
  /** One status or several, comma-separated on the command line. */
  status?: string[];
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
  limit?: number;
}

/**
 * Refuses filters naming a status, pool or consultant that does not exist, listing the known ones,
 * a customer that is not an address, an empty label and a start that is not an instant.
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
}

/** Cases matching the filters, oldest first. */
export async function listCases(db: Kysely<DB>, config: Config, f: CaseFilters = {}): Promise<CaseView[]> {
  checkFilters(config, f);
  let q = db.selectFrom('cases').selectAll();
  if (f.status && f.status.length > 0) q = q.where('status', 'in', f.status as CaseStatus[]);
  if (f.pool) q = q.where('pool_id', '=', f.pool);
  if (f.assignee === 'none') q = q.where('assignee', 'is', null);
  else if (f.assignee) q = q.where('assignee', '=', f.assignee);
  if (f.overdue) {
    const at = nowIso();
    q = q.where((eb) => overdueAt(eb, at));
  }
  const customer = f.customer?.trim().toLowerCase();
  if (customer) q = q.where((eb) => eb(eb.fn('lower', ['customer_address']), '=', customer));
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
  if (f.since) q = q.where('received_at', '>=', new Date(f.since).toISOString());
  q = q.orderBy('received_at').orderBy('id');
  if (f.limit) q = q.limit(f.limit);
  return caseViews(db, await q.execute());
}

/** Accepts `ACME-000042`, `acme-000042` or `[ACME-000042]`. */
export function normaliseCaseId(text: string): string {
  return text
    .trim()
    .replace(/^\[|\]$/g, '')
    .toUpperCase();
}

async function findCaseRow(db: Kysely<DB>, id: string): Promise<CaseRow | undefined> {
  return db.selectFrom('cases').selectAll().where('id', '=', normaliseCaseId(id)).executeTakeFirst();
}

/** The case row, or a usage error saying there is no such case. */
export async function getCaseRow(db: Kysely<DB>, id: string): Promise<CaseRow> {
  const row = await findCaseRow(db, id);
  if (!row) throw usageError('ENOCASE', `There is no case ${normaliseCaseId(id)}.`);
  return row;
}

export interface MessageView {
  id: number;
  kind: MessageKind;
  from: string | null;
  to: string[];
  subject: string;
  at: string;
  text: string;
  message_id: string | null;
  /** an outgoing mail's state, from its outbox row (queued, held, sent, failed, bounced, rejected) */
  state: string | null;
  /** who it is from, told apart (src/cases/message-roles.ts) */
  role: MessageRole;
  /** the department (id) whose consultation answer it is */
  department: string | null;
  /** the consultant who wrote it (replies, comments), null for mail from outside and automatic mail */
  author: string | null;
  /** bounce, auto_reply, feedback, unparsed, truncated, via_mail (relayed from the author's mail client)… */
  flags: string[];
  attachments: Array<{ name: string | null; type: string; size: number }>;
}

export interface HistoryView {
  at: string;
  actor: string;
  kind: string;
  field: string | null;
  from: string | null;
  to: string | null;
}

export interface ViewerView {
  consultant: string;
  at: string;
}

export interface CaseDetail {
  case: CaseView;
  messages: MessageView[];
  history: HistoryView[];
  viewers: ViewerView[];
  /** staff mail about this case that was not acted on (SPEC §5A) */
  quarantined: QuarantineEntry[];
  /** every consultation of the case, oldest first (SPEC §5C) */
  consultations: ConsultationDetail[];
  /** the customers' ratings of the replies (SPEC §5E), the latest per reply and customer */
  ratings: RatingView[];
  /** linked cases (both directions) and merged ones */
  links: LinkView[];
  /** questionnaire answers given on the case */
  answers: AnswerView[];
}

export interface ConsultationDetail {
  id: number;
  dept: string;
  consultant: string;
  state: 'open' | 'answered' | 'withdrawn';
  sent_at: string;
  deadline_at: string;
  answered_at: string | null;
  /** open past its deadline, or answered after it */
  overdue: boolean;
  withdrawn_by: string | null;
}

async function consultationDetails(db: Kysely<DB>, caseId: string): Promise<ConsultationDetail[]> {
  const at = Date.parse(nowIso());
  const rows = await caseConsultations(db, caseId);
  // An open consultation is overdue once its deadline passed; an answered one if the answer came after it.
  const endOf = (c: (typeof rows)[number]) => (c.state === 'open' ? at : c.state === 'answered' && c.answered_at ? Date.parse(c.answered_at) : null);
  return rows.map((c) => ({
    id: c.id,
    dept: c.dept_id,
    consultant: c.consultant,
    state: c.state,
    sent_at: c.sent_at,
    deadline_at: c.deadline_at,
    answered_at: c.answered_at,
    overdue: (endOf(c) ?? 0) > Date.parse(c.deadline_at),
    withdrawn_by: c.withdrawn_by,
  }));
}

/** Kinds written by staff or by mailwarden itself, as opposed to mail from outside. */
export const STAFF_KINDS: readonly MessageKind[] = ['outbound', 'comment', 'consult_out', 'notification', 'auto_response'];

async function caseMessages(db: Kysely<DB>, row: CaseRow): Promise<MessageView[]> {
  const caseId = row.id;
  const rows = await db.selectFrom('messages').selectAll().where('case_id', '=', caseId).orderBy('id').execute();
  const ctx = await roleContext(db, caseId, row.customer_address);
  const sent = await outboxStates(
    db,
    rows.map((r) => r.id),
  );
  const attachments = rows.length
    ? await db
        .selectFrom('attachments')
        .select(['message_row_id', 'filename', 'content_type', 'size', 'inline'])
        .where(
          'message_row_id',
          'in',
          rows.map((r) => r.id),
        )
        .orderBy('id')
        .execute()
    : [];
  return rows.map((m) => ({
    id: m.id,
    kind: m.kind,
    from: m.from_address ?? m.author,
    to: parseJsonList(m.to_addresses),
    subject: m.subject,
    at: m.at,
    text: m.text,
    message_id: m.message_id,
    state: sent.get(m.id) ?? m.state,
    role: messageRole(m, ctx),
    department: messageDepartment(m, ctx),
    author: m.author,
    flags: [...parseJsonList(m.flags), ...(m.is_feedback ? ['feedback'] : []), ...(m.is_auto_reply ? ['auto_reply'] : [])].filter(
      (f, i, all) => all.indexOf(f) === i,
    ),
    attachments: attachments.filter((a) => a.message_row_id === m.id).map((a) => ({ name: a.filename, type: a.content_type, size: a.size })),
  }));
}

async function caseHistory(db: Kysely<DB>, caseId: string): Promise<HistoryView[]> {
  const rows = await db.selectFrom('case_events').selectAll().where('case_id', '=', caseId).orderBy('id').execute();
  return rows.map((e) => ({ at: e.at, actor: e.actor, kind: e.kind, field: e.field, from: e.from_value, to: e.to_value }));
}

/** Records that a consultant is looking at a case now (presence). */
async function recordView(db: Kysely<DB>, caseId: string, consultant: string): Promise<void> {
  const at = nowIso();
  await db
    .insertInto('case_views')
    .values({ case_id: caseId, consultant, at })
    .onConflict((oc) => oc.columns(['case_id', 'consultant']).doUpdateSet({ at }))
    .execute();
}

/** Who else viewed the case within the presence window, latest first. */
async function recentViewers(db: Kysely<DB>, caseId: string, except: string | null): Promise<ViewerView[]> {
  let q = db.selectFrom('case_views').select(['consultant', 'at']).where('case_id', '=', caseId).where('at', '>=', addMs(nowIso(), -PRESENCE_WINDOW_MS));
  if (except) q = q.where('consultant', '!=', except);
  return q.orderBy('at', 'desc').execute();
}

/**
 * The whole case as `show` prints it. With a viewer, the view is recorded first and the viewer is
 * left out of `viewers` (they know they are looking).
 */
export async function getCaseDetail(db: Kysely<DB>, id: string, opts: { viewer?: string | null } = {}): Promise<CaseDetail> {
  const row = await getCaseRow(db, id);
  const viewer = opts.viewer ?? null;
  const viewers = await recentViewers(db, row.id, viewer);
  if (viewer) await recordView(db, row.id, viewer);
  return {
    case: await caseView(db, row),
    messages: await caseMessages(db, row),
    history: await caseHistory(db, row.id),
    viewers,
    quarantined: await listQuarantine(db, { all: true, caseId: row.id }),
    consultations: await consultationDetails(db, row.id),
    ratings: await caseRatings(db, row.id),
    links: await caseLinks(db, row),
    answers: await caseAnswers(db, row.id),
  };
}

/** Every case of a customer address, newest first. */
export async function customerCases(db: Kysely<DB>, address: string): Promise<CaseView[]> {
  const rows = await db
    .selectFrom('cases')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['customer_address']), '=', address.trim().toLowerCase()))
    .orderBy('received_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  return caseViews(db, rows);
}
