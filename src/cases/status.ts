// The status machine of SPEC §5. Every move goes through changeCase (history), and a move the
// machine does not allow is refused with the allowed ones listed.
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { CaseStatus, DB } from '../db/schema.js';
import { usageError } from '../errors.js';
import { changeCase } from './history.js';
import type { CaseRow } from './view.js';

/** Where each status may go. Customers reopening solved/closed cases is ingest's move. */
export const TRANSITIONS: Readonly<Record<CaseStatus, readonly CaseStatus[]>> = {
  received: ['in_progress'],
  in_progress: ['under_consultation', 'postponed', 'solved', 'closed'],
  under_consultation: ['in_progress'],
  postponed: ['in_progress'],
  solved: ['in_progress', 'closed'],
  closed: ['in_progress'],
};

export const CLOSING: readonly CaseStatus[] = ['solved', 'closed'];

export function isClosing(status: CaseStatus): boolean {
  return CLOSING.includes(status);
}

export function canMove(from: CaseStatus, to: CaseStatus): boolean {
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
 * Moves a case to a status, with the fields that belong to it: closed_at when it closes,
 * remind_at while postponed (cleared when it leaves postponed). Returns the fields changed.
 */
export async function setStatus(tx: Kysely<DB>, row: CaseRow, actor: string, change: StatusChange, at = nowIso()): Promise<string[]> {
  checkTransition(row.id, row.status, change.status);
  const fields: Parameters<typeof changeCase>[3] = { status: change.status };
  if (change.assignee !== undefined) fields.assignee = change.assignee;
  if (change.status === 'postponed') fields.remind_at = change.remindAt ?? null;
  else if (row.remind_at !== null) fields.remind_at = null;
  if (isClosing(change.status) && !isClosing(row.status)) fields.closed_at = at;
  // The move was checked against `row`: it applies only if the case is still that version.
  return changeCase(tx, row.id, actor, fields, { at, expectVersion: row.version });
}
