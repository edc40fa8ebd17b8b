// A consultant's reply to the customer (SPEC §5): snippets expanded in the case's language, the
// consultant's footer (text + inline JPEG), attachments, threaded onto the customer's mail, written
// to the outbox in the same transaction as the status change it causes. A trainee's reply is held
// for the supervisor's approval, so nothing reaches the customer before that.
import fs from 'node:fs';
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { CaseStatus, DB } from '../db/schema.js';
import type { Config, ConsultantConfig } from '../config/types.js';
import { dataError, usageError } from '../errors.js';
import { boxSender, queueMail } from '../outbound/queue.js';
import { ratingAppendix } from '../outbound/rating-line.js';
import { checkMayWorkOn } from './actors.js';
import { checkNoCollision } from './collision.js';
import { describe, type FileAttachment } from './attachments.js';
import { changeCase, recordEvent, setFirstResponse } from '../db/history.js';
import { getCaseRow } from './queries.js';
import { checkAnswers, poolQuestionnaire, questionnaireRequired, storeAnswers, type Answers } from './questionnaire.js';
import { expandSnippets, type SnippetUse } from './snippets.js';
import { checkTransition, isClosing, setStatus } from './status.js';
import { requestApproval } from './approvals.js';
import type { CaseRow } from './view.js';

/** Statuses a reply may set (`--status`). */
const REPLY_STATUSES: readonly CaseStatus[] = ['in_progress', 'postponed', 'solved', 'closed'];

export interface ReplyInput {
  caseId: string;
  text: string;
  /** Checked with checkAttachments before the transaction. */
  attachments: FileAttachment[];
  status?: CaseStatus;
  /** When a postponed case comes back; required with postponed. */
  remindAt?: Date;
  answers?: Answers;
  /** `mail`: relayed from the consultant's own mail client (SPEC §5A); shown as such */
  via?: 'cli' | 'mail';
  /** go ahead although the case changed since the consultant last viewed it (SPEC §5 collision warning) */
  force?: boolean;
}

export interface ReplyResult {
  caseId: string;
  outboxId: number;
  messageId: string;
  messageRowId: number | null;
  state: 'queued' | 'held';
  status: CaseStatus;
  snippets: SnippetUse[];
  approvalId: number | null;
  /** the supervisor asked to approve a held reply */
  approver: string | null;
}

export function checkReplyStatus(text: string): CaseStatus {
  if (!REPLY_STATUSES.includes(text as CaseStatus)) {
    throw usageError('EBADSTATUS', `A reply sets the status to one of ${REPLY_STATUSES.join(', ')}, not "${text}".`);
  }
  return text as CaseStatus;
}

/** The footer JPEG as an inline part with a Content-ID the HTML alternative shows. */
function footerImage(actor: ConsultantConfig): FileAttachment | null {
  const image = actor.footer?.image;
  if (!image) return null;
  try {
    return describe(image, fs.readFileSync(image), `footer-${actor.id}@mailwarden`);
  } catch (err) {
    throw dataError('EFOOTER', `The footer image of ${actor.id} cannot be read (${image}): ${(err as Error).message}.`);
  }
}

/**
 * Message-IDs of the customer-visible thread, oldest first, and the customer's latest one: the
 * reply answers the customer, not whoever else wrote on the case last (a copied colleague).
 */
async function threadIds(tx: Kysely<DB>, row: CaseRow): Promise<{ inReplyTo: string | null; references: string[] }> {
  const rows = await tx
    .selectFrom('messages')
    .select(['kind', 'message_id', 'from_address'])
    .where('case_id', '=', row.id)
    .where('kind', 'in', ['inbound', 'outbound', 'auto_response'])
    .where('message_id', 'is not', null)
    .orderBy('id')
    .execute();
  const inbound = rows.filter((r) => r.kind === 'inbound');
  const customer = row.customer_address.toLowerCase();
  const answered = inbound.filter((r) => r.from_address?.toLowerCase() === customer).pop() ?? inbound[inbound.length - 1];
  return { inReplyTo: answered?.message_id ?? null, references: rows.map((r) => r.message_id!) };
}

function ratingsOn(config: Config, poolId: string): boolean {
  return config.pools.find((p) => p.id === poolId)?.ratings === true;
}

/** Where the reply leaves the case, with the checks that target needs. */
function targetStatus(row: CaseRow, input: ReplyInput): CaseStatus {
  // Replying to a waiting case takes it, so the requested status is checked from in_progress.
  const base: CaseStatus = row.status === 'received' ? 'in_progress' : row.status;
  const target = input.status ?? base;
  checkTransition(row.id, base, target);
  if (input.status === 'postponed') {
    if (!input.remindAt) throw usageError('ENOREMIND', 'A postponed case needs the time it comes back.');
    if (input.remindAt.getTime() <= Date.parse(nowIso())) throw usageError('EBADTIME', `The reminder time ${input.remindAt.toISOString()} is in the past.`);
  } else if (input.remindAt) {
    throw usageError('EBADREMIND', 'A reminder time only goes with postponing the case.');
  }
  return target;
}

function checkQuestionnaire(config: Config, row: CaseRow, target: CaseStatus, answers: Answers) {
  const q = poolQuestionnaire(config, row.pool_id);
  const given = Object.keys(answers).length > 0;
  if (!q) {
    if (given) throw usageError('ENOQUESTIONNAIRE', `Pool ${row.pool_id} has no questionnaire to answer.`);
    return null;
  }
  const required = questionnaireRequired(q, isClosing(target) && !isClosing(row.status));
  if (!required && !given) return null;
  return { q, answers: checkAnswers(config, q, answers, required) };
}

export async function replyToCase(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, input: ReplyInput): Promise<ReplyResult> {
  const row = await getCaseRow(tx, input.caseId);
  checkMayWorkOn(actor, row, 'reply to');
  // A reply from the consultant's mail client answers the notification it quotes: not checked.
  if (input.via !== 'mail') await checkNoCollision(tx, config, row.id, actor.id, { force: input.force === true });
  const body = input.text.replace(/\r\n?/g, '\n').trim();
  if (!body) throw usageError('EEMPTY', 'The reply is empty; nothing was sent.');
  const target = targetStatus(row, input);
  const questionnaire = checkQuestionnaire(config, row, target, input.answers ?? {});
  const expanded = expandSnippets(config, body, { language: row.language, poolId: row.pool_id });

  const mailbox = config.mailboxes.find((m) => m.id === row.mailbox_id);
  if (!mailbox) throw dataError('ENOMAILBOX', `Case ${row.id} belongs to mailbox ${row.mailbox_id}, which is no longer configured.`);
  const held = actor.trainee;
  const footer = footerImage(actor);
  const files = [...input.attachments, ...(footer ? [footer] : [])];
  const thread = await threadIds(tx, row);
  const at = nowIso();

  const queued = await queueMail(tx, {
    config,
    caseId: row.id,
    kind: 'reply',
    template: 'reply',
    scope: { pool: row.pool_id, mailbox: mailbox.id },
    from: boxSender(config, mailbox),
    to: [{ address: row.customer_address, ...(row.customer_name ? { name: row.customer_name } : {}) }],
    inReplyTo: thread.inReplyTo,
    references: thread.references,
    vars: {
      consultant: { id: actor.id, name: actor.name, email: actor.email, footer_text: actor.footer?.text ?? '' },
      reply: { text: expanded.text },
      // The first mail of a thread (a staff-opened case) answers nothing, so its subject has no "Re:".
      ...(thread.references.length === 0 ? { case: { subject_re: row.subject } } : {}),
    },
    attachments: files.map((f) => ({ filename: f.filename, path: f.path, contentType: f.contentType, ...(f.cid ? { cid: f.cid } : {}) })),
    state: held ? 'held' : 'queued',
    messageKind: 'outbound',
    author: actor.id,
    ...(input.via === 'mail' ? { messageFlags: ['via_mail'] } : {}),
    // Rated replies (SPEC §5E): a held reply's frozen bytes carry the line too, so approval sends it unchanged.
    ...(ratingsOn(config, row.pool_id) ? { appendix: ratingAppendix({ config, box: mailbox, caseId: row.id, customer: row.customer_address }) } : {}),
  });

  if (queued.messageRowId !== null) {
    for (const f of files) {
      await tx
        .insertInto('attachments')
        .values({
          message_row_id: queued.messageRowId,
          filename: f.filename,
          content_type: f.contentType,
          size: f.size,
          sha256: f.sha256,
          content_id: f.cid ?? null,
          inline: f.cid ? 1 : 0,
        })
        .execute();
    }
  }
  for (const use of expanded.uses) {
    await tx.insertInto('snippet_uses').values({ case_id: row.id, code: use.code, language: use.language, consultant: actor.id, at }).execute();
  }
  await recordEvent(tx, {
    caseId: row.id,
    actor: actor.id,
    kind: 'reply',
    to: held ? 'held' : 'queued',
    at,
    data: { outbox: queued.outboxId, message_id: queued.messageId, ...(input.via === 'mail' ? { via: 'mail' } : {}) },
  });

  let approval: { id: number; approver: string } | null = null;
  if (held) {
    // Four eyes (SPEC §5B): replying takes the case, but what the reply asks for waits for approval.
    await takeCase(tx, row, actor, at);
    approval = await requestApproval(tx, config, {
      row,
      trainee: actor,
      outboxId: queued.outboxId,
      text: expanded.text,
      effects: { status: target, remindAt: input.remindAt?.toISOString() ?? null, answers: questionnaire?.answers ?? {} },
      at,
    });
  } else {
    if (questionnaire) await storeAnswers(tx, row.id, questionnaire.q, questionnaire.answers, actor.id, at);
    await moveAfterReply(tx, row, actor, target, input.remindAt ?? null, at);
    await setFirstResponse(tx, row, actor.id, at);
  }

  return {
    caseId: row.id,
    outboxId: queued.outboxId,
    messageId: queued.messageId,
    messageRowId: queued.messageRowId,
    state: held ? 'held' : 'queued',
    status: held ? (await getCaseRow(tx, row.id)).status : target,
    snippets: expanded.uses,
    approvalId: approval?.id ?? null,
    approver: approval?.approver ?? null,
  };
}

/** Takes a waiting or unassigned case for the replier; returns the case as it is then. */
export async function takeCase(tx: Kysely<DB>, row: CaseRow, actor: ConsultantConfig, at: string): Promise<CaseRow> {
  if (row.status === 'received') {
    await setStatus(tx, row, actor.id, { status: 'in_progress', ...(row.assignee === null ? { assignee: actor.id } : {}) }, at);
    return getCaseRow(tx, row.id);
  }
  if (row.assignee === null) await changeCase(tx, row.id, actor.id, { assignee: actor.id }, { at });
  return row;
}

/** Takes the case for the replier, then moves it to the target status. */
async function moveAfterReply(tx: Kysely<DB>, row: CaseRow, actor: ConsultantConfig, target: CaseStatus, remindAt: Date | null, at: string): Promise<void> {
  const current = await takeCase(tx, row, actor, at);
  if (target !== current.status) {
    await setStatus(tx, current, actor.id, { status: target, remindAt: remindAt ? remindAt.toISOString() : null }, at);
  }
}

export interface StatusInput {
  caseId: string;
  status: CaseStatus;
  remindAt?: Date;
  answers?: Answers;
  /** why (an out-of-office, spam, a duplicate…): recorded in the history with the change */
  reason?: string;
  /** go ahead although the case changed since this consultant last viewed it */
  force?: boolean;
  /** `mail`: a `#status` line from the consultant's mail client, which answers the notification it quotes (no collision check) */
  via?: 'cli' | 'mail';
}

/**
 * A status change without mail to the customer (a `#status` line alone in a mail from the
 * consultant's mail client, or `mailwarden status`): the checks a reply's status gets,
 * questionnaire included. A reason is kept in the history next to the change.
 */
export async function changeStatusWithoutMail(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, input: StatusInput): Promise<CaseStatus> {
  const row = await getCaseRow(tx, input.caseId);
  checkMayWorkOn(actor, row, 'change');
  if (input.via !== 'mail') await checkNoCollision(tx, config, row.id, actor.id, { force: input.force === true });
  const replyLike: ReplyInput = {
    caseId: input.caseId,
    text: '',
    attachments: [],
    status: input.status,
    ...(input.remindAt ? { remindAt: input.remindAt } : {}),
  };
  const target = targetStatus(row, replyLike);
  const questionnaire = checkQuestionnaire(config, row, target, input.answers ?? {});
  const at = nowIso();
  if (questionnaire) await storeAnswers(tx, row.id, questionnaire.q, questionnaire.answers, actor.id, at);
  await moveAfterReply(tx, row, actor, target, input.remindAt ?? null, at);
  const reason = input.reason?.trim();
  if (reason) await recordEvent(tx, { caseId: row.id, actor: actor.id, kind: 'change', field: 'status_reason', from: null, to: reason, at });
  return target;
}
