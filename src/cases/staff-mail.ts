// What a verified staff mail does (SPEC §5A, §5B): the domain half of a consultant or supervisor
// answering from their own mail client. Ingest has already checked the token and the sender
// (src/ingest/staff-mail.ts); here the text is read and the same actions the CLI runs are taken,
// with the same rules: a reply is relayed as `reply` relays it (box From, threading, footer,
// trainee rule), `#comment` makes it internal, `#status` / `#answer` lines set the status, and an
// answer to an approval request decides it with APPROVE or REJECT <reason>.
//
// The quoted mail under the answer (the notification, the draft) is cut off with
// email-reply-parser, which knows the quote headers of the common clients in many languages.
import EmailReplyParser from 'email-reply-parser';
import type { Kysely } from 'kysely';
import type { Config, ConsultantConfig } from '../config/types.js';
import type { CaseStatus, DB } from '../db/schema.js';
import { usageError } from '../errors.js';
import type { TokenPurpose } from '../tokens.js';
import { decideApproval, getApproval } from './approvals.js';
import type { FileAttachment } from './attachments.js';
import { addComment } from './edit.js';
import { parseAnswers, type Answers } from './questionnaire.js';
import { changeStatusWithoutMail, checkReplyStatus, replyToCase } from './reply.js';
import { parseWhen } from './when.js';

export interface StaffMailInput {
  purpose: TokenPurpose;
  caseId: string;
  /** the approval (or consultation) the token names */
  ref: number | null;
  /** the mail's text, quotes included */
  text: string;
  /** files the mail carried (not inline images): relayed with a reply, as `reply --attach` does */
  attachments: FileAttachment[];
}

export type StaffMailResult =
  | { action: 'reply'; caseId: string; outboxId: number; state: 'queued' | 'held'; approvalId: number | null; status: CaseStatus }
  | { action: 'comment'; caseId: string; messageRowId: number }
  | { action: 'status'; caseId: string; status: CaseStatus }
  | { action: 'approved' | 'rejected'; caseId: string; approvalId: number };

/** The answer without the quoted mail under it. */
export function answerText(text: string): string {
  return new EmailReplyParser().parseReply(text.replace(/\r\n?/g, '\n')).trim();
}

export interface Commands {
  comment: boolean;
  status: CaseStatus | null;
  remindAt: Date | null;
  answers: Answers;
  /** what remains for the customer (or the comment) */
  body: string;
}

/**
 * The command lines at the top of an answer: `#comment`, `#status <status> [reminder time]`,
 * `#answer key=value`. They stop at the first other line; a `#code` there is a snippet, as in `reply`.
 */
export function readCommands(text: string, timeZone: string): Commands {
  const lines = text.split('\n');
  const out: Commands = { comment: false, status: null, remindAt: null, answers: {}, body: '' };
  const answers: string[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const m = /^#(comment|status|answer)\b\s*(.*)$/i.exec(line);
    if (!m) break;
    const [, word, rest] = m;
    if (word!.toLowerCase() === 'comment') out.comment = true;
    else if (word!.toLowerCase() === 'answer') answers.push(rest!);
    else {
      const [status, ...when] = rest!.split(/\s+/);
      out.status = checkReplyStatus(status ?? '');
      if (when.length > 0) out.remindAt = parseWhen(when.join(' '), timeZone, '#status postponed');
    }
  }
  out.answers = parseAnswers(answers);
  out.body = lines.slice(i).join('\n').trim();
  return out;
}

export async function applyStaffMail(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, input: StaffMailInput): Promise<StaffMailResult> {
  const text = answerText(input.text);
  if (input.purpose === 'approve') return decideByMail(tx, config, actor, input, text);
  if (input.purpose !== 'reply') throw usageError('ESTAFFMAIL', `A ${input.purpose} token cannot be answered here yet.`);
  const cmd = readCommands(text, config.instance.timezone);
  if (cmd.comment) {
    if (cmd.status) throw usageError('ESTAFFMAIL', 'A #comment cannot also set the status; send the #status line in a mail of its own.');
    const r = await addComment(tx, actor, input.caseId, cmd.body);
    return { action: 'comment', caseId: r.caseId, messageRowId: r.messageRowId };
  }
  if (!cmd.body) {
    if (!cmd.status) throw usageError('EEMPTY', 'The answer is empty: nothing to send to the customer.');
    const status = await changeStatusWithoutMail(tx, config, actor, {
      via: 'mail',
      caseId: input.caseId,
      status: cmd.status,
      answers: cmd.answers,
      ...(cmd.remindAt ? { remindAt: cmd.remindAt } : {}),
    });
    return { action: 'status', caseId: input.caseId, status };
  }
  const r = await replyToCase(tx, config, actor, {
    caseId: input.caseId,
    text: cmd.body,
    attachments: input.attachments,
    answers: cmd.answers,
    via: 'mail',
    ...(cmd.status ? { status: cmd.status } : {}),
    ...(cmd.remindAt ? { remindAt: cmd.remindAt } : {}),
  });
  return { action: 'reply', caseId: r.caseId, outboxId: r.outboxId, state: r.state, approvalId: r.approvalId, status: r.status };
}

/** First line APPROVE, or REJECT followed by the reason (on that line or the lines under it). */
async function decideByMail(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, input: StaffMailInput, text: string): Promise<StaffMailResult> {
  if (input.ref === null) throw usageError('ESTAFFMAIL', 'The approval token names no approval.');
  const [first = '', ...rest] = text.split('\n');
  const m = /^\s*(APPROVE|REJECT)\b[\s:.-]*(.*)$/i.exec(first);
  if (!m) throw usageError('ESTAFFMAIL', `The first line of an answer to an approval request must be APPROVE or REJECT <reason>, not "${first.slice(0, 60)}".`);
  const approval = await getApproval(tx, input.ref);
  if (approval.case_id !== input.caseId) throw usageError('ESTAFFMAIL', `Approval ${approval.id} is not on case ${input.caseId}.`);
  const decision = m[1]!.toUpperCase() === 'APPROVE' ? 'approve' : 'reject';
  const reason = [m[2] ?? '', ...rest].join('\n').trim();
  const r = await decideApproval(tx, config, actor, { approvalId: input.ref, decision, ...(decision === 'reject' ? { reason } : {}), via: 'mail' });
  return { action: r.state, caseId: r.caseId, approvalId: r.approvalId };
}
