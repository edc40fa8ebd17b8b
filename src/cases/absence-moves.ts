// What happens to an absent consultant's open cases (SPEC §5D). When the absence is set, each open
// case (received but assigned, in_progress, postponed, under_consultation) goes to the replacement:
// only the assignee changes, so a postponed case keeps its reminder and a consultation keeps
// running. Without a replacement it goes back to the pool: an in-progress case becomes `received`
// and unassigned, so `next` hands it to someone else; a postponed case or one under consultation
// loses its assignee but keeps waiting, and the status machine (status.ts) puts it in the pool when
// work on it resumes. A case that opens again while its assignee is away (the customer writes on a
// solved case, a reminder comes due on a case assigned to them later) is handed over the same way
// at that moment. Every move is in the case history with who made it and why; nothing moves back
// when the absence ends.
import type { Kysely } from 'kysely';
import type { Config } from '../config/types.js';
import type { CaseStatus, DB } from '../db/schema.js';
import { changeCase, recordEvent } from '../db/history.js';
import { activeAbsence, onDuty } from './absence.js';
import { getCaseRow } from './queries.js';
import { setStatus } from './status.js';
import type { CaseRow } from './view.js';

/** The statuses of a case someone is working on, which leave with an absent assignee. */
const OPEN_STATUSES: readonly CaseStatus[] = ['received', 'in_progress', 'postponed', 'under_consultation'];

export interface MovedCase {
  case: string;
  status: CaseStatus;
  /** the new assignee; null when the case went back to the pool */
  to: string | null;
}

interface Reason {
  absent: string;
  until: string;
}

/** Moves one open case of an absent consultant to `to`, or back to the pool when `to` is null. */
async function handOver(tx: Kysely<DB>, row: CaseRow, to: string | null, actor: string, why: Reason, at: string): Promise<MovedCase> {
  if (to !== null) {
    await changeCase(tx, row.id, actor, { assignee: to }, { at, kind: 'absence', expectVersion: row.version });
  } else if (row.status === 'in_progress' || row.status === 'received') {
    await setStatus(tx, row, actor, { status: 'received', assignee: null }, at, { kind: 'returned' });
  } else {
    await changeCase(tx, row.id, actor, { assignee: null }, { at, kind: 'returned', expectVersion: row.version });
  }
  await recordEvent(tx, {
    caseId: row.id,
    actor,
    kind: 'absence',
    from: why.absent,
    to,
    at,
    data: { reason: `${why.absent} is absent until ${why.until}`, until: why.until, to: to ?? 'pool' },
  });
  const after = await getCaseRow(tx, row.id);
  return { case: row.id, status: after.status, to };
}

/** Every open case of `absent` to `to` (or the pool), oldest first. */
export async function handOverCases(tx: Kysely<DB>, absent: string, to: string | null, actor: string, until: string, at: string): Promise<MovedCase[]> {
  const rows = await tx
    .selectFrom('cases')
    .selectAll()
    .where('assignee', '=', absent)
    .where('status', 'in', [...OPEN_STATUSES])
    .orderBy('received_at')
    .orderBy('id')
    .execute();
  const moved: MovedCase[] = [];
  for (const row of rows) moved.push(await handOver(tx, row, to, actor, { absent, until }, at));
  return moved;
}

/**
 * A case that is open now but whose assignee is away goes to whoever is on duty for them (or the
 * pool). Returns the case as it is afterwards.
 */
export async function handOverIfAway(tx: Kysely<DB>, config: Config, caseId: string, at: string): Promise<CaseRow> {
  const row = await getCaseRow(tx, caseId);
  if (row.assignee === null || !OPEN_STATUSES.includes(row.status)) return row;
  const away = await activeAbsence(tx, row.assignee, at);
  if (!away) return row;
  const duty = await onDuty(tx, config, row.assignee, at);
  await handOver(tx, row, duty?.id ?? null, 'system', { absent: row.assignee, until: away.until }, at);
  return getCaseRow(tx, caseId);
}
