// Telling staff mail from customer mail (SPEC §5A), before any customer threading. A mail that
// names a token (in In-Reply-To/References, or in the sub-address it was delivered to) is staff
// mail, whoever sent it, and is never a customer message: it is either acted on or quarantined.
// It is acted on only when the token is well-formed, its MAC was issued to the person (or
// department) whose address is in From (a configured alias counts), it is younger than
// `instance.token_ttl`, the operator's MTA vouches for the From domain (when
// `ingest.authentication_results` is set), and it is not an automatic reply. The checks run in
// that order, so the reason recorded is the most serious one.
import type { Config, ConsultantConfig } from '../config/types.js';
import type { QuarantineReason } from '../cases/quarantine.js';
import { findTokenText, readToken, tokenIssuedTo, type ReadToken, type TokenRecipient } from '../tokens.js';
import { checkAuthenticationResults } from './auth-results.js';
import type { Classification } from './classify.js';
import type { ParsedMessage } from './message.js';
import { referencedIds } from './thread.js';

/** Who a staff address belongs to. */
export type StaffIdentity = { kind: 'consultant'; id: string; consultant: ConsultantConfig } | { kind: 'department'; id: string };

export type StaffVerdict =
  | { ok: true; token: ReadToken; sender: StaffIdentity }
  | { ok: false; reason: QuarantineReason; detail: string; token: ReadToken | null; issuedTo: StaffIdentity | null };

/**
 * The token a mail names, as written, or null for mail that names none. The In-Reply-To comes
 * first (the mail it answers), then References newest first, then the address it was delivered to.
 */
export function findStaffToken(m: ParsedMessage): string | null {
  const places = [...referencedIds(m), ...m.to.map((a) => a.address), ...m.cc.map((a) => a.address), ...m.deliveredTo];
  for (const place of places) {
    const text = findTokenText(place);
    if (text) return text;
  }
  return null;
}

/** Every staff identity, consultants first: who a token may have been issued to. */
function identities(config: Config): StaffIdentity[] {
  return [
    ...config.consultants.map((c): StaffIdentity => ({ kind: 'consultant', id: c.id, consultant: c })),
    ...config.departments.map((d): StaffIdentity => ({ kind: 'department', id: d.id })),
  ];
}

/** The staff member or department whose address (or alias) this is. */
export function staffByAddress(config: Config, address: string | null | undefined): StaffIdentity | null {
  if (!address) return null;
  const a = address.toLowerCase();
  const c = config.consultants.find((x) => x.email.toLowerCase() === a || x.aliases.some((alias) => alias.toLowerCase() === a));
  if (c) return { kind: 'consultant', id: c.id, consultant: c };
  const d = config.departments.find((x) => x.email.toLowerCase() === a || x.aliases.some((alias) => alias.toLowerCase() === a));
  return d ? { kind: 'department', id: d.id } : null;
}

function recipientOf(who: StaffIdentity): TokenRecipient {
  return { kind: who.kind, id: who.id };
}

export function describeIdentity(who: StaffIdentity): string {
  return `${who.kind}:${who.id}`;
}

export interface VerifyInput {
  config: Config;
  parsed: ParsedMessage;
  tokenText: string;
  cls: Classification;
  now: Date;
  /** checks a supervisor overrode by releasing the mail from quarantine */
  skip?: { sender?: boolean; expiry?: boolean };
}

export function verifyStaffMail(input: VerifyInput): StaffVerdict {
  const { config, parsed } = input;
  const fail = (reason: QuarantineReason, detail: string, token: ReadToken | null = null, issuedTo: StaffIdentity | null = null): StaffVerdict => ({
    ok: false,
    reason,
    detail,
    token,
    issuedTo,
  });
  const secret = config.instance.secret;
  const token = readToken(input.tokenText);
  if (!token) return fail('malformed', `"${input.tokenText.slice(0, 80)}" is not a well-formed token`);

  const from = parsed.from?.address ?? null;
  const sender = staffByAddress(config, from);
  const issuedTo =
    sender && tokenIssuedTo(secret, token, recipientOf(sender)) ? sender : identities(config).find((who) => tokenIssuedTo(secret, token, recipientOf(who)));
  if (!issuedTo) return fail('bad_signature', 'the token was not signed by this installation for anyone configured (forged or altered)', token);
  if (issuedTo !== sender && !input.skip?.sender) {
    return fail('wrong_sender', `the token was issued to ${describeIdentity(issuedTo)}, but the mail is from ${from ?? 'nobody'}`, token, issuedTo);
  }
  const authservId = config.ingest.authentication_results;
  if (authservId && from) {
    const auth = checkAuthenticationResults(parsed.authResults, authservId, from);
    if (!auth.pass) return fail('authentication_failed', auth.detail, token, issuedTo);
  }
  if (input.cls.kind === 'auto_reply') return fail('automatic_reply', `an automatic reply (${input.cls.reason}) is never acted on`, token, issuedTo);
  const ageMs = input.now.getTime() - token.issuedAt.getTime();
  if (ageMs > config.instance.token_ttl && !input.skip?.expiry) {
    return fail('expired', `the token was issued ${token.issuedAt.toISOString()}, longer ago than instance.token_ttl allows`, token, issuedTo);
  }
  return { ok: true, token, sender: issuedTo };
}
