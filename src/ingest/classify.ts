// What kind of inbound mail this is, beyond its text: a bounce or delivery report (threads onto
// the mail it reports on, never answered, never reopens), an automatic reply such as an
// out-of-office (threads, but neither reopens nor counts as feedback), or ordinary mail.
import type { ParsedMessage } from './message.js';
import { isBounceSender, isBounceSubject } from './quoted-ids.js';

export type InboundKind = 'normal' | 'bounce' | 'auto_reply';

export interface Classification {
  kind: InboundKind;
  reason: string | null;
  /** For a bounce: false when the report only says "delayed" or "delivered" (no failure). */
  failure?: boolean;
}

// Letters beyond ASCII are written as \u escapes (é, á): the CLI bundle is kept ASCII (scripts/bundle.mjs).
const AUTO_REPLY_SUBJECT =
  /^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|autoreply|auto:|abwesen|automatische antwort|automatyczna odpowied|nieobecno|r[\u00e9e]ponse automatique|absent|absence|respuesta autom[\u00e1a]tica|fuera de la oficina|risposta automatica|fuori sede|afwezig|automatisch antwoord)/i;

function header(m: ParsedMessage, name: string): string {
  return (m.headers[name] ?? '').trim().toLowerCase();
}

function isNullSender(m: ParsedMessage, envelopeFrom: string | null | undefined): boolean {
  if (envelopeFrom !== undefined && envelopeFrom !== null && envelopeFrom.replace(/[<>\s]/g, '') === '') return true;
  const rp = m.headers['return-path'];
  return rp !== undefined && rp.replace(/[<>\s]/g, '') === '';
}

export function classifyInbound(m: ParsedMessage, envelopeFrom?: string | null): Classification {
  const ct = header(m, 'content-type');
  const report = ct.startsWith('multipart/report') ? (ct.match(/report-type\s*=\s*"?([a-z-]+)/)?.[1] ?? 'delivery-status') : null;
  // A DSN whose every Action is delayed/delivered/relayed reports no failure.
  const failure = m.reportActions.length === 0 || m.reportActions.includes('failed');
  if (report === 'delivery-status')
    return { kind: 'bounce', reason: failure ? 'delivery status report' : `delivery report (${m.reportActions.join(', ')})`, failure };
  if (m.headers['x-failed-recipients'] !== undefined) return { kind: 'bounce', reason: 'X-Failed-Recipients', failure: true };
  const from = m.from?.address ?? '';
  const nullSender = isNullSender(m, envelopeFrom);
  const bounceSubject = isBounceSubject(m.subject);
  // A postmaster may write real mail: the sender alone is not enough.
  if (isBounceSender(from) && (bounceSubject || nullSender)) return { kind: 'bounce', reason: `sent by ${from}`, failure };
  if (nullSender && bounceSubject) return { kind: 'bounce', reason: 'null sender and a bounce subject', failure };

  if (report === 'disposition-notification') return { kind: 'auto_reply', reason: 'read receipt' };
  const autoSubmitted = header(m, 'auto-submitted').split(';')[0]!.trim();
  if (autoSubmitted && autoSubmitted !== 'no') return { kind: 'auto_reply', reason: `Auto-Submitted: ${autoSubmitted}` };
  if (m.headers['x-autoreply'] !== undefined || m.headers['x-autorespond'] !== undefined) return { kind: 'auto_reply', reason: 'X-Autoreply' };
  if (header(m, 'precedence') === 'auto_reply') return { kind: 'auto_reply', reason: 'Precedence: auto_reply' };
  if (AUTO_REPLY_SUBJECT.test(m.subject)) return { kind: 'auto_reply', reason: 'out-of-office subject' };
  return { kind: 'normal', reason: null };
}
