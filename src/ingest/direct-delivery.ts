// Direct delivery (SPEC §3), the work of one delivery: an MTA such as Postfix hands mail straight
// to mailwarden over LMTP (or SMTP), and the recipient address picks the mailbox (unknown: 550).
// The message is stored and parsed once, then accepted for each recipient's box; a reply is 250
// only once the raw bytes are on disk and the accept transaction has committed, otherwise 451 and
// the MTA keeps the message and tries again. LMTP answers per recipient, so one box failing does
// not make the MTA deliver again to the others. The server that listens and stops is
// src/daemon/listener-service.ts.
import crypto from 'node:crypto';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { ListenerConfig, MailboxConfig } from '../config/types.js';
import { acceptPrepared, prepareMessage, type IngestContext } from './pipeline.js';
import { logEvent } from '../log.js';
import { ingestFailureKind } from './failures.js';

export type SmtpError = Error & { responseCode?: number };

export function smtpError(code: number, message: string): SmtpError {
  return Object.assign(new Error(message), { responseCode: code });
}

function mailboxFor(ctx: IngestContext, address: string): MailboxConfig | undefined {
  const wanted = address.trim().toLowerCase();
  return ctx.getConfig().mailboxes.find((m) => m.address.toLowerCase() === wanted);
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
  // Streamed to disk, parsed once, then accepted for each recipient's box.
  const prepared = await prepareMessage(ctx, stream);
  if (stream.sizeExceeded) throw smtpError(552, '5.3.4 message too big');
  const envelopeFrom = session.envelope.mailFrom === false ? null : session.envelope.mailFrom.address;
  const replies: Array<string | SmtpError> = [];
  for (const rcpt of session.envelope.rcptTo) {
    const box = mailboxFor(ctx, rcpt.address);
    if (!box) {
      replies.push(smtpError(550, `5.1.1 <${rcpt.address}>: no such mailbox here`));
      continue;
    }
    try {
      const result = await acceptPrepared(ctx, prepared, {
        mailbox: box,
        source: { kind: protocol, queueId: `${session.id}.${crypto.randomBytes(6).toString('hex')}` },
        envelopeFrom,
      });
      // A parked message is ours (kept raw, recorded, supervisors told): the sender's job is done.
      const as = result.outcome === 'parked' ? ', parked for review' : result.caseId ? ` as ${result.caseId}` : '';
      replies.push(`2.0.0 <${rcpt.address}> accepted${as}`);
    } catch (err) {
      ctx.log.error(
        logEvent('listener.delivery_failed', { mailbox: box.id, kind: ingestFailureKind(err), err: (err as Error).message }),
        'direct delivery failed; the sender will retry',
      );
      replies.push(smtpError(451, `4.3.0 <${rcpt.address}> temporary failure, try again later`));
    }
  }
  return replies;
}
