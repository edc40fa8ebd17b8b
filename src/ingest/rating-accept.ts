// The accept transaction's branch for a customer's rating mail (SPEC §5E): checked
// (./rating-mail.ts), then recorded on the rated reply (src/cases/ratings.ts), or ignored with the
// reason. Either way the mail is accepted once, here: its inbound row (outcome `rating` or
// `rating_ignored`) and the kept raw bytes are all that is stored of it. It is never a customer
// message: it adds no participant, reopens nothing, is not feedback and gets no auto-response.
// An ignored rating is not quarantined: nobody may override it (the token is the customer's
// consent, and a bad one cannot be made good), so it is logged as `rating.ignored` and noted in
// the named case's history, where a consultant looking at the case sees it.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { recordEvent } from '../db/history.js';
import { recordRating } from '../cases/ratings.js';
import type { AcceptInput, AcceptResult } from './accept.js';
import type { Classification } from './classify.js';
import type { InboundRecord } from './records.js';
import { checkRatingMail } from './rating-mail.js';

type Recorder = (outcome: InboundRecord['outcome'], caseId: string | null, messageRowId: number | null) => Promise<void>;

export async function acceptRatingMail(
  tx: Kysely<DB>,
  input: AcceptInput,
  cls: Classification,
  tokens: string[],
  at: string,
  record: Recorder,
): Promise<AcceptResult> {
  const { config, parsed } = input;
  const verdict = await checkRatingMail(tx, { config, parsed, cls, tokens, now: new Date(at) });
  const from = parsed.from?.address ?? null;
  if (!verdict.ok) {
    const caseId = verdict.caseId ? await existingCase(tx, verdict.caseId) : null;
    if (caseId) {
      await recordEvent(tx, {
        caseId,
        actor: 'system',
        kind: 'rating',
        to: 'ignored',
        at,
        data: { reason: verdict.reason, detail: verdict.detail, outbox: verdict.outboxId, from, message_id: parsed.messageId },
      });
    }
    await record('rating_ignored', caseId, null);
    return {
      outcome: 'rating_ignored',
      caseId,
      messageRowId: null,
      detail: `rating ignored: ${verdict.reason} (${verdict.detail})`,
      rating: { recorded: false, reason: verdict.reason, detail: verdict.detail },
    };
  }
  const { token, reply } = verdict;
  const result = await recordRating(tx, config, verdict.customer, {
    caseId: reply.caseId,
    outboxId: reply.outboxId,
    messageRowId: reply.messageRowId,
    consultant: reply.consultant,
    score: token.score,
    comment: verdict.comment,
    messageId: parsed.messageId,
    rawSha256: input.raw.sha256,
    at,
  });
  await record('rating', reply.caseId, null);
  const what = result.replaced ? `replacing ${result.replaced}` : 'first rating of it';
  return {
    outcome: 'rating',
    caseId: reply.caseId,
    messageRowId: null,
    detail: `rated reply #${reply.outboxId} by ${reply.consultant ?? 'nobody'} ${token.score} (${what})`,
    rating: { recorded: true, reason: token.score, detail: what },
  };
}

async function existingCase(tx: Kysely<DB>, id: string): Promise<string | null> {
  const row = await tx.selectFrom('cases').select('id').where('id', '=', id).executeTakeFirst();
  return row?.id ?? null;
}
