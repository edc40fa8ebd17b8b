// The report rows (migration 017, SPEC §6): what each figure of a report is made of, written at
// the moment it happens, in the transaction of the history it mirrors, so that a report reads
// narrow rows in index order instead of joining a year of history to its cases:
// - a customer's mail received: counted for the consultant who held the case when it came, or,
//   when nobody did, for whoever took the case up next (filled in by the assignment);
// - a closing (written by the one status machine): on time or not, consulted or not, how long;
// - a case's first response, for the consultant whose words it was.
// Nothing here is ever deleted; the only later writes fill in who took a case up, and mark a
// closing that the case, reopened, went past.
import type { Kysely, Selectable } from 'kysely';
import type { CasesTable, DB } from './schema.js';
import { prepared } from './prepared.js';

type CaseFacts = Pick<Selectable<CasesTable>, 'id' | 'pool_id' | 'assignee' | 'received_at' | 'deadline_at'>;

function msBetween(later: string, earlier: string): number {
  return Date.parse(later) - Date.parse(earlier);
}

function consultantOf(actor: string): string | null {
  return actor === 'system' ? null : actor;
}

const insertReceived = prepared<{ caseId: string; at: string }, never>((db, p) =>
  db
    .insertInto('report_received')
    .columns(['case_id', 'at', 'pool_id', 'consultant'])
    .expression((eb) =>
      eb
        .selectFrom('cases')
        .select(['id', eb.val(p('at')).as('at'), 'pool_id', 'assignee'])
        .where('id', '=', p('caseId')),
    ),
);

/**
 * A customer's mail on a case (not an automatic reply, not a bounce): one statement on ingest's
 * hot path, taking the case's pool and whoever holds it from the case row itself.
 */
export async function recordReceived(tx: Kysely<DB>, caseId: string, at: string): Promise<void> {
  const inserted = await insertReceived.execute(tx, { caseId, at });
  if (Number(inserted.numAffectedRows ?? 0) !== 1) throw new Error(`internal: case ${caseId} of a received mail does not exist`);
}

/** Someone took the case up: the mails that came while nobody held it count for them. */
export async function recordTakenUp(tx: Kysely<DB>, caseId: string, consultant: string): Promise<void> {
  await tx.updateTable('report_received').set({ consultant }).where('case_id', '=', caseId).where('consultant', 'is', null).execute();
}

/** A closing: one row, and the case's previous closing learns that it was not the last. */
export async function recordClosing(tx: Kysely<DB>, row: CaseFacts, actor: string, at: string): Promise<void> {
  const consulted = await tx.selectFrom('consultations').select('id').where('case_id', '=', row.id).where('sent_at', '<=', at).executeTakeFirst();
  await tx.updateTable('report_closings').set({ next_closing_at: at }).where('case_id', '=', row.id).where('next_closing_at', 'is', null).execute();
  await tx
    .insertInto('report_closings')
    .values({
      case_id: row.id,
      at,
      consultant: consultantOf(actor),
      pool_id: row.pool_id,
      on_time: at <= row.deadline_at ? 1 : 0,
      consulted: consulted ? 1 : 0,
      resolution_ms: msBetween(at, row.received_at),
      next_closing_at: null,
    })
    .execute();
}

/** The case's first reply to the customer, by `author` (a trainee's reply is theirs, whoever released it). */
export async function recordFirstResponse(tx: Kysely<DB>, row: CaseFacts, author: string, at: string): Promise<void> {
  await tx
    .insertInto('report_first_responses')
    .values({ case_id: row.id, at, consultant: consultantOf(author), pool_id: row.pool_id, response_ms: msBetween(at, row.received_at) })
    .onConflict((oc) => oc.column('case_id').doNothing())
    .execute();
}
