// What parsing tells the rest of ingest about one raw message. Plain data (it crosses from the
// parser thread by structured clone), already cleaned: no control characters in header-ish
// strings, addresses lower-cased, Message-IDs in <angle brackets>.

export interface Address {
  address: string;
  name?: string;
}

export interface AttachmentInfo {
  filename: string | null;
  contentType: string;
  size: number;
  sha256: string;
  contentId: string | null;
  inline: boolean;
}

export type ParseStatus = 'parsed' | 'unparsed' | 'oversize';

export interface ParsedMessage {
  status: ParseStatus;
  /** Case/message flags this parse implies: unparsed, oversize, truncated. */
  flags: string[];
  /** Why the message is unparsed or truncated; null when all went well. */
  problem: string | null;
  size: number;
  /** Same message, whatever box or delivery brought it (see fingerprint.ts). */
  fingerprint: string;
  /** The body alone, line endings normalised (fingerprint.ts): tells a copy of our own mail from a forgery. */
  bodySha256: string;
  /** lower-case name -> raw value of its first occurrence (for RFC 3834 and classification) */
  headers: Record<string, string>;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  from: Address | null;
  replyTo: Address | null;
  to: Address[];
  cc: Address[];
  subject: string;
  /** Date header as ISO, null when missing or unreadable */
  date: string | null;
  contentType: string;
  /** primary subtag of Content-Language, lower case */
  contentLanguage: string | null;
  /** language -> how much the subject and the non-quoted text look like it (language-scores.ts) */
  languageScores: Record<string, number>;
  text: string;
  attachments: AttachmentInfo[];
  /** Message-IDs quoted inside the body (the original message of a bounce), bounded. */
  quotedMessageIds: string[];
  /** DSN Action fields found in a report (failed, delayed, delivered…); empty when none. */
  reportActions: string[];
  /** every Authentication-Results header, topmost first, bounded (staff mail, SPEC §5A) */
  authResults: string[];
  /** Delivered-To / X-Original-To values: where an MTA says it delivered (a sub-addressed token) */
  deliveredTo: string[];
}

/** Header-ish text: control characters (CR/LF included) become spaces, runs collapse, length bounded. */
export function cleanLine(value: unknown, max = 998): string {
  if (typeof value !== 'string') return '';
  return value
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, max);
}

/** Body text: NULs and other C0 controls except tab and newline removed, line endings LF. */
export function cleanText(value: unknown, max: number): { text: string; cut: boolean } {
  if (typeof value !== 'string') return { text: '', cut: false };
  const text = value.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
  return text.length > max ? { text: text.slice(0, max), cut: true } : { text, cut: false };
}

export function cleanAddress(address: unknown, name?: unknown): Address | null {
  const addr = cleanLine(address, 320).toLowerCase().replace(/\s+/g, '');
  if (!addr) return null;
  const display = cleanLine(name, 200);
  return display ? { address: addr, name: display } : { address: addr };
}
