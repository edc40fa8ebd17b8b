// Telling a customer's rating mail apart and checking it (SPEC §5E), in the accept transaction
// before staff mail and customer threading. A rating is the mail a `mailto:` choice of a reply
// opens: its token is in the subject and the body (and in the To sub-address where the box has
// one). A customer's ordinary answer to that reply quotes the whole rating line, three tokens,
// under In-Reply-To; so a token in the body alone makes a rating only in a mail that answers
// nothing and names exactly one token. Everything else about the mail is then checked: the MAC
// for the From address, the reply it names on the case it names, the age, an automatic reply,
// and the `Rating: <word>` line the customer saw against the token's score. Any failure means
// the rating is ignored (with the reason), never that the mail becomes a customer message.
import type { Kysely } from 'kysely';
import type { Config } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { answerText } from '../cases/staff-mail.js';
import { RATING_SCORES, findRatingTokens, ratingTokenFor, readRatingToken, type ReadRatingToken } from '../tokens.js';
import type { Classification } from './classify.js';
import type { ParsedMessage } from './message.js';

const MARKER = /mwt1\.g\./i;
/** A comment is a text field: SPEC §5 caps those at 2000 characters. */
const MAX_COMMENT = 2000;

export type RatingIgnoredReason =
  'malformed' | 'conflicting_tokens' | 'bad_signature' | 'unknown_reply' | 'wrong_sender' | 'automatic_reply' | 'expired' | 'not_sent' | 'score_mismatch';

/** The rated reply as the outbox and messages tables have it. */
export interface RatedReply {
  outboxId: number;
  caseId: string;
  messageRowId: number | null;
  consultant: string | null;
  recipients: string[];
  state: string;
}

export type RatingVerdict =
  | { ok: true; token: ReadRatingToken; reply: RatedReply; customer: string; comment: string }
  | { ok: false; reason: RatingIgnoredReason; detail: string; caseId: string | null; outboxId: number | null };

/** The rating tokens a mail carries when it is a rating mail, [] for a damaged one, null when it is none. */
export function findRatingMail(m: ParsedMessage): string[] | null {
  const headerPlaces = [m.subject, ...m.to.map((a) => a.address), ...m.cc.map((a) => a.address), ...m.deliveredTo];
  const inBody = findRatingTokens(m.text);
  if (headerPlaces.some((p) => MARKER.test(p))) {
    const inHeaders = headerPlaces.flatMap((p) => findRatingTokens(p));
    return [...inHeaders, ...inBody].filter((t, i, all) => all.indexOf(t) === i);
  }
  const answers = m.inReplyTo !== null || m.references.length > 0;
  return !answers && inBody.length === 1 ? inBody : null;
}

async function ratedReply(tx: Kysely<DB>, outboxId: number): Promise<RatedReply | null> {
  const row = await tx
    .selectFrom('outbox')
    .leftJoin('messages', 'messages.id', 'outbox.message_row_id')
    .select(['outbox.id', 'outbox.case_id', 'outbox.kind', 'outbox.state', 'outbox.to_addresses', 'outbox.message_row_id', 'messages.author'])
    .where('outbox.id', '=', outboxId)
    .executeTakeFirst();
  if (!row || row.kind !== 'reply' || !row.case_id) return null;
  const recipients = (JSON.parse(row.to_addresses) as string[]).map((a) => a.toLowerCase());
  return { outboxId: row.id, caseId: row.case_id, messageRowId: row.message_row_id, consultant: row.author, recipients, state: row.state };
}

/**
 * Whether the token's case is the reply's case, or was merged into it (SPEC §5 Merge: the reply
 * moved with the merge, and the customer's rating of it still counts).
 */
async function isCaseOrMergedInto(tx: Kysely<DB>, tokenCase: string, replyCase: string): Promise<boolean> {
  let id: string | null = tokenCase;
  for (let hops = 0; id !== null && hops < 10; hops += 1) {
    if (id === replyCase) return true;
    const row: { merged_into: string | null } | undefined = await tx.selectFrom('cases').select('merged_into').where('id', '=', id).executeTakeFirst();
    id = row?.merged_into ?? null;
  }
  return false;
}

/** The score word the customer saw (`Rating: good`), as they left it; null when they removed it. */
export function visibleScore(text: string): string | null {
  const m = /^[ \t>]*rating[ \t]*:[ \t]*([^\s.,;!]+)/im.exec(text);
  return m ? m[1]!.toLowerCase() : null;
}

/** What the customer wrote beside the choice: the visible text without the prefilled lines. */
export function ratingComment(text: string): string {
  const visible = answerText(text)
    .split('\n')
    .filter((line) => !/^[ \t>]*rating[ \t]*:/i.test(line) && !MARKER.test(line) && !/^[ \t>]*ref[ \t]*:[ \t]*$/i.test(line))
    .join('\n')
    .trim();
  return visible.slice(0, MAX_COMMENT);
}

export interface RatingCheckInput {
  config: Config;
  parsed: ParsedMessage;
  cls: Classification;
  tokens: string[];
  now: Date;
}

export async function checkRatingMail(tx: Kysely<DB>, input: RatingCheckInput): Promise<RatingVerdict> {
  const { config, parsed } = input;
  const fail = (reason: RatingIgnoredReason, detail: string, token: ReadRatingToken | null = null): RatingVerdict => ({
    ok: false,
    reason,
    detail,
    caseId: token?.caseId ?? null,
    outboxId: token?.outboxId ?? null,
  });
  if (input.tokens.length === 0) return fail('malformed', 'the mail names a rating token, but none is whole (damaged or truncated)');
  if (input.tokens.length > 1) return fail('conflicting_tokens', `the mail names ${input.tokens.length} different rating tokens`);
  const token = readRatingToken(input.tokens[0]!)!;
  const from = parsed.from?.address.toLowerCase() ?? '';
  const reply = await ratedReply(tx, token.outboxId);
  const secret = config.instance.secret;
  if (!ratingTokenFor(secret, token, from)) {
    const issuedTo = reply?.recipients.find((r) => ratingTokenFor(secret, token, r));
    if (!issuedTo) return fail('bad_signature', 'the rating token was not signed by this installation for this reply (forged or altered)', token);
    return fail('wrong_sender', `the rating token was issued to ${issuedTo}, but the mail is from ${from || 'nobody'}`, token);
  }
  if (!reply || !(await isCaseOrMergedInto(tx, token.caseId, reply.caseId)))
    return fail('unknown_reply', `case ${token.caseId} has no reply #${token.outboxId}`, token);
  if (input.cls.kind === 'auto_reply') return fail('automatic_reply', `an automatic reply (${input.cls.reason}) is never a rating`, token);
  if (input.now.getTime() - token.issuedAt.getTime() > config.instance.rating_ttl) {
    return fail('expired', `the reply was written ${token.issuedAt.toISOString()}, longer ago than instance.rating_ttl allows`, token);
  }
  if (reply.state === 'held' || reply.state === 'rejected') return fail('not_sent', `reply #${reply.outboxId} was never sent (${reply.state})`, token);
  for (const [where, text] of [
    ['body', parsed.text],
    ['subject', parsed.subject],
  ] as const) {
    const seen = visibleScore(text);
    if (seen !== null && seen !== token.score) {
      const known = (RATING_SCORES as readonly string[]).includes(seen) ? '' : ' (not a choice)';
      return fail('score_mismatch', `the ${where} says "${seen}"${known}, but the token is for "${token.score}"`, token);
    }
  }
  return { ok: true, token, reply, customer: from, comment: ratingComment(parsed.text) };
}
