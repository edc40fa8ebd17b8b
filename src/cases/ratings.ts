// Customer ratings (SPEC §5E), the domain half: a checked rating (src/ingest/rating-mail.ts) is
// recorded on the reply it rates and attributed to the consultant who wrote that reply. The
// latest rating of a reply by its customer wins: the row is replaced, and every rating (the
// replaced one's score and comment included) stays in the case history as a `rating` event. A
// rating touches nothing else: no status, no participant, no message, no feedback flag.
import type { Kysely } from 'kysely';
import type { Config } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { recordEvent } from '../db/history.js';
import type { RatingScore } from '../tokens.js';

export interface RatingInput {
  caseId: string;
  outboxId: number;
  messageRowId: number | null;
  /** the consultant who wrote the rated reply */
  consultant: string | null;
  score: RatingScore;
  comment: string;
  /** the rating mail */
  messageId: string | null;
  rawSha256: string | null;
  at: string;
}

export interface RatingResult {
  ratingId: number;
  /** the score this rating replaced, null for the customer's first rating of the reply */
  replaced: string | null;
}

/** Records `customer`'s rating of a reply, replacing their earlier one of the same reply. */
export async function recordRating(tx: Kysely<DB>, _config: Config, customer: string, input: RatingInput): Promise<RatingResult> {
  const address = customer.trim().toLowerCase();
  const earlier = await tx
    .selectFrom('ratings')
    .select(['id', 'score', 'comment', 'at'])
    .where('outbox_id', '=', input.outboxId)
    .where('customer', '=', address)
    .executeTakeFirst();
  const values = {
    case_id: input.caseId,
    outbox_id: input.outboxId,
    message_row_id: input.messageRowId,
    consultant: input.consultant,
    customer: address,
    score: input.score,
    comment: input.comment,
    message_id: input.messageId,
    raw_sha256: input.rawSha256,
    at: input.at,
  };
  let ratingId: number;
  if (earlier) {
    await tx.updateTable('ratings').set(values).where('id', '=', earlier.id).execute();
    ratingId = earlier.id;
  } else {
    ratingId = (await tx.insertInto('ratings').values(values).returning('id').executeTakeFirstOrThrow()).id;
  }
  await recordEvent(tx, {
    caseId: input.caseId,
    actor: 'system',
    kind: 'rating',
    field: 'rating',
    from: earlier?.score ?? null,
    to: input.score,
    at: input.at,
    data: {
      rating: ratingId,
      outbox: input.outboxId,
      consultant: input.consultant,
      customer: address,
      comment: input.comment,
      message_id: input.messageId,
      ...(earlier ? { replaced: { score: earlier.score, comment: earlier.comment, at: earlier.at } } : {}),
    },
  });
  return { ratingId, replaced: earlier?.score ?? null };
}

/** A rating as `show` lists it. */
export interface RatingView {
  score: string;
  /** the rated reply: its outbox row, `messages` row and Message-ID */
  outbox_id: number;
  message_row_id: number | null;
  message_id: string | null;
  /** when the rated reply was written */
  reply_at: string | null;
  consultant: string | null;
  customer: string;
  comment: string;
  at: string;
}

/** The ratings on a case, oldest rated reply first. */
export async function caseRatings(db: Kysely<DB>, caseId: string): Promise<RatingView[]> {
  const rows = await db
    .selectFrom('ratings')
    .leftJoin('outbox', 'outbox.id', 'ratings.outbox_id')
    .leftJoin('messages', 'messages.id', 'ratings.message_row_id')
    .select([
      'ratings.score',
      'ratings.outbox_id',
      'ratings.message_row_id',
      'outbox.message_id',
      'messages.at as reply_at',
      'ratings.consultant',
      'ratings.customer',
      'ratings.comment',
      'ratings.at',
    ])
    .where('ratings.case_id', '=', caseId)
    .orderBy('ratings.outbox_id')
    .orderBy('ratings.id')
    .execute();
  return rows.map((r) => ({ ...r, message_id: r.message_id ?? null, reply_at: r.reply_at ?? null }));
}
