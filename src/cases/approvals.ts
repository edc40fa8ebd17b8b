// Four eyes (SPEC §5B). A trainee's reply is written to the outbox `held`; an approval row binds
// that held mail (the SHA-256 of its bytes) and keeps what the reply asked for (status, reminder,
// questionnaire answers), which takes effect only when a supervisor approves. The approver is
// mailed the draft with an approve token, so APPROVE or REJECT <reason> from their mail client
// decides as `approve` / `reject` do. Every decision is one compare-and-set on the approval's
// state, so a second decision (another supervisor, the same mail twice) is refused, whatever the
// database.
import crypto from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config, ConsultantConfig } from '../config/types.js';
import type { ApprovalsTable, CaseStatus, DB } from '../db/schema.js';
import type { Db } from '../db/connection.js';
import { recordEvent, setFirstResponse } from '../db/history.js';
import { usageError } from '../errors.js';
import { boxSender, queueMail } from '../outbound/queue.js';
import { rejectHeld, releaseHeld } from '../outbound/outbox.js';
import { isAbsent, onDuty } from './absence.js';
import { isSupervisor } from './actors.js';
import { getCaseRow } from './queries.js';
import { poolQuestionnaire, storeAnswers, type Answers } from './questionnaire.js';
import { checkTransition, setStatus } from './status.js';
import type { CaseRow } from './view.js';

export type ApprovalRow = Selectable<ApprovalsTable>;

/** What a held reply asked for, applied when it is approved. */
export interface HeldEffects {
  status: CaseStatus;
  remindAt: string | null;
  answers: Answers;
}

export interface ApprovalRequest {
  row: CaseRow;
  trainee: ConsultantConfig;
  outboxId: number;
  text: string;
  effects: HeldEffects;
  at: string;
}

/**
 * Who is asked to approve: the trainee's supervisor; while they are away, whoever stands in for
 * them (absence.ts: the replacement named for the absence) if that is a supervisor; else any
 * supervisor who is here (never the trainee).
 */
export async function approverFor(tx: Kysely<DB>, config: Config, trainee: ConsultantConfig, at: string): Promise<ConsultantConfig> {
  const supervisors = config.consultants.filter((c) => isSupervisor(c) && c.id !== trainee.id);
  const own = supervisors.find((c) => c.id === trainee.supervisor);
  if (own) {
    const duty = await onDuty(tx, config, own.id, at);
    if (duty && supervisors.some((c) => c.id === duty.id)) return duty;
  }
  for (const c of supervisors) if (!(await isAbsent(tx, c.id, at))) return c;
  const fallback = own ?? supervisors[0];
  if (!fallback) throw usageError('ENOSUPERVISOR', `Nobody can approve ${trainee.id}'s reply: no consultant has the supervisor role.`);
  return fallback;
}

/** Binds a held reply to an approval and mails the approver the draft with an approve token. */
export async function requestApproval(tx: Kysely<DB>, config: Config, req: ApprovalRequest): Promise<{ id: number; approver: string }> {
  const held = await tx.selectFrom('outbox').select('mime').where('id', '=', req.outboxId).executeTakeFirstOrThrow();
  const approver = await approverFor(tx, config, req.trainee, req.at);
  const approval = await tx
    .insertInto('approvals')
    .values({
      case_id: req.row.id,
      outbox_id: req.outboxId,
      trainee: req.trainee.id,
      supervisor: approver.id,
      state: 'pending',
      reason: null,
      decided_by: null,
      decided_at: null,
      created_at: req.at,
      status: req.effects.status,
      remind_at: req.effects.remindAt,
      answers: JSON.stringify(req.effects.answers),
      mime_sha256: sha256(held.mime),
      decided_via: null,
      request_outbox_id: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await mailRequest(tx, config, { row: req.row, approvalId: approval.id, status: req.effects.status, trainee: req.trainee, approver, text: req.text });
  await recordEvent(tx, {
    caseId: req.row.id,
    actor: req.trainee.id,
    kind: 'approval',
    to: 'pending',
    at: req.at,
    data: { approval: approval.id, approver: approver.id },
  });
  return { id: approval.id, approver: approver.id };
}

interface RequestMail {
  row: CaseRow;
  approvalId: number;
  status: string | null;
  trainee: ConsultantConfig;
  approver: ConsultantConfig;
  text: string;
}

/** Mails the approver the draft with an approve token issued to them, and remembers that mail on the approval. */
async function mailRequest(tx: Kysely<DB>, config: Config, r: RequestMail): Promise<void> {
  const box = config.mailboxes.find((m) => m.id === r.row.mailbox_id);
  if (!box) return;
  const mail = await queueMail(tx, {
    config,
    caseId: r.row.id,
    kind: 'approval_request',
    template: 'approval-request',
    scope: { pool: r.row.pool_id, mailbox: box.id },
    from: boxSender(config, box),
    to: [{ address: r.approver.email, name: r.approver.name }],
    vars: {
      reply: { text: r.text },
      trainee: { id: r.trainee.id, name: r.trainee.name },
      supervisor: { id: r.approver.id, name: r.approver.name },
      approval: { id: r.approvalId, status: r.status },
    },
    messageKind: 'notification',
    author: null,
    autoSubmitted: 'auto-generated',
    token: { purpose: 'approve', ref: r.approvalId, recipient: { kind: 'consultant', id: r.approver.id } },
  });
  await tx.updateTable('approvals').set({ request_outbox_id: mail.outboxId }).where('id', '=', r.approvalId).execute();
}

export interface RerouteResult {
  approval: number;
  case: string;
  from: string;
  to: string;
}

/**
 * Approvals pending with a supervisor who is now away go to whoever approverFor names instead, who
 * is mailed the draft with a token of their own (SPEC §5D). The first request's token stays valid:
 * the absent supervisor may still decide, and the first decision wins either way.
 */
export async function rerouteApprovals(tx: Kysely<DB>, config: Config, supervisor: string, actor: string, at: string): Promise<RerouteResult[]> {
  const pending = await tx.selectFrom('approvals').selectAll().where('supervisor', '=', supervisor).where('state', '=', 'pending').orderBy('id').execute();
  const moved: RerouteResult[] = [];
  for (const approval of pending) {
    const trainee = config.consultants.find((c) => c.id === approval.trainee);
    if (!trainee) continue;
    const approver = await approverFor(tx, config, trainee, at);
    if (approver.id === supervisor) continue;
    await tx.updateTable('approvals').set({ supervisor: approver.id }).where('id', '=', approval.id).where('state', '=', 'pending').execute();
    const row = await getCaseRow(tx, approval.case_id);
    const text = await draftText(tx, approval.outbox_id);
    await mailRequest(tx, config, { row, approvalId: approval.id, status: approval.status, trainee, approver, text });
    await recordEvent(tx, {
      caseId: row.id,
      actor,
      kind: 'approval',
      from: supervisor,
      to: approver.id,
      at,
      data: { approval: approval.id, rerouted: `${supervisor} is absent` },
    });
    moved.push({ approval: approval.id, case: row.id, from: supervisor, to: approver.id });
  }
  return moved;
}

/** The text of a held reply (the draft an approval is about). */
async function draftText(tx: Kysely<DB>, outboxId: number): Promise<string> {
  const draft = await tx
    .selectFrom('messages')
    .select('text')
    .innerJoin('outbox', 'outbox.message_row_id', 'messages.id')
    .where('outbox.id', '=', outboxId)
    .executeTakeFirst();
  return draft?.text ?? '';
}

export interface DecisionInput {
  approvalId: number;
  decision: 'approve' | 'reject';
  reason?: string;
  via: 'cli' | 'mail';
}

export interface DecisionResult {
  approvalId: number;
  caseId: string;
  state: 'approved' | 'rejected';
  outboxId: number;
  /** the status the reply asked for, when it was applied; null when it was no longer allowed */
  status: CaseStatus | null;
}

function sha256(bytes: Uint8Array | string): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

export async function getApproval(tx: Kysely<DB>, id: number): Promise<ApprovalRow> {
  const row = await tx.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw usageError('ENOAPPROVAL', `There is no approval ${id}.`);
  return row;
}

/** Who may decide: a supervisor, never the reply's author. */
function checkMayDecide(actor: ConsultantConfig, approval: ApprovalRow): void {
  if (actor.id === approval.trainee) throw usageError('EFORBIDDEN', `${actor.id} wrote the reply of approval ${approval.id} and may not decide on it.`);
  if (!isSupervisor(actor)) throw usageError('EFORBIDDEN', `Only a supervisor approves replies; ${actor.id} is not one.`);
}

/** Approves (the held mail goes out unchanged, with what it asked for) or rejects (the trainee is told why). */
export async function decideApproval(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, input: DecisionInput): Promise<DecisionResult> {
  const approval = await getApproval(tx, input.approvalId);
  checkMayDecide(actor, approval);
  const reason = input.reason?.trim() ?? '';
  if (input.decision === 'reject' && !reason) throw usageError('ENOREASON', 'A rejection needs a reason for the trainee (--reason).');
  const at = nowIso();
  const state = input.decision === 'approve' ? 'approved' : 'rejected';
  // Compare-and-set: only the first decision changes the row.
  const won = await tx
    .updateTable('approvals')
    .set({ state, reason: reason || null, decided_by: actor.id, decided_at: at, decided_via: input.via })
    .where('id', '=', approval.id)
    .where('state', '=', 'pending')
    .executeTakeFirst();
  if (Number(won.numUpdatedRows) === 0) {
    throw usageError(
      'EDECIDED',
      `Approval ${approval.id} was already ${approval.state} by ${approval.decided_by ?? 'someone'} at ${approval.decided_at ?? '?'}.`,
    );
  }
  const row = await getCaseRow(tx, approval.case_id);
  const result = input.decision === 'approve' ? await approve(tx, config, actor, approval, row, at) : await reject(tx, config, actor, approval, row, reason);
  await recordEvent(tx, { caseId: row.id, actor: actor.id, kind: 'approval', from: 'pending', to: state, at, data: { approval: approval.id, via: input.via } });
  return result;
}

async function approve(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, approval: ApprovalRow, row: CaseRow, at: string): Promise<DecisionResult> {
  const held = await tx.selectFrom('outbox').select(['mime', 'state']).where('id', '=', approval.outbox_id).executeTakeFirstOrThrow();
  if (held.state !== 'held' || (approval.mime_sha256 !== null && sha256(held.mime) !== approval.mime_sha256)) {
    throw usageError('EHELDCHANGED', `The held reply of approval ${approval.id} is not the draft that was sent for approval; nothing was released.`);
  }
  await releaseHeld(tx, approval.outbox_id);
  const status = await applyHeldEffects(tx, config, approval, row, at);
  // The reply is the trainee's words: its first response counts for them (SPEC §6).
  await setFirstResponse(tx, row, approval.trainee, at);
  return { approvalId: approval.id, caseId: row.id, state: 'approved', outboxId: approval.outbox_id, status };
}

/** The status, reminder and answers the trainee gave, as the trainee's; a status no longer allowed from where the case is now is left out. */
async function applyHeldEffects(tx: Kysely<DB>, config: Config, approval: ApprovalRow, row: CaseRow, at: string): Promise<CaseStatus | null> {
  const answers = JSON.parse(approval.answers ?? '{}') as Answers;
  const q = poolQuestionnaire(config, row.pool_id);
  if (q && Object.keys(answers).length > 0) await storeAnswers(tx, row.id, q, answers, approval.trainee, at);
  const target = approval.status as CaseStatus | null;
  if (!target || target === row.status) return target;
  try {
    checkTransition(row.id, row.status, target);
  } catch {
    await recordEvent(tx, {
      caseId: row.id,
      actor: 'system',
      kind: 'approval',
      to: 'status_skipped',
      at,
      data: { approval: approval.id, wanted: target, was: row.status },
    });
    return null;
  }
  await setStatus(tx, row, approval.trainee, { status: target, remindAt: approval.remind_at }, at);
  return target;
}

async function reject(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, approval: ApprovalRow, row: CaseRow, reason: string): Promise<DecisionResult> {
  await rejectHeld(tx, approval.outbox_id);
  const trainee = config.consultants.find((c) => c.id === approval.trainee);
  const box = config.mailboxes.find((m) => m.id === row.mailbox_id);
  if (trainee && box) {
    await queueMail(tx, {
      config,
      caseId: row.id,
      kind: 'notification',
      template: 'approval-rejected',
      scope: { pool: row.pool_id, mailbox: box.id },
      from: boxSender(config, box),
      to: [{ address: trainee.email, name: trainee.name }],
      vars: {
        consultant: { id: trainee.id, name: trainee.name, email: trainee.email },
        supervisor: { id: actor.id, name: actor.name },
        approval: { id: approval.id, reason },
        reply: { text: await draftText(tx, approval.outbox_id) },
      },
      messageKind: 'notification',
      author: null,
      autoSubmitted: 'auto-generated',
      // Her answer to the rejection is a new draft (held again).
      token: { purpose: 'reply', ref: null, recipient: { kind: 'consultant', id: trainee.id } },
    });
  }
  return { approvalId: approval.id, caseId: row.id, state: 'rejected', outboxId: approval.outbox_id, status: null };
}

/** The JSON shape of `mailwarden approvals --json`. */
export interface ApprovalEntry {
  id: number;
  case: string;
  state: string;
  trainee: string;
  approver: string;
  created_at: string;
  status: string | null;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
  text: string;
}

export async function listApprovals(db: Db, opts: { all?: boolean } = {}): Promise<ApprovalEntry[]> {
  let q = db
    .selectFrom('approvals')
    .leftJoin('outbox', 'outbox.id', 'approvals.outbox_id')
    .leftJoin('messages', 'messages.id', 'outbox.message_row_id')
    .select([
      'approvals.id',
      'approvals.case_id',
      'approvals.state',
      'approvals.trainee',
      'approvals.supervisor',
      'approvals.created_at',
      'approvals.status',
      'approvals.decided_by',
      'approvals.decided_at',
      'approvals.reason',
      'messages.text',
    ])
    .orderBy('approvals.id');
  if (!opts.all) q = q.where('approvals.state', '=', 'pending');
  const rows = await q.execute();
  return rows.map((r) => ({
    id: r.id,
    case: r.case_id,
    state: r.state,
    trainee: r.trainee,
    approver: r.supervisor,
    created_at: r.created_at,
    status: r.status,
    decided_by: r.decided_by,
    decided_at: r.decided_at,
    reason: r.reason,
    text: r.text ?? '',
  }));
}
