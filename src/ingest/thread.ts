// Which case an inbound message belongs to, in the order of SPEC §3: (1) In-Reply-To/References
// naming a Message-ID mailwarden stored or sent; (2) a case tag in the subject, but only from a
// participant of that case (a stranger's tag opens a new case linked to it, so a guessed tag
// cannot inject mail into someone else's case); (3) none: a new case.
//
// Header threading trusts only what cannot be guessed. Our own Message-IDs are random (128 bits):
// whoever names one has seen our mail (a colleague the customer forwarded it to), so the mail
// threads, from anyone. A customer's Message-ID is often predictable (a counter, a timestamp), so
// naming one threads only a participant's mail; a stranger's opens a new case linked to it, as a
// stranger's tag does, and the solved case stays untouched.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { tagsInSubject } from '../db/case-ids.js';
import { prepared } from '../db/prepared.js';
import { isParticipant } from '../cases/participants.js';
import { isErased, type CaseRow } from '../cases/view.js';
import { bodySha256Of } from './fingerprint.js';
import type { ParsedMessage } from './message.js';

export type ThreadMatch =
  /** `participant`: the sender took part before this mail (only participants reopen or give feedback) */
  | { via: 'header'; caseRow: CaseRow; messageId: string; outboxKind: string | null; participant: boolean }
  | { via: 'tag'; caseRow: CaseRow; participant: true }
  | { via: 'stranger-tag' | 'stranger-header'; linkTo: CaseRow }
  | { via: 'none' };

/** IDs this message refers to, most specific first: In-Reply-To, then References newest first. */
export function referencedIds(m: ParsedMessage): string[] {
  const ids = [m.inReplyTo, ...[...m.references].reverse()].filter((x): x is string => !!x && x !== m.messageId);
  return [...new Set(ids)].slice(0, 50);
}

export async function findThread(tx: Kysely<DB>, prefix: string, m: ParsedMessage): Promise<ThreadMatch> {
  const sender = m.from?.address ?? null;
  const byHeader = await findByHeaders(tx, referencedIds(m), sender);
  if (byHeader) return byHeader;

  let firstTagged: CaseRow | null = null;
  for (const id of tagsInSubject(m.subject, prefix).slice(0, 10)) {
    const row = await caseById(tx, id);
    if (!row) continue;
    if (sender && (await isParticipant(tx, row.id, sender))) return { via: 'tag', caseRow: row, participant: true };
    firstTagged ??= row;
  }
  if (firstTagged) return { via: 'stranger-tag', linkTo: firstTagged };
  return { via: 'none' };
}

/**
 * A case mail may thread onto or link to: the case with this ID, or the case it was merged into
 * (SPEC §5 Merge: the old ID keeps threading). A case whose customer was erased is none: whatever
 * the mail names (its tag, a Message-ID kept somewhere), it starts afresh (SPEC §9).
 */
async function caseById(tx: Kysely<DB>, id: string): Promise<CaseRow | undefined> {
  let row = await tx.selectFrom('cases').selectAll().where('id', '=', id).executeTakeFirst();
  // Merging refuses a merged target, so one step suffices; the bound guards against a hand-edited loop.
  for (let hops = 0; row?.merged_into && hops < 10; hops += 1) {
    row = await tx.selectFrom('cases').selectAll().where('id', '=', row.merged_into).executeTakeFirst();
  }
  return row && !isErased(row) ? row : undefined;
}

/** The first referenced ID that names a case: ours thread anyone's mail, stored ones only a participant's. */
async function findByHeaders(tx: Kysely<DB>, ids: string[], sender: string | null): Promise<ThreadMatch | null> {
  if (ids.length === 0) return null;
  const stored = await tx.selectFrom('messages').select(['case_id', 'message_id']).where('message_id', 'in', ids).execute();
  const sent = await tx
    .selectFrom('outbox')
    .select(['case_id', 'message_id', 'kind'])
    .where('message_id', 'in', ids)
    .where('case_id', 'is not', null)
    .execute();
  let strangerTo: CaseRow | null = null;
  for (const id of ids) {
    const out = sent.find((s) => s.message_id === id);
    const caseId = out?.case_id ?? stored.find((s) => s.message_id === id)?.case_id;
    if (!caseId) continue;
    const row = await caseById(tx, caseId);
    if (!row) continue;
    const participant = sender !== null && (await isParticipant(tx, row.id, sender));
    if (out || participant) return { via: 'header', caseRow: row, messageId: id, outboxKind: out?.kind ?? null, participant };
    strangerTo ??= row;
  }
  return strangerTo ? { via: 'stranger-header', linkTo: strangerTo } : null;
}

const findOutboxByMessageId = prepared<{ messageId: string }, { id: number; case_id: string | null; mime: Buffer }>((db, p) =>
  db.selectFrom('outbox').select(['id', 'case_id', 'mime']).where('message_id', '=', p('messageId')).limit(1),
);

/**
 * Our outbox row that this message is a copy of: the same Message-ID and the same body (relays add
 * header fields, never change a body). A message that only reuses one of our Message-IDs is not
 * ours: it is someone's mail, and lands on a case like any other.
 */
export async function findOwnCopy(tx: Kysely<DB>, m: ParsedMessage): Promise<{ id: number; case_id: string | null } | null> {
  if (!m.messageId) return null;
  const row = (await findOutboxByMessageId.execute(tx, { messageId: m.messageId })).rows[0];
  if (!row || bodySha256Of(row.mime) !== m.bodySha256) return null;
  return { id: row.id, case_id: row.case_id };
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
