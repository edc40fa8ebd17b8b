// What `show` lists beside the thread (SPEC §5 Viewing): the cases linked to this one (a stranger's
// tag or header opens a new case linked to the one it named; the link is shown from both sides),
// the cases merged into it or it was merged into, and the questionnaire answers given on closing.
import type { Kysely } from 'kysely';
import type { CaseStatus, DB } from '../db/schema.js';
import type { CaseRow } from './view.js';

export type LinkRelation = 'linked_to' | 'linked_from' | 'merged_into' | 'merged_from';

export interface LinkView {
  relation: LinkRelation;
  case: string;
  status: CaseStatus;
  subject: string;
}

export interface AnswerView {
  questionnaire: string;
  key: string;
  value: string;
  by: string;
  at: string;
}

export async function caseLinks(db: Kysely<DB>, row: CaseRow): Promise<LinkView[]> {
  const links: LinkView[] = [];
  const add = (relation: LinkRelation, r: { id: string; status: CaseStatus; subject: string }) =>
    links.push({ relation, case: r.id, status: r.status, subject: r.subject });
  const pick = db.selectFrom('cases').select(['id', 'status', 'subject']);
  if (row.linked_case_id) {
    const to = await pick.where('id', '=', row.linked_case_id).executeTakeFirst();
    if (to) add('linked_to', to);
  }
  for (const r of await pick.where('linked_case_id', '=', row.id).orderBy('id').execute()) add('linked_from', r);
  if (row.merged_into) {
    const to = await pick.where('id', '=', row.merged_into).executeTakeFirst();
    if (to) add('merged_into', to);
  }
  for (const r of await pick.where('merged_into', '=', row.id).orderBy('id').execute()) add('merged_from', r);
  return links;
}

export async function caseAnswers(db: Kysely<DB>, caseId: string): Promise<AnswerView[]> {
  const rows = await db.selectFrom('questionnaire_answers').selectAll().where('case_id', '=', caseId).orderBy('id').execute();
  return rows.map((a) => ({ questionnaire: a.questionnaire_id, key: a.key, value: a.value, by: a.answered_by, at: a.at }));
}
