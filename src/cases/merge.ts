// Merge (SPEC §5): two cases that turn out to be one (the customer wrote twice, a colleague opened
// a second case) become one. Everything that hangs off the from-case moves into the into-case:
// messages (attachments hang off them), participants, labels, history, the outbox (so bounces and
// threading by our Message-IDs land in the merged case), consultations, approvals, questionnaire
// answers, snippet uses, ratings, quarantined and parked mail, inbound records. The from-case row
// stays, closed, with `merged_into` naming where it went: its ID keeps threading there
// (src/ingest/thread.ts follows the pointer) and `show` of either names the other. Both get a
// `merged` history row. Only someone who may work on both cases (their assignee, or a supervisor)
// merges; a case never merges into itself or into, or out of, an already merged case.
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config, ConsultantConfig } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { changeCase, recordEvent } from '../db/history.js';
import { usageError } from '../errors.js';
import { checkMayWorkOn } from './actors.js';
import { getCaseRow } from './queries.js';
import { setStatus } from './status.js';
import type { CaseRow } from './view.js';

export interface MergeInput {
  from: string;
  into: string;
}

export interface MergeResult {
  from: string;
  into: string;
  /** messages moved */
  messages: number;
}

/** Tables whose rows belong to one case and simply move with it. */
const MOVED_TABLES = [
  'inbound',
  'outbox',
  'consultations',
  'approvals',
  'questionnaire_answers',
  'snippet_uses',
  'ratings',
  'quarantine',
  'parked',
  'case_events',
] as const;

function checkMergeable(from: CaseRow, into: CaseRow): void {
  if (from.id === into.id) throw usageError('EMERGE', `Case ${from.id} cannot be merged into itself.`);
  if (into.merged_into) throw usageError('EMERGE', `Case ${into.id} was already merged into ${into.merged_into}; merge into that case instead.`);
  if (from.merged_into) throw usageError('EMERGE', `Case ${from.id} was already merged into ${from.merged_into}.`);
}

/** Participants and labels: the into-case keeps its own, gains the others (labels unique ignoring case). */
async function moveParticipantsAndLabels(tx: Kysely<DB>, from: string, into: string): Promise<void> {
  const people = await tx.selectFrom('case_participants').selectAll().where('case_id', '=', from).execute();
  for (const p of people) {
    await tx
      .insertInto('case_participants')
      .values({ ...p, case_id: into })
      .onConflict((oc) => oc.columns(['case_id', 'address']).doNothing())
      .execute();
  }
  await tx.deleteFrom('case_participants').where('case_id', '=', from).execute();
  const have = new Set((await tx.selectFrom('case_labels').select('label').where('case_id', '=', into).execute()).map((l) => l.label.toLowerCase()));
  for (const l of await tx.selectFrom('case_labels').select('label').where('case_id', '=', from).execute()) {
    if (have.has(l.label.toLowerCase())) continue;
    have.add(l.label.toLowerCase());
    await tx.insertInto('case_labels').values({ case_id: into, label: l.label }).execute();
  }
  await tx.deleteFrom('case_labels').where('case_id', '=', from).execute();
}

/** Closes the from-case through the status machine (an open case passes through in_progress). */
async function closeMerged(tx: Kysely<DB>, row: CaseRow, actor: string, at: string): Promise<void> {
  let current = row;
  if (current.status === 'closed') return;
  if (current.status !== 'in_progress' && current.status !== 'solved') {
    await setStatus(tx, current, actor, { status: 'in_progress', ...(current.assignee === null ? { assignee: actor } : {}) }, at);
    current = await getCaseRow(tx, row.id);
  }
  await setStatus(tx, current, actor, { status: 'closed' }, at, { merged: true });
}

/** A case being worked on that now has an open consultation (moved from the other case) waits for it. */
async function waitForMovedConsultations(tx: Kysely<DB>, caseId: string, actor: string, at: string): Promise<void> {
  const row = await getCaseRow(tx, caseId);
  if (row.status !== 'in_progress') return;
  const open = await tx.selectFrom('consultations').select('id').where('case_id', '=', caseId).where('state', '=', 'open').executeTakeFirst();
  if (open) await setStatus(tx, row, actor, { status: 'under_consultation' }, at);
}

export async function mergeCases(tx: Kysely<DB>, _config: Config, actor: ConsultantConfig, input: MergeInput): Promise<MergeResult> {
  const from = await getCaseRow(tx, input.from);
  const into = await getCaseRow(tx, input.into);
  checkMergeable(from, into);
  checkMayWorkOn(actor, from, 'merge');
  checkMayWorkOn(actor, into, 'merge');
  const at = nowIso();

  const moved = await tx.updateTable('messages').set({ case_id: into.id }).where('case_id', '=', from.id).executeTakeFirst();
  await moveParticipantsAndLabels(tx, from.id, into.id);
  for (const table of MOVED_TABLES) {
    await tx.updateTable(table).set({ case_id: into.id }).where('case_id', '=', from.id).execute();
  }
  // What the from-case keeps from here on: its closing and the pointer.
  await closeMerged(tx, from, actor.id, at);
  await changeCase(tx, from.id, actor.id, { merged_into: into.id }, { at, kind: 'merged' });
  await recordEvent(tx, { caseId: into.id, actor: actor.id, kind: 'merged', field: 'merged_from', to: from.id, at });
  await waitForMovedConsultations(tx, into.id, actor.id, at);
  return { from: from.id, into: into.id, messages: Number(moved.numUpdatedRows) };
}
