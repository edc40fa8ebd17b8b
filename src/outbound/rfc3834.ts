// RFC 3834 ("Recommendations for Automatic Responses to Electronic Mail"), the parts a helpdesk
// must obey: never answer automatic mail, bounces, the null sender, list mail, addresses that
// cannot read, or mail from a mailwarden (ours or another's). Pure: decides from the message.
// The rate limits (window, daily cap) need the outbox and live in autoresponse.ts.

export interface InboundFacts {
  from: { address: string; name?: string } | null;
  /** SMTP MAIL FROM (or the Return-Path header): '' or '<>' is the null sender. */
  envelopeFrom?: string | null;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  subject: string;
  /** lower-case header name -> raw value */
  headers: Record<string, string>;
}

function header(facts: InboundFacts, name: string): string | null {
  const v = facts.headers[name];
  return v === undefined ? null : v.replace(/\r?\n[ \t]+/g, ' ').trim();
}

/** Local parts of addresses that never read mail (RFC 3834 §2 names several of them). */
const MACHINE_LOCAL_PART = [
  /no[-_.]?reply/i,
  /do[-_.]?not[-_.]?reply/i,
  /^mailer[-_.]?daemon$/i,
  /^post[-_.]?master$/i,
  /^listserv$/i,
  /^majordomo$/i,
  /^bounces?([-+_.].*)?$/i,
  /^owner-/i,
  /-(request|owner|bounces?)$/i,
];

/** List software that does not use RFC 2369 List-* headers (ezmlm, fml, older Mailman setups). */
const LIST_HEADERS = new Set(['mailing-list', 'x-mailing-list', 'x-mlserver', 'x-ml-name', 'x-list', 'x-loop']);

/** Subjects vacation responders put on their replies (RFC 3834 §3.1.5 suggests "Auto:"). Letters
 * beyond ASCII are written as \u escapes (ź, é): the CLI bundle is kept ASCII (scripts/bundle.mjs). */
const AUTO_REPLY_SUBJECT =
  /^(auto:|auto[- ]?reply\b|automatic reply\b|auto[- ]?response\b|out of (the )?office\b|abwesenheitsnotiz\b|automatische antwort\b|odpowied[z\u017a] automatyczna\b|r[\u00e9e]ponse automatique\b)/i;

function isMachineAddress(address: string): boolean {
  const local = address.slice(0, address.lastIndexOf('@') === -1 ? address.length : address.lastIndexOf('@'));
  return MACHINE_LOCAL_PART.some((re) => re.test(local));
}

function isNullSender(facts: InboundFacts): boolean {
  const candidates = [facts.envelopeFrom, header(facts, 'return-path')];
  return candidates.some((v) => v !== undefined && v !== null && /^<?\s*>?$/.test(v.trim()));
}

function contentType(facts: InboundFacts): string {
  return (header(facts, 'content-type') ?? '').toLowerCase();
}

/** A delivery status notification, a read receipt, or another machine report about a message. */
function isReport(facts: InboundFacts): boolean {
  const ct = contentType(facts);
  if (ct.startsWith('multipart/report')) return true;
  if (/report-type\s*=\s*"?(delivery-status|disposition-notification)/.test(ct)) return true;
  if (ct.startsWith('message/delivery-status') || ct.startsWith('message/disposition-notification')) return true;
  // Exim and a few others send plain-text bounces but say so in a header.
  return header(facts, 'x-failed-recipients') !== null;
}

/**
 * Why no auto-response may be sent to this message, or null when one may.
 * `ownAddresses` are the supervised boxes' addresses (lower case): mail from them is ours.
 */
export function autoResponseRefusal(facts: InboundFacts, ownAddresses: ReadonlySet<string> = new Set()): string | null {
  if (header(facts, 'x-mailwarden-instance') !== null) return 'mail from a mailwarden instance';

  const autoSubmitted = header(facts, 'auto-submitted');
  if (autoSubmitted !== null && autoSubmitted.split(';')[0]!.trim().toLowerCase() !== 'no') {
    return `Auto-Submitted: ${autoSubmitted.split(';')[0]!.trim()}`;
  }
  if (isNullSender(facts)) return 'null sender <>';
  if (isReport(facts)) return 'delivery or disposition report';

  const listHeader = Object.keys(facts.headers).find((h) => h.startsWith('list-') || LIST_HEADERS.has(h));
  if (listHeader) return `list mail (${listHeader})`;
  const precedence = (header(facts, 'precedence') ?? '').toLowerCase();
  if (['bulk', 'list', 'junk', 'auto_reply'].includes(precedence)) return `Precedence: ${precedence}`;

  // Microsoft's way of saying "do not auto-reply to me"; also set on their own OOF replies.
  const suppress = (header(facts, 'x-auto-response-suppress') ?? '').toLowerCase();
  if (/\b(all|oof|autoreply)\b/.test(suppress)) return `X-Auto-Response-Suppress: ${suppress}`;
  if (header(facts, 'x-autoreply') !== null || header(facts, 'x-autorespond') !== null) return 'auto-reply header (X-Autoreply/X-Autorespond)';
  if (/^vacation$/i.test(header(facts, 'x-apple-action') ?? '')) return 'vacation reply (X-Apple-Action)';
  if (AUTO_REPLY_SUBJECT.test(facts.subject.trim())) return 'auto-reply subject';

  if (!facts.from || !facts.from.address) return 'no sender address';
  const from = facts.from.address.trim().toLowerCase();
  if (isMachineAddress(from)) return `machine address ${from}`;
  const envelope = (facts.envelopeFrom ?? '').replace(/[<>]/g, '').trim().toLowerCase();
  if (envelope && isMachineAddress(envelope)) return `machine envelope sender ${envelope}`;
  if (ownAddresses.has(from)) return `mail from our own mailbox ${from}`;
  return null;
}
