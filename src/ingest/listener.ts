// Direct delivery (SPEC §3): an LMTP (or SMTP) server on a local address, so an MTA such as
// Postfix hands mail straight to mailwarden. The recipient address picks the mailbox (unknown:
// 550). The answer is 250 only once the raw bytes are on disk and the accept transaction has
// committed; otherwise 451, and the MTA keeps the message and tries again. LMTP answers per
// recipient, so one box failing does not make the MTA deliver again to the others.
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { ListenerConfig, MailboxConfig } from '../config/types.js';
import { acceptPrepared, prepareMessage, type IngestContext } from './pipeline.js';
import { logEvent } from '../log.js';
import { ingestFailureKind } from './failures.js';

type SmtpError = Error & { responseCode?: number };

function smtpError(code: number, message: string): SmtpError {
  return Object.assign(new Error(message), { responseCode: code });
}

// Shaped as a daemon Service (name, start, stop, reload); src/daemon/run.ts supervises it.
export class Listener {
  readonly name = 'listener';
  private server: SMTPServer | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();
  private address: { host: string; port: number } | null = null;

  constructor(
    private readonly ctx: IngestContext,
    private readonly settings: ListenerConfig,
  ) {}

  /** Where it listens (port 0 in the config becomes the real port). */
  get bound(): { host: string; port: number } | null {
    return this.address;
  }

  async start(): Promise<void> {
    const lmtp = this.settings.protocol === 'lmtp';
    const server = new SMTPServer({
      lmtp,
      name: 'mailwarden',
      banner: 'mailwarden direct delivery',
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      // Loopback clients: a reverse DNS lookup per connection only adds latency.
      disableReverseLookup: true,
      // Oversize mail is still kept (raw, flagged `oversize`); this only stops a runaway sender.
      size: Math.max(this.ctx.getConfig().ingest.max_message_size * 4, 100 * 1024 * 1024),
      logger: false,
      onRcptTo: (address, _session, callback) => {
        const box = this.mailboxFor(address.address);
        if (!box) return callback(smtpError(550, `5.1.1 <${address.address}>: no such mailbox here`));
        callback();
      },
      onData: (stream, session, callback) => {
        const work = this.deliver(stream, session).then(
          (replies) => {
            if (lmtp) return callback(null, replies);
            // SMTP has one reply for all recipients: any failure makes the sender try again.
            const failed = replies.find((r): r is SmtpError => r instanceof Error);
            return failed ? callback(failed) : callback(null, typeof replies[0] === 'string' ? replies[0] : undefined);
          },
          (err: SmtpError) => callback(err.responseCode ? err : smtpError(451, `4.3.0 ${err.message}`)),
        );
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      },
    });
    server.on('error', (err) => this.ctx.log.error(logEvent('listener.error', { err: err.message, listener: this.settings.protocol }), 'listener error'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.server.once('error', onError);
      server.listen(this.settings.port, this.settings.host, () => {
        server.server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
    const addr = server.server.address() as AddressInfo;
    this.address = { host: addr.address, port: addr.port };
    this.ctx.log.info(logEvent('listener.ready', { listener: this.settings.protocol, host: addr.address, port: addr.port }), 'listener ready');
  }

  /** Stops accepting connections and waits for deliveries in progress to be committed and answered. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.allSettled([...this.inFlight]);
    await closed;
  }

  private mailboxFor(address: string): MailboxConfig | undefined {
    const wanted = address.trim().toLowerCase();
    return this.ctx.getConfig().mailboxes.find((m) => m.address.toLowerCase() === wanted);
  }

  /** Stores the message once, accepts it for each recipient's box; one reply per recipient. */
  private async deliver(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<Array<string | SmtpError>> {
    // Streamed to disk, parsed once, then accepted for each recipient's box.
    const prepared = await prepareMessage(this.ctx, stream);
    if (stream.sizeExceeded) throw smtpError(552, '5.3.4 message too big');
    const envelopeFrom = session.envelope.mailFrom === false ? null : session.envelope.mailFrom.address;
    const replies: Array<string | SmtpError> = [];
    const protocol = this.settings.protocol;
    for (const rcpt of session.envelope.rcptTo) {
      const box = this.mailboxFor(rcpt.address);
      if (!box) {
        replies.push(smtpError(550, `5.1.1 <${rcpt.address}>: no such mailbox here`));
        continue;
      }
      try {
        const result = await acceptPrepared(this.ctx, prepared, {
          mailbox: box,
          source: { kind: protocol, queueId: `${session.id}.${crypto.randomBytes(6).toString('hex')}` },
          envelopeFrom,
        });
        // A parked message is ours (kept raw, recorded, supervisors told): the sender's job is done.
        const as = result.outcome === 'parked' ? ', parked for review' : result.caseId ? ` as ${result.caseId}` : '';
        replies.push(`2.0.0 <${rcpt.address}> accepted${as}`);
      } catch (err) {
        this.ctx.log.error(
          logEvent('listener.delivery_failed', { mailbox: box.id, kind: ingestFailureKind(err), err: (err as Error).message }),
          'direct delivery failed; the sender will retry',
        );
        replies.push(smtpError(451, `4.3.0 <${rcpt.address}> temporary failure, try again later`));
      }
    }
    return replies;
  }
}
