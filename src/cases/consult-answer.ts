// A department's answer to a consultation (SPEC §5C). Ingest has already recognised the mail as
// the department's (a consult token it was issued, or the case tag from its configured address)
// and stored it as a `consult_in` message; this ends the consultation, brings the case back to
// its consultant when nothing else is awaited, and tells the consultant. The answer is never
// relayed to the customer. An answer that comes after the consultation was answered or withdrawn
// is kept on the case and told to the consultant, and changes nothing else.
import type { Kysely } from 'kysely';
import type { Config, ConsultantConfig } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { recordEvent } from '../db/history.js';
import { usageError } from '../errors.js';
import { onDuty } from './absence.js';
import { handOverIfAway } from './absence-moves.js';
import { openConsultations, type ConsultationRow } from './consultations.js';
import { notifyConsultantOnCase } from './staff-notice.js';
import { getCaseRow } from './queries.js';
import { setStatus } from './status.js';
import type { CaseRow } from './view.js';

export interface ConsultAnswerInput {
  caseId: string;
  deptId: string;
  /** from the token; null when the answer was recognised by the case tag */
  consultationId: number | null;
  via: 'token' | 'tag';
  messageRowId: number;
  text: string;
  at: string;
}

export interface ConsultAnswerResult {
  consultationId: number;
  /** `answered`: this mail ended the consultation; `follow-up`: it had ended before */
  effect: 'answered' | 'follow-up';
  late: boolean;
  status: CaseRow['status'];
}

/** The consultation an answer is about: the one its token names, else the department's oldest open one, else its latest. */
async function consultationFor(tx: Kysely<DB>, input: ConsultAnswerInput): Promise<ConsultationRow> {
  if (input.consultationId !== null) {
    const row = await tx.selectFrom('consultations').selectAll().where('id', '=', input.consultationId).executeTakeFirst();
    if (!row || row.case_id !== input.caseId || row.dept_id !== input.deptId) {
      throw usageError('ESTAFFMAIL', `Consultation ${input.consultationId} is not ${input.deptId}'s on case ${input.caseId}.`);
    }
    return row;
  }
  const all = await tx.selectFrom('consultations').selectAll().where('case_id', '=', input.caseId).where('dept_id', '=', input.deptId).orderBy('id').execute();
  const chosen = all.find((c) => c.state === 'open') ?? all[all.length - 1];
  if (!chosen) throw usageError('ESTAFFMAIL', `Case ${input.caseId} has no consultation with ${input.deptId}.`);
  return chosen;
}

export async function recordConsultAnswer(tx: Kysely<DB>, config: Config, input: ConsultAnswerInput): Promise<ConsultAnswerResult> {
  const consultation = await consultationFor(tx, input);
  const actor = `department:${input.deptId}`;
  const late = Date.parse(input.at) > Date.parse(consultation.deadline_at);
  let effect: ConsultAnswerResult['effect'] = 'follow-up';
  if (consultation.state === 'open') {
    const done = await tx
      .updateTable('consultations')
      .set({ state: 'answered', answered_at: input.at, answer_row_id: input.messageRowId, answered_via: input.via })
      .where('id', '=', consultation.id)
      .where('state', '=', 'open')
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) === 1) effect = 'answered';
  }
  await recordEvent(tx, {
    caseId: input.caseId,
    actor,
    kind: 'consultation',
    field: 'consultation',
    from: effect === 'answered' ? 'open' : consultation.state,
    to: effect === 'answered' ? 'answered' : consultation.state,
    at: input.at,
    data: { consultation: consultation.id, dept: input.deptId, message_row_id: input.messageRowId, via: input.via, late, follow_up: effect === 'follow-up' },
  });

  let row = await getCaseRow(tx, input.caseId);
  if (effect === 'answered' && row.status === 'under_consultation' && (await openConsultations(tx, row.id)).length === 0) {
    await setStatus(tx, row, actor, { status: 'in_progress' }, input.at);
    row = await getCaseRow(tx, input.caseId);
  }
  // The consultant hears of it, or whoever stands in while they are away (SPEC §5D).
  row = await handOverIfAway(tx, config, row.id, input.at);
  const consultant = await onDuty(tx, config, row.assignee ?? consultation.consultant, input.at);
  if (consultant) await notifyConsultant(tx, config, row, consultant, input, effect);
  return { consultationId: consultation.id, effect, late, status: row.status };
}

/** Tells the consultant the department answered; her answer to that mail goes to the customer (reply token). */
async function notifyConsultant(
  tx: Kysely<DB>,
  config: Config,
  row: CaseRow,
  consultant: ConsultantConfig,
  input: ConsultAnswerInput,
  effect: ConsultAnswerResult['effect'],
): Promise<void> {
  const box = config.mailboxes.find((m) => m.id === row.mailbox_id);
  if (!box) return;
  const dept = config.departments.find((d) => d.id === input.deptId);
  const name = dept?.name ?? input.deptId;
  const title = effect === 'answered' ? `${name} answered the consultation` : `${name} wrote again on the consultation`;
  const text =
    effect === 'answered' && row.status !== 'under_consultation'
      ? `${name} answered on case ${row.id}; the case is ${row.status} again.`
      : `${name} wrote on case ${row.id} (the case is ${row.status}).`;
  await notifyConsultantOnCase(tx, config, row, box, consultant, { title, text, quoted: input.text });
}
