// Who takes part in a case: the customer who opened it, a colleague the customer copied, a
// department consulted. Threading (src/ingest/thread.ts) asks it before letting a case tag in a
// subject thread mail onto a case; the mail-borne case rules (open-from-mail.ts,
// inbound-effects.ts) add to it. Addresses are kept lower case.
import type { Kysely } from 'kysely';
import { prepared } from '../db/prepared.js';
import type { DB, ParticipantRole } from '../db/schema.js';

export async function isParticipant(tx: Kysely<DB>, caseId: string, address: string): Promise<boolean> {
  const row = await tx
    .selectFrom('case_participants')
    .select('address')
    .where('case_id', '=', caseId)
    .where('address', '=', address.toLowerCase())
    .executeTakeFirst();
  return row !== undefined;
}

const insertParticipant = prepared<{ caseId: string; address: string; role: ParticipantRole; at: string }, never>((db, p) =>
  db
    .insertInto('case_participants')
    .values({ case_id: p('caseId'), address: p('address'), role: p('role'), added_at: p('at') })
    .onConflict((oc) => oc.columns(['case_id', 'address']).doNothing()),
);

/** Adds a participant; returns false when they already were one. */
export async function addParticipant(tx: Kysely<DB>, caseId: string, address: string, role: ParticipantRole, at: string): Promise<boolean> {
  const res = await insertParticipant.execute(tx, { caseId, address: address.toLowerCase(), role, at });
  return Number(res.numAffectedRows ?? 0) > 0;
}
