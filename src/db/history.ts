// The append-only history of a case (RT's transactions). Current state on `cases` is only ever
// changed through changeCase, which writes the matching history rows in the same transaction.
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { CaseEventKind, CaseEventsTable, CasesTable, DB } from './schema.js';
import { prepared } from './prepared.js';
import { MailwardenError } from '../errors.js';
import { recordFirstResponse, recordTakenUp } from './report-rows.js';

export interface EventInput {
  caseId: string;
  /** consultant id, or `system`, `customer`, `daemon`… */
  actor: string;
  kind: CaseEventKind;
  field?: string | null;
  from?: string | null;
  to?: string | null;
  data?: unknown;
  at?: string;
}

const EVENT_COLUMNS = ['case_id', 'at', 'actor', 'kind', 'field', 'from_value', 'to_value', 'data'] as const satisfies ReadonlyArray<keyof CaseEventsTable>;

const insertEvent = prepared<Required<Pick<Insertable<CaseEventsTable>, (typeof EVENT_COLUMNS)[number]>>, never>((db, p) =>
  db.insertInto('case_events').values(p.columns(EVENT_COLUMNS)),
);

export async function recordEvent(tx: Kysely<DB>, e: EventInput): Promise<void> {
  await insertEvent.execute(tx, {
    case_id: e.caseId,
    at: e.at ?? nowIso(),
    actor: e.actor,
    kind: e.kind,
    field: e.field ?? null,
    from_value: e.from ?? null,
    to_value: e.to ?? null,
    data: e.data === undefined ? null : JSON.stringify(e.data),
  });
}

type ChangeableField =
  | 'status'
  | 'priority'
  | 'assignee'
  | 'remind_at'
  | 'subject'
  | 'language'
  | 'closed_at'
  | 'first_response_at'
  | 'deadline_at'
  | 'flags'
  | 'linked_case_id'
  | 'overdue_notified_at'
  | 'title'
  | 'description'
  | 'merged_into';

/**
 * Sets fields on a case and records one `change` event per field that really changed.
 * Returns the fields that changed.
 */
export async function changeCase(
  tx: Kysely<DB>,
  caseId: string,
  actor: string,
  changes: Pick<Updateable<CasesTable>, ChangeableField>,
  opts: { at?: string; kind?: CaseEventKind; expectVersion?: number } = {},
): Promise<string[]> {
  const current = await tx.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirstOrThrow();
  // The change was decided on this version of the case (the caller's, or the one just read).
  const version = opts.expectVersion ?? current.version;
  if (current.version !== version) throw caseChanged(caseId);
  const at = opts.at ?? nowIso();
  const changed: string[] = [];
  for (const [field, value] of Object.entries(changes) as Array<[ChangeableField, string | null | undefined]>) {
    if (value === undefined) continue;
    const before = (current as Record<string, unknown>)[field] ?? null;
    if (before === value) continue;
    changed.push(field);
    await recordEvent(tx, {
      caseId,
      actor,
      kind: opts.kind ?? 'change',
      field,
      from: before === null ? null : typeof before === 'string' ? before : JSON.stringify(before),
      to: value,
      at,
    });
  }
  if (changed.length > 0) {
    // Compare-and-set: applies only if nobody changed the case since it was read, on any database.
    const r = await tx
      .updateTable('cases')
      .set({ ...changes, updated_at: at, version: version + 1 })
      .where('id', '=', caseId)
      .where('version', '=', version)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw caseChanged(caseId);
  }
  if (changed.includes('assignee') && changes.assignee) await recordTakenUp(tx, caseId, changes.assignee);
  return changed;
}

/**
 * The case's first reply to the customer, once: first_response_at and its report row. `author`
 * is whose words the reply is (a trainee's reply released by a supervisor is the trainee's).
 */
export async function setFirstResponse(
  tx: Kysely<DB>,
  row: Pick<Selectable<CasesTable>, 'id' | 'pool_id' | 'assignee' | 'received_at' | 'deadline_at' | 'first_response_at'>,
  author: string,
  at: string,
): Promise<void> {
  if (row.first_response_at !== null) return;
  await changeCase(tx, row.id, author, { first_response_at: at }, { at });
  await recordFirstResponse(tx, row, author, at);
}

/** Another writer changed the case between reading and writing it; the caller may try again. */
function caseChanged(caseId: string): MailwardenError {
  return new MailwardenError('unavailable', 'ECONFLICT', `Case ${caseId} was changed by someone else at the same moment; nothing was changed, try again.`);
}
