// The status machine of SPEC §5: the one writer of a case's status. Every move, whoever makes
// it (a consultant, `next`, the scheduler waking a postponed case, a customer's mail reopening a
// solved one, a department's answer ending a consultation), goes through setStatus, which checks
// it against TRANSITIONS, keeps the fields that belong to the status, and records the history.
// A case whose consultant went away without a replacement (SPEC §5D) goes back to the pool as
// `received`, at once when it was in progress, or when work on it resumes (its reminder, the
// customer or the department writing) when it was postponed or under consultation.
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { CaseEventKind, CaseStatus, DB } from '../db/schema.js';
import { usageError } from '../errors.js';
import { changeCase } from '../db/history.js';
import type { CaseRow } from './view.js';
import { recordClosing } from '../db/report-rows.js';

/** Where each status may go, whoever moves the case. */
export const TRANSITIONS: Readonly<Record<CaseStatus, readonly CaseStatus[]>> = {
  received: ['in_progress'],
  in_progress: ['under_consultation', 'postponed', 'solved', 'closed'],
  under_consultation: ['in_progress'],
  postponed: ['in_progress'],
  solved: ['in_progress', 'closed'],
  closed: ['in_progress'],
};

/**
 * Back to the pool (SPEC §5D): an open case becomes `received` again only when nobody holds it
 * any more (its consultant went away without a replacement). Not a move anyone chooses, so it is
 * kept apart from TRANSITIONS and the allowed moves refusals list.
 */
const RETURNS_FROM: readonly CaseStatus[] = ['in_progress', 'postponed', 'under_consultation'];

function isReturn(row: CaseRow, change: StatusChange): boolean {
  const assignee = change.assignee !== undefined ? change.assignee : row.assignee;
  return change.status === 'received' && assignee === null && RETURNS_FROM.includes(row.status);
}

/** The statuses that end a case; every other status counts as open. */
export const CLOSING: readonly CaseStatus[] = ['solved', 'closed'];

export function isClosing(status: CaseStatus): boolean {
  return CLOSING.includes(status);
}

function canMove(from: CaseStatus, to: CaseStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function checkTransition(caseId: string, from: CaseStatus, to: CaseStatus): void {
  if (from === to || canMove(from, to)) return;
  const allowed = TRANSITIONS[from];
  throw usageError(
    'EBADTRANSITION',
    `Case ${caseId} is ${from} and cannot become ${to} (allowed from ${from}: ${allowed.length ? allowed.join(', ') : 'none'}).`,
  );
}

export interface StatusChange {
  status: CaseStatus;
  remindAt?: string | null;
  assignee?: string | null;
}

/**
 * Work resuming on a case nobody holds puts it back in the pool (`received`, for `next`) rather
 * than in progress with nobody: the case of a consultant who went away without a replacement.
 */
function resumed(row: CaseRow, change: StatusChange): CaseStatus {
  const assignee = change.assignee !== undefined ? change.assignee : row.assignee;
  const resuming = row.status === 'postponed' || row.status === 'under_consultation';
  return change.status === 'in_progress' && assignee === null && resuming ? 'received' : change.status;
}

/**
 * Moves a case to a status, with the fields that belong to it: closed_at when it closes (cleared
 * when it opens again), remind_at while postponed (cleared when it leaves postponed). `kind`
 * names the move in the history when it is more than a change (e.g. `reopened`); `merged` says
 * a closing only ends a case merged into another. A closing is also a report row. Returns the
 * fields changed.
 */
export async function setStatus(
  tx: Kysely<DB>,
  row: CaseRow,
  actor: string,
  asked: StatusChange,
  at = nowIso(),
  opts: { kind?: CaseEventKind; merged?: boolean } = {},
): Promise<string[]> {
  const change = { ...asked, status: resumed(row, asked) };
  const returning = isReturn(row, change);
  if (!returning) checkTransition(row.id, row.status, change.status);
  const fields: Parameters<typeof changeCase>[3] = { status: change.status };
  if (change.assignee !== undefined) fields.assignee = change.assignee;
  if (change.status === 'postponed') fields.remind_at = change.remindAt ?? null;
  else if (row.remind_at !== null) fields.remind_at = null;
  if (isClosing(change.status) && !isClosing(row.status)) fields.closed_at = at;
  else if (!isClosing(change.status) && row.closed_at !== null) fields.closed_at = null;
  // The move was checked against `row`: it applies only if the case is still that version.
  const kind = opts.kind ?? (returning ? 'returned' : undefined);
  const changed = await changeCase(tx, row.id, actor, fields, { at, expectVersion: row.version, ...(kind ? { kind } : {}) });
  // A case closed because it was merged into another was not resolved: reports leave it out.
  if (fields.closed_at && !opts.merged) await recordClosing(tx, row, actor, at);
  return changed;
}
