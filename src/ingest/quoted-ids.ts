// Bounces name the message they are about in many ways: an Original-Message-ID field, the
// original headers in a message/rfc822(-headers) part, or a plain-text copy under "---- Original
// message ----". Rather than parse every MTA's format, the raw bytes are scanned for
// Message-ID lines; ingest only acts on one that names mail mailwarden itself sent.
import type { RawSource } from './raw-source.js';

const BOUNCE_SENDER = /^(mailer-daemon|postmaster|mail-daemon|mail-delivery-subsystem|mdaemon|bounces?|mailerdaemon)@/i;
const BOUNCE_SUBJECT =
  /(undeliver|undelivered|delivery (status )?notification|delivery failure|failure notice|returned mail|mail delivery (failed|failure|system)|non[- ]?delivery|could not be delivered|delivery has failed|nicht zustellbar|unzustellbar|niedostarczon|non remis|message not delivered|bounce)/i;

/** Headers that make a message worth scanning for the Message-ID it reports on. */
export function looksLikeReport(headers: Record<string, string>): boolean {
  const ct = (headers['content-type'] ?? '').toLowerCase();
  if (ct.startsWith('multipart/report')) return true;
  if (headers['x-failed-recipients'] !== undefined) return true;
  const from = (headers['from'] ?? '').match(/[^\s<>"]+@[^\s<>"]+/)?.[0] ?? '';
  if (BOUNCE_SENDER.test(from)) return true;
  return BOUNCE_SUBJECT.test(headers['subject'] ?? '');
}

export function isBounceSubject(subject: string): boolean {
  return BOUNCE_SUBJECT.test(subject);
}

export function isBounceSender(address: string): boolean {
  return BOUNCE_SENDER.test(address);
}

export interface ReportScan {
  /** Message-IDs on Message-ID / Original-Message-ID lines, in order */
  messageIds: string[];
  /** DSN Action fields (failed, delayed, delivered, relayed, expanded), lower case */
  actions: string[];
}

/** Scans the first maxBytes of a report for the Message-IDs it names and its DSN actions. */
export async function scanReport(source: RawSource, maxBytes: number): Promise<ReportScan> {
  const ids = new Set<string>();
  const actions = new Set<string>();
  const idRe = /^[ \t>]*(?:x-)?(?:original-)?message-id:[ \t]*(<[^<>\s]{1,900}>)/gim;
  const actionRe = /^action:[ \t]*([a-z]+)/gim;
  const scan = (text: string) => {
    const t = text.replace(/\r/g, '\n');
    for (const m of t.matchAll(idRe)) if (ids.size < 50) ids.add(m[1]!);
    for (const m of t.matchAll(actionRe)) actions.add(m[1]!.toLowerCase());
  };
  let carry = '';
  await source.eachChunk(0, maxBytes, 256 * 1024, (chunk) => {
    const text = carry + chunk.toString('latin1');
    const cut = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
    carry = cut >= 0 ? text.slice(cut + 1) : text;
    if (cut >= 0) scan(text.slice(0, cut + 1));
    if (carry.length > 4096) carry = carry.slice(-4096);
  });
  scan(carry);
  return { messageIds: [...ids], actions: [...actions] };
}
