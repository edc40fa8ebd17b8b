// Direct delivery (SPEC §3), the work of one delivery: an MTA such as Postfix hands mail straight
// to mailwarden over LMTP (or SMTP), and the recipient address picks the mailbox (unknown: 550).
// The message is stored and parsed once, then accepted for each recipient's box; a reply is 250
// only once the raw bytes are on disk and the accept transaction has committed durably (fsynced:
// src/db/commit-sync.ts), otherwise 451 and the MTA keeps the message and tries again. LMTP
// answers per recipient, so one box failing does not make the MTA deliver again to the others. The server that listens and stops is
// src/daemon/listener-service.ts.
// The sender waits for the answer, so a database locked by another process is waited for only
// `ingest.listener.lock_wait` (asynchronously: the boxes and the drainer go on meanwhile), then
// answered 451. Every 451 is logged, one warn line per refused message (an error line when the
// cause is a bug): the MTA paces its retries itself (Postfix: minutes apart per message), so the
// lines cannot flood, and each names the session an operator finds again in the MTA's log.
import crypto from 'node:crypto';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { ListenerConfig, MailboxConfig } from '../config/types.js';
import { acceptPrepared, commitsDurable, prepareMessage, type IngestContext, type Prepared } from './pipeline.js';
import { logEvent } from '../log.js';
import { isTransientFailure } from '../db/errors.js';
import { ingestFailureKind } from './failures.js';

export type SmtpError = Error & { responseCode?: number };

export function smtpError(code: number, message: string): SmtpError {
  return Object.assign(new Error(message), { responseCode: code });
}

/** The box an address names; a sub-address (`box+<token>@domain`, SPEC §5A) is the box's own. */
function mailboxFor(ctx: IngestContext, address: string): MailboxConfig | undefined {
  const wanted = address.trim().toLowerCase();
  const base = wanted.replace(/\+[^@]*@/, '@');
  const boxes = ctx.getConfig().mailboxes;
  return boxes.find((m) => m.address.toLowerCase() === wanted) ?? boxes.find((m) => m.address.toLowerCase() === base);
}

/** RCPT TO: the 550 for an address no box has, or null when some box takes it. */
export function refuseRecipient(ctx: IngestContext, address: string): SmtpError | null {
  return mailboxFor(ctx, address) ? null : smtpError(550, `5.1.1 <${address}>: no such mailbox here`);
}

/** Stores the message once, accepts it for each recipient's box; one reply per recipient. */
export async function deliver(
  ctx: IngestContext,
  protocol: ListenerConfig['protocol'],
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
): Promise<Array<string | SmtpError>> {
  const recipients = session.envelope.rcptTo.map((r) => r.address);
  let prepared: Prepared;
  try {
    // Streamed to disk, parsed once, then accepted for each recipient's box.
    prepared = await prepareMessage(ctx, stream);
  } catch (err) {
    logRefusal(ctx, session, { recipients }, err);
    throw smtpError(451, '4.3.0 temporary failure, try again later');
  }
  if (stream.sizeExceeded) throw smtpError(552, '5.3.4 message too big');
  const envelopeFrom = session.envelope.mailFrom === false ? null : session.envelope.mailFrom.address;
  // One bound for the whole delivery: the sender waits for all the replies at once.
  const lockDeadline = Date.now() + ctx.getConfig().ingest.listener.lock_wait;
  const replies: Array<string | SmtpError> = [];
  for (const rcpt of recipients) {
    const box = mailboxFor(ctx, rcpt);
    if (!box) {
      replies.push(smtpError(550, `5.1.1 <${rcpt}>: no such mailbox here`));
      continue;
    }
    try {
      const result = await acceptPrepared(ctx, prepared, {
        mailbox: box,
        source: { kind: protocol, queueId: `${session.id}.${crypto.randomBytes(6).toString('hex')}` },
        envelopeFrom,
        lockDeadline,
      });
      // A parked message is ours (kept raw, recorded, supervisors told): the sender's job is done.
      const as = result.outcome === 'parked' ? ', parked for review' : result.caseId ? ` as ${result.caseId}` : '';
      replies.push(`2.0.0 <${rcpt}> accepted${as}`);
    } catch (err) {
      logRefusal(ctx, session, { mailbox: box.id, recipients: [rcpt] }, err);
      replies.push(tryAgainLater(rcpt));
    }
  }
  return answerDurably(ctx, session, recipients, replies);
}

/**
 * The replies, once the accepts behind the 250s are durable. A sync that fails turns them into
 * 451s: the MTA keeps the message and delivers it again, and the dedupe takes the second delivery
 * as the first (the rows are there, or a power loss took them and the message is new again).
 */
async function answerDurably(
  ctx: IngestContext,
  session: SMTPServerSession,
  recipients: string[],
  replies: Array<string | SmtpError>,
): Promise<Array<string | SmtpError>> {
  if (!replies.some((r) => typeof r === 'string')) return replies;
  try {
    await commitsDurable(ctx);
    return replies;
  } catch (err) {
    logRefusal(ctx, session, { recipients }, err);
    return recipients.map((rcpt, i) => (typeof replies[i] === 'string' ? tryAgainLater(rcpt) : replies[i]!));
  }
}

/** One recipient's 451: the MTA keeps the message and tries again. */
function tryAgainLater(rcpt: string): SmtpError {
  return smtpError(451, `4.3.0 <${rcpt}> temporary failure, try again later`);
}

/** One line per 451, with why: the disk, the database (locked or full), a failing accept, or a bug. */
function logRefusal(ctx: IngestContext, session: SMTPServerSession, where: { mailbox?: string; recipients: string[] }, err: unknown): void {
  const kind = ingestFailureKind(err);
  const e = err as Error & { code?: unknown };
  const fields = { ...where, session: session.id, kind: kind === 'connection' ? 'internal' : kind, code: e.code, err: e.message };
  const level = isTransientFailure(err) ? 'warn' : 'error';
  ctx.log[level](logEvent('listener.delivery_failed', fields), 'direct delivery answered 451; the sender will retry');
}
