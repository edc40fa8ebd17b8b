// Small staff actions on a case: internal comments, assignment, priority, labels. Each takes a
// transaction, checks who may act, and writes its history rows with the change.
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { CasePriority, Config, ConsultantConfig } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { dataError, usageError } from '../errors.js';
import { checkMayWorkOn, findConsultant, isSupervisor } from './actors.js';
import { changeCase, recordEvent } from '../db/history.js';
import { getCaseRow } from './queries.js';
import { setStatus } from './status.js';

const PRIORITIES: readonly CasePriority[] = ['low', 'normal', 'high', 'urgent'];
const MAX_LABEL = 50;

/** An internal note on the case: a `comment` message, never mailed to anyone. */
export async function addComment(tx: Kysely<DB>, actor: ConsultantConfig, caseId: string, text: string): Promise<{ caseId: string; messageRowId: number }> {
  const body = text.replace(/\r\n?/g, '\n').trim();
  if (!body) throw usageError('EEMPTY', 'The comment is empty.');
  const row = await getCaseRow(tx, caseId);
  const at = nowIso();
  const msg = await tx
    .insertInto('messages')
    .values({
      case_id: row.id,
      kind: 'comment',
      at,
      author: actor.id,
      from_address: actor.email,
      from_name: actor.name,
      subject: row.subject,
      message_id: null,
      in_reply_to: null,
      references: null,
      text: body,
      raw_sha256: null,
      state: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await recordEvent(tx, { caseId: row.id, actor: actor.id, kind: 'comment', data: { message: msg.id }, at });
  return { caseId: row.id, messageRowId: msg.id };
}

/**
 * Assigns a case. Supervisors assign anything to anyone; a consultant may take an unassigned
 * case of their pools or hand on their own. A waiting case becomes in_progress.
 */
export async function assignCase(
  tx: Kysely<DB>,
  config: Config,
  actor: ConsultantConfig,
  caseId: string,
  toId: string,
): Promise<{ caseId: string; changed: string[] }> {
  const target = findConsultant(config, toId);
  const row = await getCaseRow(tx, caseId);
  if (!isSupervisor(actor)) checkMayWorkOn(actor, row, 'reassign');
  const at = nowIso();
  const changed =
    row.status === 'received'
      ? await setStatus(tx, row, actor.id, { status: 'in_progress', assignee: target.id }, at)
      : await changeCase(tx, row.id, actor.id, { assignee: target.id }, { at });
  return { caseId: row.id, changed };
}

export function parsePriority(text: string): CasePriority {
  const p = text.trim().toLowerCase() as CasePriority;
  if (!PRIORITIES.includes(p)) throw usageError('EBADPRIORITY', `Unknown priority "${text}" (allowed: ${PRIORITIES.join(', ')}).`);
  return p;
}

export async function setPriority(
  tx: Kysely<DB>,
  actor: ConsultantConfig,
  caseId: string,
  priority: CasePriority,
): Promise<{ caseId: string; changed: string[] }> {
  const row = await getCaseRow(tx, caseId);
  checkMayWorkOn(actor, row, 'change the priority of');
  return { caseId: row.id, changed: await changeCase(tx, row.id, actor.id, { priority }) };
}

export interface LabelChange {
  add: string[];
  remove: string[];
}

/** `+name` adds, `-name` removes, a bare name adds. */
export function parseLabelChanges(args: string[]): LabelChange {
  const out: LabelChange = { add: [], remove: [] };
  for (const arg of args) {
    const sign = arg[0];
    const name = checkLabel(sign === '+' || sign === '-' ? arg.slice(1) : arg);
    if (sign === '-') out.remove.push(name);
    else out.add.push(name);
  }
  if (out.add.length + out.remove.length === 0) throw usageError('ENOLABELS', 'Name the labels to change, e.g. +vip -spam.');
  return out;
}

function checkLabel(raw: string): string {
  const name = raw.trim();
  if (!name) throw dataError('EBADLABEL', 'A label cannot be empty.');
  if (name.length > MAX_LABEL)
    throw dataError('EBADLABEL', `The label "${name.slice(0, 20)}…" is ${name.length} characters long; at most ${MAX_LABEL} are allowed.`);
  if (/[\u0000-\u001f\u007f]/.test(name)) throw dataError('EBADLABEL', 'A label cannot contain control characters.');
  return name;
}

/**
 * Applies label changes; adding a label the case has, or removing one it lacks, changes nothing.
 * Labels are compared ignoring case (SPEC §5): `+Vip` on a case labelled `vip` keeps `vip`.
 */
export async function changeLabels(
  tx: Kysely<DB>,
  actor: ConsultantConfig,
  caseId: string,
  change: LabelChange,
): Promise<{ caseId: string; labels: string[] }> {
  const row = await getCaseRow(tx, caseId);
  const at = nowIso();
  const key = (label: string) => label.toLowerCase();
  const rows = await tx.selectFrom('case_labels').select('label').where('case_id', '=', row.id).execute();
  const current = new Map(rows.map((l) => [key(l.label), l.label]));
  for (const label of change.add) {
    if (current.has(key(label))) continue;
    await tx.insertInto('case_labels').values({ case_id: row.id, label }).execute();
    await recordEvent(tx, { caseId: row.id, actor: actor.id, kind: 'label', field: 'label', from: null, to: label, at });
    current.set(key(label), label);
  }
  for (const label of change.remove) {
    const stored = current.get(key(label));
    if (stored === undefined) continue;
    await tx.deleteFrom('case_labels').where('case_id', '=', row.id).where('label', '=', stored).execute();
    await recordEvent(tx, { caseId: row.id, actor: actor.id, kind: 'label', field: 'label', from: stored, to: null, at });
    current.delete(key(label));
  }
  return { caseId: row.id, labels: [...current.values()].sort() };
}
