// A case's title and description (SPEC §5 "Customer": `edit <case> --title … --description …`).
// Why a file of its own: they are free text a consultant writes about the case, with the one
// limit SPEC §5 gives text fields (2000 characters), changed through changeCase like every other
// field of a case so the history records who changed what and when.
import type { Kysely } from 'kysely';
import type { Config, ConsultantConfig } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { changeCase } from '../db/history.js';
import { usageError } from '../errors.js';
import { checkMayWorkOn } from './actors.js';
import { checkNoCollision } from './collision.js';
import { getCaseRow } from './queries.js';

/** SPEC §5: text fields hold at most this many characters. */
const MAX_TEXT = 2000;

export interface CaseTextInput {
  caseId: string;
  /** undefined leaves it as it is; an empty string clears it */
  title?: string;
  description?: string;
  /** go ahead although the case changed since this consultant last viewed it */
  force?: boolean;
}

export interface CaseTextResult {
  caseId: string;
  title: string | null;
  description: string | null;
  /** the fields that really changed */
  changed: string[];
}

/** Characters as a person counts them (code points), not UTF-16 units. */
function checkText(field: 'title' | 'description', text: string): string | null {
  const value = text.replace(/\r\n?/g, '\n').trim();
  const length = [...value].length;
  if (length > MAX_TEXT) throw usageError('ETOOLONG', `The ${field} is ${length} characters long; at most ${MAX_TEXT} are allowed.`);
  return value === '' ? null : value;
}

export async function editCaseText(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, input: CaseTextInput): Promise<CaseTextResult> {
  if (input.title === undefined && input.description === undefined) {
    throw usageError('ENOCHANGE', 'Name what to change with --title or --description.');
  }
  const fields: { title?: string | null; description?: string | null } = {};
  if (input.title !== undefined) fields.title = checkText('title', input.title);
  if (input.description !== undefined) fields.description = checkText('description', input.description);
  const row = await getCaseRow(tx, input.caseId);
  checkMayWorkOn(actor, row, 'edit');
  await checkNoCollision(tx, config, row.id, actor.id, { force: input.force === true });
  const changed = await changeCase(tx, row.id, actor.id, fields, { expectVersion: row.version });
  const after = await getCaseRow(tx, row.id);
  return { caseId: row.id, title: after.title, description: after.description, changed };
}
