// The consultation rows of a case, read. Apart from consult.ts (which opens and withdraws them,
// and so loads the mail and calendar code) so that a case view (`show`, `next`) reads them
// without loading any of that.
import type { Kysely, Selectable } from 'kysely';
import type { ConsultationsTable, DB } from '../db/schema.js';

export type ConsultationRow = Selectable<ConsultationsTable>;

export async function openConsultations(tx: Kysely<DB>, caseId: string): Promise<ConsultationRow[]> {
  return tx.selectFrom('consultations').selectAll().where('case_id', '=', caseId).where('state', '=', 'open').orderBy('id').execute();
}

/** Every consultation of a case, oldest first (for `show`). */
export async function caseConsultations(tx: Kysely<DB>, caseId: string): Promise<ConsultationRow[]> {
  return tx.selectFrom('consultations').selectAll().where('case_id', '=', caseId).orderBy('id').execute();
}
