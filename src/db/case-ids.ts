// Case IDs: PREFIX-NNNNNN from a per-prefix counter that only ever goes up, so an ID is never
// reused even if a case row is erased.
import type { Kysely } from 'kysely';
import type { DB } from './schema.js';
import { prepared } from './prepared.js';

const CASE_TAG_RE = /\[([A-Z][A-Z0-9]{1,9}-\d{6,})\]/g;

function formatCaseId(prefix: string, n: number): string {
  return `${prefix}-${String(n).padStart(6, '0')}`;
}

const nextInSequence = prepared<{ prefix: string }, { last_value: number }>((db, p) =>
  db
    .insertInto('case_sequences')
    .values({ prefix: p('prefix'), last_value: 1 })
    .onConflict((oc) => oc.column('prefix').doUpdateSet((eb) => ({ last_value: eb('case_sequences.last_value', '+', 1) })))
    .returning('last_value'),
);

/** Must run inside a write transaction. */
export async function allocateCaseId(tx: Kysely<DB>, prefix: string): Promise<string> {
  const { rows } = await nextInSequence.execute(tx, { prefix });
  return formatCaseId(prefix, rows[0]!.last_value);
}

export function caseTag(caseId: string): string {
  return `[${caseId}]`;
}

/** Case IDs tagged in a subject, in order of appearance. */
export function tagsInSubject(subject: string, prefix: string): string[] {
  return [...subject.matchAll(CASE_TAG_RE)].map((m) => m[1]!).filter((id) => id.startsWith(`${prefix}-`));
}
