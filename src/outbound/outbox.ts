// Reading and repairing the outbox from the CLI: list rows (failed ones above all), and put a
// failed row back in the queue once the cause is fixed. A sent row is never queued again.
import type { Kysely } from 'kysely';
import { OUTBOX_KINDS, type DB, type OutboxKind, type OutboxState } from '../db/schema.js';
import type { Db } from '../db/connection.js';
import { nowIso } from '../clock.js';
import { wakeDrainerAfterCommit } from './outbox-wake.js';
import { recordEvent } from '../db/history.js';
import { usageError } from '../errors.js';

const OUTBOX_STATES: OutboxState[] = ['queued', 'held', 'sending', 'sent', 'failed', 'bounced', 'rejected'];

/** The JSON shape of `mailwarden outbox --json` (documented in the README). */
export interface OutboxEntry {
  id: number;
  state: OutboxState;
  kind: string;
  case: string | null;
  message_id: string;
  from: string;
  to: string[];
  subject: string;
  attempts: number;
  created_at: string;
  next_attempt_at: string;
  sent_at: string | null;
  last_error: string | null;
  smtp_response: string | null;
}

export interface OutboxFilter {
  state?: string[];
  caseId?: string;
  kind?: string;
  limit?: number;
}

function isOutboxKind(kind: string): kind is OutboxKind {
  return (OUTBOX_KINDS as readonly string[]).includes(kind);
}

export async function listOutbox(db: Db, filter: OutboxFilter = {}): Promise<OutboxEntry[]> {
  for (const s of filter.state ?? []) {
    if (!OUTBOX_STATES.includes(s as OutboxState)) throw usageError('EBADSTATE', `Unknown outbox state "${s}" (known: ${OUTBOX_STATES.join(', ')}).`);
  }
  const kind = filter.kind;
  if (kind !== undefined && !isOutboxKind(kind)) throw usageError('EBADKIND', `Unknown outbox kind "${kind}" (known: ${OUTBOX_KINDS.join(', ')}).`);
  let q = db
    .selectFrom('outbox')
    .select([
      'id',
      'state',
      'kind',
      'case_id',
      'message_id',
      'from_address',
      'to_addresses',
      'subject',
      'attempts',
      'created_at',
      'next_attempt_at',
      'sent_at',
      'last_error',
      'smtp_response',
    ])
    .orderBy('id', 'desc');
  if (filter.state && filter.state.length > 0) q = q.where('state', 'in', filter.state as OutboxState[]);
  if (filter.caseId) q = q.where('case_id', '=', filter.caseId);
  if (kind) q = q.where('kind', '=', kind);
  if (filter.limit) q = q.limit(filter.limit);
  const rows = await q.execute();
  return rows.map((r) => ({
    id: r.id,
    state: r.state,
    kind: r.kind,
    case: r.case_id,
    message_id: r.message_id,
    from: r.from_address,
    to: JSON.parse(r.to_addresses) as string[],
    subject: r.subject,
    attempts: r.attempts,
    created_at: r.created_at,
    next_attempt_at: r.next_attempt_at,
    sent_at: r.sent_at,
    last_error: r.last_error,
    smtp_response: r.smtp_response,
  }));
}

/** Counts per state, for a one-line summary. */
export async function outboxCounts(db: Db): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('outbox')
    .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('state')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

/**
 * Puts a failed (or bounced) row back in the queue with a fresh attempt budget. The frozen
 * message, Message-ID included, is sent as it was.
 */
export async function retryOutbox(tx: Kysely<DB>, id: number, actor: string): Promise<void> {
  const row = await tx.selectFrom('outbox').select(['id', 'state', 'case_id', 'message_row_id', 'sent_at']).where('id', '=', id).executeTakeFirst();
  if (!row) throw usageError('ENOOUTBOX', `There is no outbox row ${id}.`);
  if (row.state !== 'failed' && row.state !== 'bounced') {
    const why = row.state === 'sent' ? `it was sent at ${row.sent_at}; retrying would send it twice` : `only failed or bounced rows are retried`;
    throw usageError('ENOTFAILED', `Outbox row ${id} is ${row.state}: ${why}.`);
  }
  await tx.updateTable('outbox').set({ state: 'queued', attempts: 0, next_attempt_at: nowIso(), lease_until: null }).where('id', '=', id).execute();
  wakeDrainerAfterCommit(tx, id);
  if (row.message_row_id !== null) await tx.updateTable('messages').set({ state: 'queued' }).where('id', '=', row.message_row_id).execute();
  if (row.case_id) await recordEvent(tx, { caseId: row.case_id, actor, kind: 'mail_retry', from: row.state, to: 'queued', data: { outbox_id: id } });
}

/**
 * Lets a held row (a trainee's reply) go: it becomes due at once. For the approval action, inside
 * its transaction. Returns false when the row was not held (already decided).
 */
export async function releaseHeld(tx: Kysely<DB>, outboxId: number): Promise<boolean> {
  const r = await tx
    .updateTable('outbox')
    .set({ state: 'queued', next_attempt_at: nowIso() })
    .where('id', '=', outboxId)
    .where('state', '=', 'held')
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) return false;
  wakeDrainerAfterCommit(tx, outboxId);
  await setLinkedMessageState(tx, outboxId, 'queued');
  return true;
}

/** Drops a held row for good (a rejected trainee reply); it is kept, never sent. */
export async function rejectHeld(tx: Kysely<DB>, outboxId: number): Promise<boolean> {
  const r = await tx.updateTable('outbox').set({ state: 'rejected' }).where('id', '=', outboxId).where('state', '=', 'held').executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) return false;
  await setLinkedMessageState(tx, outboxId, 'rejected');
  return true;
}

async function setLinkedMessageState(tx: Kysely<DB>, outboxId: number, state: string): Promise<void> {
  const row = await tx.selectFrom('outbox').select('message_row_id').where('id', '=', outboxId).executeTakeFirst();
  if (row?.message_row_id != null) await tx.updateTable('messages').set({ state }).where('id', '=', row.message_row_id).execute();
}
