// The direct-delivery listener of `mailwarden run` (SPEC §3): an LMTP (or SMTP) server on a local
// address, so an MTA such as Postfix hands mail straight to mailwarden. This holds the server:
// listen, hand each DATA to the delivery, answer (per recipient for LMTP, one reply for SMTP, where
// any failure makes the sender try again), log server errors, and on stop wait for deliveries in
// progress to be committed and answered. The delivery itself (store once, accept per recipient,
// the 250/550/451 replies) is in src/ingest/direct-delivery.ts.
import type { AddressInfo } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import type { ListenerConfig } from '../config/types.js';
import { deliver, refuseRecipient, smtpError, type SmtpError } from '../ingest/direct-delivery.js';
import type { IngestContext } from '../ingest/pipeline.js';
import { logEvent } from '../log.js';
import { PromptGreetingServer } from './prompt-greeting.js';
import type { Service } from './service.js';

export class ListenerService implements Service {
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
    // Greets at once, not after smtp-server's 100 ms early-talker wait (prompt-greeting.ts).
    const server = new PromptGreetingServer({
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
        const refused = refuseRecipient(this.ctx, address.address);
        if (refused) return callback(refused);
        callback();
      },
      onData: (stream, session, callback) => {
        const work = deliver(this.ctx, this.settings.protocol, stream, session).then(
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
}
