// The IMAP worker of `mailwarden run`, one per supervised box: connect, sync the box, then IDLE
// until the server reports new mail or the poll interval passes. Any failure drops the connection
// and reconnects with capped exponential backoff and jitter; it is logged with the box id and
// never touches the other boxes. A failure after login (a full disk, a busy database, an accept
// that failed) counts in the same run of failures as one before it: only a finished pass over the
// box ends the run, so a box whose every pass fails knocks ever less often, not once a second.
// The work on the box itself (UIDVALIDITY, fetching above the high-water mark, accepting in UID
// order, marking) is in src/ingest/mailbox-sync.ts; this only holds the connection and runs it in
// a loop. A box that logs in with OAuth2 gets its access token before connecting; when the server
// refuses a token the cache handed out, the token is dropped and the login tried once more with a
// new one, and a second refusal is a failure like any other (backoff).
import { ImapFlow } from 'imapflow';
import { OAuth2Error, sharedTokens, type TokenCache } from '../config/oauth2.js';
import type { ImapConfig, MailboxConfig } from '../config/types.js';
import { backoffDelay, sleepUnlessAborted, DEFAULT_BACKOFF, type BackoffOptions } from '../ingest/backoff.js';
import { imapClientOptions, imapCredential, type ImapLogin } from '../ingest/imap-connect.js';
import { catchUpMarks, checkUidValidity, lastUid, prepareMarking, recordMailboxError, syncMailbox } from '../ingest/mailbox-sync.js';
import type { IngestContext } from '../ingest/pipeline.js';
import { logEvent, type LogEvent } from '../log.js';
import { AcceptFailedError, ingestFailureKind } from '../ingest/failures.js';
import type { Service } from './service.js';

/** How long stop() lets an unresponsive server hold up the shutdown. */
const STOP_GRACE_MS = 10_000;

export interface ImapServiceOptions {
  backoff?: BackoffOptions;
  /** OAuth2 access tokens (default: the daemon's shared cache). */
  tokens?: TokenCache;
}

/** One connection and whether the server has closed it. */
interface Connection {
  client: ImapFlow;
  closed: boolean;
}

/** The worker for one box as a daemon service; syncOnce() serves `run --once`. */
export function createImapService(ctx: IngestContext, mailbox: MailboxConfig, opts: ImapServiceOptions = {}): ImapService {
  return new ImapService(ctx, mailbox, opts);
}

class ImapService implements Service {
  readonly name: string;
  private stopping = false;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private woken = false;
  private waiter: (() => void) | null = null;
  /** Failures in a row; a finished pass over the box resets it. */
  private failures = 0;
  /** The last refusal logged at error level; the same one again is logged as a warning. */
  private lastRefusal: string | null = null;
  /** The box's last error in the database is cleared (a pass finished since the last failure). */
  private healthy = false;
  private client: ImapFlow | null = null;
  private connecting = false;
  private readonly log: IngestContext['log'];

  constructor(
    private readonly ctx: IngestContext,
    readonly mailbox: MailboxConfig,
    private readonly opts: ImapServiceOptions = {},
  ) {
    this.name = `imap:${mailbox.id}`;
    this.log = ctx.log.child({ mailbox: mailbox.id });
  }

  async start(): Promise<void> {
    if (!this.mailbox.imap) throw new Error(`mailbox ${this.mailbox.id} has no imap section`);
    this.running = this.loop();
  }

  /** Stops taking new mail; the message in hand is finished and marked, then the session logs out. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.wakeUp();
    // Nothing is in hand while connecting: do not wait for a dead server's timeout.
    if (this.connecting) this.client?.close();
    const timer = setTimeout(() => {
      this.log.warn(logEvent('mailbox.stop_timeout'), 'the IMAP server does not answer; closing the connection to stop');
      this.client?.close();
    }, STOP_GRACE_MS);
    await this.running;
    clearTimeout(timer);
  }

  /** Runs one sync of the box and returns (for `mailwarden run --once`). */
  async syncOnce(): Promise<void> {
    this.stopping = false;
    await this.session(true);
  }

  private wakeUp(): void {
    this.woken = true;
    this.waiter?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.session(false);
      } catch (err) {
        if (this.stopping) break;
        const delay = this.nextDelay();
        const e = err as Error & { code?: string; responseText?: string; authenticationFailed?: boolean };
        const [event, text] = describeFailure(e);
        this.log[this.levelFor(e, event)](
          logEvent(event, {
            err: e.message,
            code: e.code,
            server: e.responseText,
            ...(e instanceof OAuth2Error ? { oauth_error: e.oauthError } : {}),
            failures: this.failures,
            retry_in_ms: delay,
          }),
          text,
        );
        await recordMailboxError(this.ctx, this.mailbox, `${e.message}${e.responseText ? ` (${e.responseText})` : ''}`);
        await sleepUnlessAborted(delay, this.abort.signal);
      }
    }
  }

  /**
   * A refusal (the server or the token endpoint says no: an admin must act) is an error the first
   * time and a warning while the same one repeats, so the log says it once and clearly; other
   * failures are warnings until the fourth in a row.
   */
  private levelFor(e: Error, event: LogEvent): 'error' | 'warn' {
    const refusal = event === 'mailbox.login_failed' || (e instanceof OAuth2Error && e.kind !== 'unreachable');
    if (!refusal) return this.failures > 3 ? 'error' : 'warn';
    const key = `${event} ${e.message} ${(e as { responseText?: string }).responseText ?? ''}`;
    if (key === this.lastRefusal) return 'warn';
    this.lastRefusal = key;
    return 'error';
  }

  /** One more failure in a row: the pause before trying again, capped, exponential, with jitter. */
  private nextDelay(): number {
    this.failures++;
    this.healthy = false;
    return backoffDelay(this.failures, this.opts.backoff ?? DEFAULT_BACKOFF);
  }

  /** A pass over the box finished: the run of failures is over, and `status` shows no error. */
  private async passed(): Promise<void> {
    this.failures = 0;
    if (this.healthy) return;
    this.healthy = true;
    await recordMailboxError(this.ctx, this.mailbox, null);
  }

  /**
   * Fetches the login and connects. An access token from the cache that the server refuses is
   * dropped and replaced once (it may have been revoked or expired early); a fresh token refused,
   * or a second refusal, is thrown as the login failure it is.
   */
  private async connect(imap: ImapConfig): Promise<Connection> {
    const tokens = this.opts.tokens ?? sharedTokens;
    for (let retried = false; ; retried = true) {
      const credential = await imapCredential(imap, { tokens, signal: this.abort.signal });
      if (credential.token?.fresh) {
        this.log.debug(logEvent('mailbox.token_fetched', { grant: imap.auth.grant, expires_in_s: credential.token.expiresInS }), 'OAuth2 access token fetched');
      }
      const connection = this.newConnection(imap, credential.login);
      try {
        await connection.client.connect();
        return connection;
      } catch (err) {
        if (!connection.closed) connection.client.close();
        const token = credential.token;
        if (!token || !(err as { authenticationFailed?: boolean }).authenticationFailed) throw err;
        tokens.invalidate(token);
        if (retried || token.fresh) throw err;
        this.log.info(logEvent('mailbox.token_rejected', {}), 'the server refused the cached OAuth2 access token; logging in again with a new one');
      }
    }
  }

  private newConnection(imap: ImapConfig, login: ImapLogin): Connection {
    const client = new ImapFlow(imapClientOptions(imap, login));
    const connection: Connection = { client, closed: false };
    client.on('error', (err: Error) => this.log.debug({ err: err.message }, 'imap connection error'));
    client.on('close', () => {
      connection.closed = true;
      this.wakeUp();
    });
    client.on('exists', () => this.wakeUp());
    this.client = client;
    return connection;
  }

  /** One connection: returns when stopping (or after one pass when `once`), throws on failure. */
  private async session(once: boolean): Promise<void> {
    const imap = this.mailbox.imap!;
    this.connecting = true;
    // The login is resolved now, not at load: a secret file replaced on disk counts at the next connection.
    let connection: Connection;
    try {
      connection = await this.connect(imap);
    } catch (err) {
      this.connecting = false;
      this.client = null;
      throw err;
    }
    const { client } = connection;
    try {
      const opened = await client.mailboxOpen(imap.folder);
      this.connecting = false;
      const uidvalidity = Number(opened.uidValidity);
      await checkUidValidity(this.ctx, this.mailbox, uidvalidity);
      await prepareMarking(client, this.ctx);
      this.log.info(
        logEvent('mailbox.connected', { folder: imap.folder, uidvalidity, exists: opened.exists, idle: this.idleAvailable(client) }),
        'mailbox connected',
      );
      this.lastRefusal = null;
      await catchUpMarks(client, this.ctx, this.mailbox);
      while (!this.stopping) {
        this.woken = false;
        try {
          await syncMailbox(client, this.ctx, this.mailbox, uidvalidity, () => this.stopping);
        } catch (err) {
          if (!(err instanceof AcceptFailedError)) throw err;
          // A message failed to be accepted (logged as such by the pipeline): the connection is
          // fine, so wait and take the box again from the same message; it is parked in the end.
          await sleepUnlessAborted(this.nextDelay(), this.abort.signal);
          continue;
        }
        await this.passed();
        // A finished pass, at debug level: proves to a reader (and the tests) that the box was looked at.
        this.log.debug(logEvent('mailbox.synced', { last_uid: await lastUid(this.ctx, this.mailbox) }), 'mailbox synced');
        if (connection.closed) throw new Error('connection closed by the server');
        if (once || this.stopping) break;
        if (!this.woken) await this.waitForMail(client);
        if (connection.closed) throw new Error('connection closed by the server');
      }
    } finally {
      this.connecting = false;
      this.client = null;
      if (!connection.closed) await client.logout().catch(() => client.close());
    }
  }

  private idleAvailable(client: ImapFlow): boolean {
    return this.ctx.getConfig().ingest.idle && client.capabilities.has('IDLE');
  }

  /** IDLE (or just wait, without IDLE) until new mail, the poll interval, a disconnect or stop(). */
  private async waitForMail(client: ImapFlow): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.waiter = resolve;
      timer = setTimeout(resolve, this.ctx.getConfig().ingest.poll_interval);
      // The next command (the sync) ends the IDLE; its promise settles then.
      if (this.idleAvailable(client)) client.idle().catch(() => undefined);
    });
    this.waiter = null;
    clearTimeout(timer);
  }
}

/** Each failure logged as what it is (SPEC §3): the disk, the database, the login or the connection. */
function describeFailure(e: Error & { authenticationFailed?: boolean }): [LogEvent, string] {
  if (e instanceof OAuth2Error) return ['mailbox.token_failed', 'no OAuth2 access token for the mailbox; retrying'];
  if (e.authenticationFailed) return ['mailbox.login_failed', 'mailbox login failed; retrying'];
  const kind = ingestFailureKind(e);
  if (kind === 'storage') return ['ingest.store_failed', 'storing the message failed (disk); retrying'];
  if (kind === 'database') return ['ingest.database_busy', 'the database is busy or full; retrying'];
  return ['mailbox.connection_failed', 'mailbox connection failed; retrying'];
}
