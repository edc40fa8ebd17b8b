// Consultation (SPEC §5C): a consultant asks another department by e-mail. Each consultation is a
// side thread of the case: its own row with the department's deadline, its own mail from the
// case's box carrying the case tag and a consult token issued to that department, and nothing of
// it ever goes to the customer. While any consultation is open the case is `under_consultation`;
// when the last one is answered (./consult-answer.ts) or withdrawn it is back `in_progress`.
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config, ConsultantConfig, DepartmentConfig } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { recordEvent } from '../db/history.js';
import { dataError, MailwardenError, unavailableError, usageError } from '../errors.js';
import { boxSender, queueMail } from '../outbound/queue.js';
import { formatInZone } from '../time-format.js';
import { checkMayWorkOn } from './actors.js';
import type { FileAttachment } from './attachments.js';
import { deadlineAfter } from '../calendar.js';
import { getCaseRow } from './queries.js';
import { takeCase } from './reply.js';
import { checkTransition, setStatus } from './status.js';
import type { CaseRow } from './view.js';
import { openConsultations, type ConsultationRow } from './consultations.js';

export interface ConsultInput {
  caseId: string;
  /** one or more department ids, each consulted with its own mail and deadline */
  departments: string[];
  text: string;
  /** checked with checkAttachments before the transaction */
  attachments: FileAttachment[];
}

export interface ConsultResult {
  caseId: string;
  status: CaseRow['status'];
  consultations: Array<{ id: number; dept: string; deadline_at: string; outboxId: number; messageId: string }>;
}

function findDepartment(config: Config, id: string): DepartmentConfig {
  const dept = config.departments.find((d) => d.id === id);
  if (dept) return dept;
  const known = config.departments.map((d) => d.id).join(', ') || '(none configured)';
  throw usageError('EUNKNOWNDEPT', `There is no department "${id}" (known: ${known}).`);
}

/** The case's box, which every mail about the case leaves from. */
function caseBox(config: Config, row: CaseRow) {
  const box = config.mailboxes.find((m) => m.id === row.mailbox_id);
  if (!box) throw dataError('ENOMAILBOX', `Case ${row.id} belongs to mailbox ${row.mailbox_id}, which is no longer configured.`);
  return box;
}

/** A consultation can start from a case being worked on (a waiting case is taken first). */
function checkMayConsult(row: CaseRow): void {
  if (row.status === 'under_consultation') return;
  const base = row.status === 'received' ? 'in_progress' : row.status;
  try {
    checkTransition(row.id, base, 'under_consultation');
  } catch (err) {
    if (!(err instanceof MailwardenError)) throw err;
    throw usageError('EBADTRANSITION', `Case ${row.id} is ${row.status}; only a case being worked on can be referred to a department.`);
  }
}

function checkDepartments(config: Config, row: CaseRow, ids: string[], open: ConsultationRow[]): DepartmentConfig[] {
  if (ids.length === 0) throw usageError('ENODEPT', 'Name the department to consult with --dept.');
  const unique = [...new Set(ids)];
  const depts = unique.map((id) => findDepartment(config, id));
  const already = depts.filter((d) => open.some((c) => c.dept_id === d.id));
  if (already.length > 0) {
    const names = already.map((d) => d.id).join(', ');
    throw usageError('ECONSULTOPEN', `Case ${row.id} already waits for ${names}; withdraw that consultation first to ask again.`);
  }
  return depts;
}

/**
 * A mail to a department about one consultation, from the case's box, written by `actor`. Its
 * Message-ID carries a consult token issued to the department for this consultation, so their
 * answer (In-Reply-To) names it.
 */
function mailDepartment(
  tx: Kysely<DB>,
  config: Config,
  row: CaseRow,
  actor: ConsultantConfig,
  dept: DepartmentConfig,
  mail: { template: 'consultation' | 'consultation-withdrawn'; consultation: Record<string, unknown> & { id: number }; attachments?: FileAttachment[] },
) {
  const box = caseBox(config, row);
  return queueMail(tx, {
    config,
    caseId: row.id,
    kind: 'consultation',
    template: mail.template,
    scope: { pool: row.pool_id, mailbox: box.id },
    from: boxSender(config, box),
    to: [{ address: dept.email, name: dept.name }],
    vars: {
      consultant: { id: actor.id, name: actor.name, email: actor.email },
      department: { id: dept.id, name: dept.name, email: dept.email },
      consultation: mail.consultation,
    },
    attachments: (mail.attachments ?? []).map((f) => ({ filename: f.filename, path: f.path, contentType: f.contentType })),
    messageKind: 'consult_out',
    author: actor.id,
    ...(mail.template === 'consultation-withdrawn' ? { autoSubmitted: 'auto-generated' as const } : {}),
    token: { purpose: 'consult', ref: mail.consultation.id, recipient: { kind: 'department', id: dept.id } },
  });
}

export async function consultCase(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, input: ConsultInput): Promise<ConsultResult> {
  const row = await getCaseRow(tx, input.caseId);
  checkMayWorkOn(actor, row, 'consult on');
  checkMayConsult(row);
  const text = input.text.replace(/\r\n?/g, '\n').trim();
  if (!text) throw usageError('EEMPTY', 'The consultation is empty: write what the department should answer.');
  const depts = checkDepartments(config, row, input.departments, await openConsultations(tx, row.id));
  const at = nowIso();

  const current = await takeCase(tx, row, actor, at);
  const consultations: ConsultResult['consultations'] = [];
  for (const dept of depts) {
    const deadline = deadlineAfter(config, dept.calendar, at, dept.deadline);
    const inserted = await tx
      .insertInto('consultations')
      .values({
        case_id: row.id,
        dept_id: dept.id,
        consultant: actor.id,
        outbox_id: null,
        sent_at: at,
        deadline_at: deadline,
        answered_at: null,
        overdue_notified_at: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const queued = await mailDepartment(tx, config, row, actor, dept, {
      template: 'consultation',
      consultation: { id: inserted.id, text, deadline_at: deadline, deadline_local: formatInZone(new Date(deadline), config.instance.timezone, true) },
      attachments: input.attachments,
    });
    await tx.updateTable('consultations').set({ outbox_id: queued.outboxId, question_row_id: queued.messageRowId }).where('id', '=', inserted.id).execute();
    await recordEvent(tx, {
      caseId: row.id,
      actor: actor.id,
      kind: 'consultation',
      field: 'consultation',
      to: 'open',
      at,
      data: { consultation: inserted.id, dept: dept.id, deadline_at: deadline, outbox: queued.outboxId },
    });
    consultations.push({ id: inserted.id, dept: dept.id, deadline_at: deadline, outboxId: queued.outboxId, messageId: queued.messageId });
  }
  if (current.status !== 'under_consultation') await setStatus(tx, current, actor.id, { status: 'under_consultation' }, at);
  return { caseId: row.id, status: 'under_consultation', consultations };
}

export interface WithdrawResult {
  caseId: string;
  consultationId: number;
  dept: string;
  status: CaseRow['status'];
}

/**
 * Ends a consultation that is no longer needed. The department is told by mail (with the consult
 * token, so an answer that crosses it still threads onto the case, as a late answer that changes
 * nothing). When no consultation stays open the case is back in progress.
 */
export async function withdrawConsultation(
  tx: Kysely<DB>,
  config: Config,
  actor: ConsultantConfig,
  input: { caseId: string; dept: string },
): Promise<WithdrawResult> {
  const row = await getCaseRow(tx, input.caseId);
  checkMayWorkOn(actor, row, 'withdraw a consultation on');
  const dept = findDepartment(config, input.dept);
  const open = await openConsultations(tx, row.id);
  const target = open.find((c) => c.dept_id === dept.id);
  if (!target) throw usageError('ENOCONSULT', `Case ${row.id} has no open consultation with ${dept.id} to withdraw.`);
  const at = nowIso();
  const done = await tx
    .updateTable('consultations')
    .set({ state: 'withdrawn', withdrawn_by: actor.id, withdrawn_at: at })
    .where('id', '=', target.id)
    .where('state', '=', 'open')
    .executeTakeFirst();
  if (Number(done.numUpdatedRows) !== 1)
    throw unavailableError('ECONFLICT', `Consultation ${target.id} changed at the same moment; nothing was changed, try again.`);
  await recordEvent(tx, {
    caseId: row.id,
    actor: actor.id,
    kind: 'consultation',
    field: 'consultation',
    from: 'open',
    to: 'withdrawn',
    at,
    data: { consultation: target.id, dept: dept.id },
  });
  await mailDepartment(tx, config, row, actor, dept, { template: 'consultation-withdrawn', consultation: { id: target.id } });
  let status = row.status;
  if (open.length === 1 && row.status === 'under_consultation') {
    await setStatus(tx, row, actor.id, { status: 'in_progress' }, at);
    status = 'in_progress';
  }
  return { caseId: row.id, consultationId: target.id, dept: dept.id, status };
}
