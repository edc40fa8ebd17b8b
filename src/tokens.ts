// Signed tokens in mail to staff and departments (SPEC §5A). A token says what an answer to that
// mail may do (purpose), on which case, about which approval or consultation, and when it was
// issued; its MAC (HMAC-SHA-256 under instance.secret) also binds the one recipient it was issued
// to. The recipient is not written in the token, only signed into it: the answer's From address
// names who answers, and the MAC holds only for the person the mail went to. This keeps a token
// short enough for a sub-address (`box+<token>@domain`, at most 64 characters before the @).
//
// Everything in a token is lower-case letters, digits, '.' and '-', so it survives MTAs that
// fold the case of local parts, and it rides unchanged in a Message-ID, where a reply's
// In-Reply-To/References bring it back.
import crypto from 'node:crypto';

export type TokenPurpose = 'reply' | 'approve' | 'consult';

/** Who a token was issued to: a consultant (by id) or a department (by id). */
export interface TokenRecipient {
  kind: 'consultant' | 'department';
  id: string;
}

export interface TokenClaims {
  purpose: TokenPurpose;
  caseId: string;
  /** the approval or consultation the mail is about; null for reply tokens */
  ref: number | null;
  issuedAt: Date;
}

/** A token as read from mail: its claims and the MAC it carries (not yet checked). */
export interface ReadToken extends TokenClaims {
  text: string;
  mac: string;
}

const VERSION = 'mwt1';
const PURPOSE_CODE: Record<TokenPurpose, string> = { reply: 'r', approve: 'a', consult: 'c' };
// 104 bits of the HMAC (RFC 2104 allows truncation; guessing one takes ~2^103 mails, each from the
// recipient's own address): short enough that the token fits a sub-address.
const MAC_BYTES = 13;
const MAC_CHARS = 21; // base32 of 13 bytes
/** Anything that starts like a token: a mail carrying one is staff mail even when the rest is damaged. */
const MARKER = /mwt1\.[a-z0-9.-]*/i;
const SHAPE = /^mwt1\.([rac])\.([a-z][a-z0-9]{1,9}-\d{6,})\.([0-9a-z]{1,8})\.([0-9a-z]{1,8})\.([a-z2-7]{21})$/;

/**
 * The length of a token on cases with this prefix for the first ten million cases, approvals or
 * consultations below 36^4 (1.6 million) and issue times until 2059: what a sub-address must fit.
 */
export function tokenLength(prefix: string): number {
  return `${VERSION}.r.${prefix}-0000000.zzzz.zzzzzzz.`.length + MAC_CHARS;
}

/** RFC 4648 base32, lower case, no padding: characters that survive case folding. */
function base32(bytes: Buffer): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** The truncated HMAC of the signed fields, one per line. */
function macOver(secret: string, fields: Array<string | number>): string {
  const signed = fields.join('\n');
  return base32(crypto.createHmac('sha256', secret).update(signed).digest().subarray(0, MAC_BYTES)).slice(0, MAC_CHARS);
}

function macOf(secret: string, claims: TokenClaims, recipient: TokenRecipient): string {
  return macOver(secret, [
    VERSION,
    claims.purpose,
    claims.caseId.toUpperCase(),
    claims.ref ?? 0,
    Math.floor(claims.issuedAt.getTime() / 1000),
    recipient.kind,
    recipient.id,
  ]);
}

/** True when two MACs are equal, compared in constant time. */
function sameMac(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The token for mail to `recipient`. */
export function issueToken(secret: string, claims: TokenClaims, recipient: TokenRecipient): string {
  const seconds = Math.floor(claims.issuedAt.getTime() / 1000);
  return [
    VERSION,
    PURPOSE_CODE[claims.purpose],
    claims.caseId.toLowerCase(),
    (claims.ref ?? 0).toString(36),
    seconds.toString(36),
    macOf(secret, claims, recipient),
  ].join('.');
}

/** True when the token's MAC is the one issued to `recipient` (compared in constant time). */
export function tokenIssuedTo(secret: string, token: ReadToken, recipient: TokenRecipient): boolean {
  return sameMac(macOf(secret, token, recipient), token.mac);
}

/** The first token-like text in `value` (a Message-ID, an address), as written; null when none. */
export function findTokenText(value: string): string | null {
  const m = MARKER.exec(value);
  if (!m) return null;
  // A Message-ID carries `<token>.<nonce>`; the nonce is the last dot-part after the MAC.
  return m[0].toLowerCase().replace(/^(.*\.[a-z2-7]{21})\.[0-9a-f]+$/, '$1');
}

/** The claims of a token-like text, or null when it is not a well-formed token (damaged, truncated). */
export function readToken(text: string): ReadToken | null {
  const m = SHAPE.exec(text);
  if (!m) return null;
  const purpose = (Object.keys(PURPOSE_CODE) as TokenPurpose[]).find((p) => PURPOSE_CODE[p] === m[1])!;
  const ref = parseInt(m[3]!, 36);
  const seconds = parseInt(m[4]!, 36);
  if (!Number.isSafeInteger(ref) || !Number.isSafeInteger(seconds)) return null;
  return { text, purpose, caseId: m[2]!.toUpperCase(), ref: ref === 0 ? null : ref, issuedAt: new Date(seconds * 1000), mac: m[5]! };
}

/** A unique Message-ID that carries the token: `<token.nonce@domain>` (the nonce keeps two mails with one token apart). */
export function tokenMessageId(token: string, domain: string): string {
  return `<${token}.${crypto.randomBytes(6).toString('hex')}@${domain}>`;
}

/** `local+token@domain`, or null when the local part would pass the 64 characters SMTP allows. */
export function tokenSubaddress(address: string, token: string): string | null {
  const at = address.lastIndexOf('@');
  const local = `${address.slice(0, at)}+${token}`;
  return local.length <= 64 ? `${local}${address.slice(at)}` : null;
}

// Rating tokens (SPEC §5E) ride in the `mailto:` choices of a reply to a customer: the subject and
// body a mail client prefills (and the sub-address, where the box has one). One token per choice:
// `mwt1.g.<case>.<rated outbox row>.<issued>.<score>.<mac>`. The score is written (the customer's
// mail must say which choice it was) and signed; the customer the reply went to is only signed,
// like a staff token's recipient, so the rating counts only from that address.

/** The choices of a rating, best first (reports count the share of `good`). */
export const RATING_SCORES = ['good', 'okay', 'bad'] as const;
export type RatingScore = (typeof RATING_SCORES)[number];
const SCORE_CODE: Record<RatingScore, string> = { good: 'g', okay: 'o', bad: 'b' };
const RATING_PATTERN = 'mwt1\\.g\\.([a-z][a-z0-9]{1,9}-\\d{6,})\\.([0-9a-z]{1,8})\\.([0-9a-z]{1,8})\\.([gob])\\.([a-z2-7]{21})';
const RATING_SHAPE = new RegExp(`^${RATING_PATTERN}$`);

export interface RatingClaims {
  caseId: string;
  /** the outbox row of the rated reply */
  outboxId: number;
  score: RatingScore;
  issuedAt: Date;
}

/** A rating token as read from mail: its claims and the MAC it carries (not yet checked). */
export interface ReadRatingToken extends RatingClaims {
  text: string;
  mac: string;
}

function ratingMac(secret: string, claims: RatingClaims, customer: string): string {
  return macOver(secret, [
    VERSION,
    'rate',
    claims.caseId.toUpperCase(),
    claims.outboxId,
    Math.floor(claims.issuedAt.getTime() / 1000),
    claims.score,
    'customer',
    customer.trim().toLowerCase(),
  ]);
}

/** The token of one rating choice in a reply to `customer`. */
export function issueRatingToken(secret: string, claims: RatingClaims, customer: string): string {
  return [
    VERSION,
    'g',
    claims.caseId.toLowerCase(),
    claims.outboxId.toString(36),
    Math.floor(claims.issuedAt.getTime() / 1000).toString(36),
    SCORE_CODE[claims.score],
    ratingMac(secret, claims, customer),
  ].join('.');
}

/** The claims of a rating token, or null when the text is not a well-formed one. */
export function readRatingToken(text: string): ReadRatingToken | null {
  const m = RATING_SHAPE.exec(text.toLowerCase());
  if (!m) return null;
  const outboxId = parseInt(m[2]!, 36);
  const seconds = parseInt(m[3]!, 36);
  if (!Number.isSafeInteger(outboxId) || outboxId <= 0 || !Number.isSafeInteger(seconds)) return null;
  const score = RATING_SCORES.find((s) => SCORE_CODE[s] === m[4])!;
  return { text: m[0], caseId: m[1]!.toUpperCase(), outboxId, score, issuedAt: new Date(seconds * 1000), mac: m[5]! };
}

/** True when the token's MAC is the one issued for `customer` (compared in constant time). */
export function ratingTokenFor(secret: string, token: ReadRatingToken, customer: string): boolean {
  return sameMac(ratingMac(secret, token, customer), token.mac);
}

/** Every distinct rating token in `value` (a subject, an address, a body), lower case, in order of appearance. */
export function findRatingTokens(value: string): string[] {
  const found = [...value.matchAll(new RegExp(RATING_PATTERN, 'gi'))].map((m) => m[0].toLowerCase());
  return found.filter((t, i) => found.indexOf(t) === i);
}
