// The case as every command shows it (SPEC §7 "case" JSON shape). Built from the `cases` row plus
// its labels and open consultation, batched so a listing of thousands costs three queries.
import type { Kysely, Selectable } from 'kysely';
import { now } from '../clock.js';
import type { CasesTable, CaseStatus, DB } from '../db/schema.js';
import { parseJsonList } from '../db/json-columns.js';

export type CaseRow = Selectable<CasesTable>;

export interface ConsultationView {
  dept: string;
  deadline_at: string;
  overdue: boolean;
}

export interface CaseView {
  id: string;
  status: CaseStatus;
  pool: string;
  mailbox: string;
  priority: 'low' | 'normal' | 'high' | 'urgent';
  subject: string;
  customer: { address: string; name: string | null };
  language: string | null;
  assignee: string | null;
  received_at: string;
  deadline_at: string;
  overdue: boolean;
  flags: string[];
  labels: string[];
  consultation: ConsultationView | null;
}

/** The flag of a case whose customer's personal data was erased (src/cases/customer-erase.ts): mail never threads onto it again. */
export const ERASED_FLAG = 'erased';

export function isErased(row: Pick<CaseRow, 'flags'>): boolean {
  return parseJsonList(row.flags).includes(ERASED_FLAG);
}

/** Statuses in which the response deadline still runs; a solved, closed or parked case is never overdue. */
export const DEADLINE_RUNNING: readonly CaseStatus[] = ['received', 'in_progress', 'under_consultation'];

function isOverdue(row: Pick<CaseRow, 'status' | 'deadline_at'>, at: Date = now()): boolean {
  return DEADLINE_RUNNING.includes(row.status) && Date.parse(row.deadline_at) < at.getTime();
}

/** Case views for rows, in the same order. */
export async function caseViews(db: Kysely<DB>, rows: CaseRow[]): Promise<CaseView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const labels = new Map<string, string[]>();
  const consultations = new Map<string, { dept_id: string; deadline_at: string }>();
  // SQLite caps bound parameters; chunk so a listing of any size works.
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const labelRows = await db.selectFrom('case_labels').select(['case_id', 'label']).where('case_id', 'in', chunk).orderBy('label').execute();
    for (const l of labelRows) labels.set(l.case_id, [...(labels.get(l.case_id) ?? []), l.label]);
    const openConsults = await db
      .selectFrom('consultations')
      .select(['case_id', 'dept_id', 'deadline_at', 'id'])
      .where('case_id', 'in', chunk)
      .where('state', '=', 'open')
      .orderBy('deadline_at', 'desc')
      .execute();
    // Of several open consultations, the one due first is shown (the last one set wins).
    for (const c of openConsults) consultations.set(c.case_id, { dept_id: c.dept_id, deadline_at: c.deadline_at });
  }
  const at = now();
  return rows.map((row) => toCaseView(row, labels.get(row.id) ?? [], consultations.get(row.id) ?? null, at));
}

export async function caseView(db: Kysely<DB>, row: CaseRow): Promise<CaseView> {
  const [view] = await caseViews(db, [row]);
  return view!;
}

function toCaseView(row: CaseRow, labels: string[], consultation: { dept_id: string; deadline_at: string } | null, at: Date = now()): CaseView {
  return {
    id: row.id,
    status: row.status,
    pool: row.pool_id,
    mailbox: row.mailbox_id,
    priority: row.priority,
    subject: row.subject,
    customer: { address: row.customer_address, name: row.customer_name },
    language: row.language,
    assignee: row.assignee,
    received_at: row.received_at,
    deadline_at: row.deadline_at,
    overdue: isOverdue(row, at),
    flags: parseJsonList(row.flags),
    labels,
    consultation: consultation
      ? { dept: consultation.dept_id, deadline_at: consultation.deadline_at, overdue: Date.parse(consultation.deadline_at) < at.getTime() }
      : null,
  };
}
