// Which case an inbound message belongs to, in the order of SPEC §3: (1) In-Reply-To/References
// naming a Message-ID mailwarden stored or sent; (2) a case tag in the subject, but only from a
// participant of that case (a stranger's tag opens a new case linked to it, so a guessed tag
// cannot inject mail into someone else's case); (3) none: a new case.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { tagsInSubject } from '../db/case-ids.js';
import { isParticipant } from '../cases/participants.js';
import type { CaseRow } from '../cases/view.js';
import type { ParsedMessage } from './message.js';

export type ThreadMatch =
  | { via: 'header'; caseRow: CaseRow; messageId: string; outboxKind: string | null }
  | { via: 'tag'; caseRow: CaseRow }
  | { via: 'stranger-tag'; linkTo: CaseRow }
  | { via: 'none' };

/** IDs this message refers to, most specific first: In-Reply-To, then References newest first. */
export function referencedIds(m: ParsedMessage): string[] {
  const ids = [m.inReplyTo, ...[...m.references].reverse()].filter((x): x is string => !!x && x !== m.messageId);
  return [...new Set(ids)].slice(0, 50);
}

export async function findThread(tx: Kysely<DB>, prefix: string, m: ParsedMessage): Promise<ThreadMatch> {
  const byHeader = await findByHeaders(tx, referencedIds(m));
  if (byHeader) return byHeader;

  const sender = m.from?.address ?? null;
  let firstTagged: CaseRow | null = null;
  for (const id of tagsInSubject(m.subject, prefix).slice(0, 10)) {
    const row = await tx.selectFrom('cases').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) continue;
    if (sender && (await isParticipant(tx, row.id, sender))) return { via: 'tag', caseRow: row };
    firstTagged ??= row;
  }
  if (firstTagged) return { via: 'stranger-tag', linkTo: firstTagged };
  return { via: 'none' };
}

async function findByHeaders(tx: Kysely<DB>, ids: string[]): Promise<ThreadMatch | null> {
  if (ids.length === 0) return null;
  const stored = await tx.selectFrom('messages').select(['case_id', 'message_id']).where('message_id', 'in', ids).execute();
  const sent = await tx
    .selectFrom('outbox')
    .select(['case_id', 'message_id', 'kind'])
    .where('message_id', 'in', ids)
    .where('case_id', 'is not', null)
    .execute();
  for (const id of ids) {
    const out = sent.find((s) => s.message_id === id);
    const caseId = out?.case_id ?? stored.find((s) => s.message_id === id)?.case_id;
    if (!caseId) continue;
    const row = await tx.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirst();
    if (row) return { via: 'header', caseRow: row, messageId: id, outboxKind: out?.kind ?? null };
  }
  return null;
}

/** Outbox rows (mail mailwarden sent) named by any of these Message-IDs, in the order given. */
export async function findSentMail(tx: Kysely<DB>, ids: string[]): Promise<{ id: number; case_id: string | null; state: string; message_id: string } | null> {
  const unique = [...new Set(ids)].slice(0, 100);
  if (unique.length === 0) return null;
  const rows = await tx.selectFrom('outbox').select(['id', 'case_id', 'state', 'message_id']).where('message_id', 'in', unique).execute();
  for (const id of unique) {
    const row = rows.find((r) => r.message_id === id);
    if (row) return row;
  }
  return null;
}
