// Reading cases: one case with its thread and history (`mailwarden show`), a customer's cases,
// and presence (who viewed a case lately). The filtered listing is src/cases/listing.ts.
import type { Kysely } from 'kysely';
import { addMs, nowIso } from '../clock.js';
import type { DB, MessageKind } from '../db/schema.js';
import { usageError } from '../errors.js';
import { caseView, caseViews, type CaseRow, type CaseView } from './view.js';
import { parseJsonList } from '../db/json-columns.js';
import { listQuarantine, type QuarantineEntry } from './quarantine.js';
import { caseConsultations } from './consultations.js';
import { caseRatings, type RatingView } from './ratings.js';
import { messageDepartment, messageRole, outboxStates, roleContext, type MessageRole } from './message-roles.js';
import { caseAnswers, caseLinks, type AnswerView, type LinkView } from './case-links.js';

/** How long a view counts as "looking at it right now". */
const PRESENCE_WINDOW_MS = 5 * 60_000;

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
