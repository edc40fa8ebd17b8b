// Everything that reaches an outgoing header passes through here. Inbound data (a customer's
// display name, their subject, the Message-IDs they reference) is hostile until proven
// otherwise: a CR or LF in it could end the header and start a new one (`Bcc:`), so control
// characters are removed, not escaped, and addresses must look like addresses or are refused.
import { dataError } from '../errors.js';

// C0 controls, DEL, C1 controls (NEL among them), and the Unicode line/paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

const MAX_NAME = 200;
const MAX_SUBJECT = 500;

/** One line of plain text: control characters become spaces, runs of space collapse. */
export function headerText(value: string | null | undefined, maxLength = MAX_SUBJECT): string {
  if (!value) return '';
  const flat = value.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > maxLength ? flat.slice(0, maxLength).trimEnd() : flat;
}

/** A display name safe for From/To/Cc; also drops the characters that would break its quoting. */
export function displayName(value: string | null | undefined): string | undefined {
  const flat = headerText(value, MAX_NAME)
    .replace(/[<>"\\]/g, '')
    .trim();
  return flat === '' ? undefined : flat;
}

// Deliberately strict: a dot-atom-ish local part and a hostname. No quoted local parts, no
// comments, no whitespace; what a helpdesk should ever need to write to.
const ADDRESS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/;

export function isValidAddress(value: string): boolean {
  return value.length <= 254 && ADDRESS.test(value) && !value.startsWith('.') && !value.includes('..');
}

/** The address trimmed and lower-cased, or a data error naming what was wrong. */
export function validAddress(value: string | null | undefined, what = 'address'): string {
  const candidate = (value ?? '').trim();
  if (!isValidAddress(candidate)) {
    throw dataError('EBADADDRESS', `The ${what} ${JSON.stringify(headerText(candidate, 100))} is not a valid e-mail address.`);
  }
  return candidate.toLowerCase();
}

export interface Mailbox {
  address: string;
  name?: string;
}

/** A validated address with a sanitised display name. */
export function safeMailbox(m: { address: string; name?: string | null }, what = 'address'): Mailbox {
  const address = validAddress(m.address, what);
  const name = displayName(m.name);
  return name ? { address, name } : { address };
}

const MSG_ID = /^<[^<>\s@]+@[^<>\s@]+>$/;

/** A Message-ID as `<local@domain>`, or null when it is not one (dropped, never passed on). */
export function safeMessageId(value: string | null | undefined): string | null {
  if (!value) return null;
  let v = value.replace(CONTROL, '').trim();
  if (!v.startsWith('<')) v = `<${v}>`;
  return MSG_ID.test(v) && v.length <= 250 ? v : null;
}

/**
 * References for a reply: the valid ids, de-duplicated, the thread's root and its latest ids
 * kept when the list is long (RFC 5322 §3.6.4 suggests the first and the last).
 */
export function safeReferences(ids: Array<string | null | undefined>, max = 20): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const id of ids) {
    const v = safeMessageId(id);
    if (v && !seen.has(v)) {
      seen.add(v);
      out.push(v);
    }
  }
  return out.length > max ? [out[0]!, ...out.slice(out.length - (max - 1))] : out;
}

/** The domain of an address, for Message-IDs. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
