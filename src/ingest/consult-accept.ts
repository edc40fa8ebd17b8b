// The accept transaction's branch for a department's answer to a consultation (SPEC §5C). It is
// reached two ways: a mail naming the consult token the department was issued (verified by
// ./staff-accept.ts like every token), or a mail from a configured department address or alias
// whose subject carries the tag of a case that consulted that department (a department answering
// from a client that dropped the headers). A stranger using the tag is not a department: the
// participant rule of src/ingest/thread.ts handles that mail. The answer is stored as a `consult_in`
// message, never as a customer message: no participant, no reopen, no auto-response.
import type { Kysely } from 'kysely';
import type { Config } from '../config/types.js';
import { tagsInSubject } from '../db/case-ids.js';
import { recordEvent } from '../db/history.js';
import { insertMessage } from '../db/message-rows.js';
import type { DB } from '../db/schema.js';
import { recordConsultAnswer } from '../cases/consult-answer.js';
import { quarantineMail } from '../cases/quarantine.js';
import type { AcceptInput, AcceptResult } from './accept.js';
import { checkAuthenticationResults } from './auth-results.js';
import type { Classification } from './classify.js';
import type { ParsedMessage } from './message.js';
import { staffByAddress } from './staff-mail.js';

type Recorder = (outcome: 'staff' | 'quarantine', caseId: string | null, messageRowId: number | null) => Promise<void>;

export interface DepartmentAnswer {
  caseId: string;
  deptId: string;
  consultationId: number | null;
  via: 'token' | 'tag';
}

/** A mail from a department's address whose subject tags a case that consulted that department. */
export async function findTaggedDepartmentAnswer(tx: Kysely<DB>, config: Config, parsed: ParsedMessage): Promise<DepartmentAnswer | null> {
  const sender = staffByAddress(config, parsed.from?.address);
  if (sender?.kind !== 'department') return null;
  for (const caseId of tagsInSubject(parsed.subject, config.instance.case_prefix).slice(0, 10)) {
    const consulted = await tx.selectFrom('consultations').select('id').where('case_id', '=', caseId).where('dept_id', '=', sender.id).executeTakeFirst();
    if (consulted) return { caseId, deptId: sender.id, consultationId: null, via: 'tag' };
  }
  return null;
}

/**
 * The tag way carries no token, so only the From says it is the department's: where the operator's
 * MTA vouches for senders (`ingest.authentication_results`), it must vouch for this one, and an
 * automatic reply answers nothing. Such mail is quarantined, as staff mail with a token would be.
 */
export async function acceptTaggedDepartmentAnswer(
  tx: Kysely<DB>,
  input: AcceptInput,
  cls: Classification,
  answer: DepartmentAnswer,
  at: string,
  record: Recorder,
): Promise<AcceptResult> {
  const { config, parsed } = input;
  const from = parsed.from?.address ?? '';
  const authservId = config.ingest.authentication_results;
  const auth = authservId ? checkAuthenticationResults(parsed.authResults, authservId, from) : { pass: true, detail: '' };
  const problem = !auth.pass
    ? ({ reason: 'authentication_failed', detail: auth.detail } as const)
    : cls.kind === 'auto_reply'
      ? ({ reason: 'automatic_reply', detail: `an automatic reply (${cls.reason}) answers no consultation` } as const)
      : null;
  if (!problem) return acceptConsultAnswer(tx, input, answer, at, record);
  const id = await quarantineMail(tx, {
    rawSha256: input.raw.sha256,
    mailboxId: input.mailbox.id,
    caseId: answer.caseId,
    from,
    subject: parsed.subject,
    messageId: parsed.messageId,
    reason: problem.reason,
    detail: problem.detail,
    token: null,
    issuedTo: `department:${answer.deptId}`,
    at,
  });
  await record('quarantine', answer.caseId, null);
  return { outcome: 'quarantined', caseId: answer.caseId, messageRowId: null, detail: `quarantine #${id}: ${problem.reason} (${problem.detail})` };
}

/** Stores the department's mail on the case as `consult_in` and lets the case rules act on it. */
export async function acceptConsultAnswer(tx: Kysely<DB>, input: AcceptInput, answer: DepartmentAnswer, at: string, record: Recorder): Promise<AcceptResult> {
  const { config, parsed } = input;
  const messageRowId = await insertMessage(tx, {
    caseId: answer.caseId,
    kind: 'consult_in',
    parsed,
    rawSha256: input.raw.sha256,
    at,
    flags: parsed.flags,
    isFeedback: false,
    isAutoReply: false,
  });
  await recordEvent(tx, {
    caseId: answer.caseId,
    actor: 'system',
    kind: 'message',
    at,
    data: { message_row_id: messageRowId, from: parsed.from?.address ?? null, via: answer.via, consult: answer.deptId },
  });
  const result = await recordConsultAnswer(tx, config, {
    caseId: answer.caseId,
    deptId: answer.deptId,
    consultationId: answer.consultationId,
    via: answer.via,
    messageRowId,
    text: parsed.text,
    at,
  });
  await record('staff', answer.caseId, messageRowId);
  const what =
    result.effect === 'answered'
      ? `answered consultation ${result.consultationId}${result.late ? ' (late)' : ''}`
      : `follow-up on consultation ${result.consultationId}`;
  return { outcome: 'staff', caseId: answer.caseId, messageRowId, detail: `${answer.deptId} ${what} (by ${answer.via}); case ${result.status}` };
}
