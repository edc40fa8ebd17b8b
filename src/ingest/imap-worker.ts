// One worker per supervised box: connect, fetch every message above the box's high-water mark
// (in UID order, so the mark only ever moves over messages that are done), accept each through
// the pipeline, mark them on the server, then IDLE until the server reports new mail or the poll
// interval passes. Any failure drops the connection and reconnects with capped exponential
// backoff and jitter; it is logged with the box id and never touches the other boxes.
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import { writeTx } from '../db/connection.js';
import type { MailboxConfig } from '../config/types.js';
import { backoffDelay, sleepUnlessAborted, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { imapClientOptions } from './imap-connect.js';
import { acceptPrepared, prepareMessage, type IngestContext, type Prepared } from './pipeline.js';
import { logEvent, type LogEvent } from '../log.js';
import { AcceptFailedError, ingestFailureKind } from './failures.js';

/** Messages up to this size are fetched in batches into memory; larger ones are streamed to disk. */
const SMALL_MESSAGE = 1024 * 1024;
const BATCH_BYTES = 8 * 1024 * 1024;
const BATCH_COUNT = 100;
const DOWNLOAD_CHUNK = 256 * 1024;
/** Messages stored and parsed ahead of the one being accepted. */
const LOOKAHEAD = 4;
/** How long stop() lets an unresponsive server hold up the shutdown. */
const STOP_GRACE_MS = 10_000;

export interface ImapWorkerOptions {
  backoff?: BackoffOptions;
}

export function createImapWorker(ctx: IngestContext, mailbox: MailboxConfig, opts: ImapWorkerOptions = {}): ImapWorker {
  return new ImapWorker(ctx, mailbox, opts);
}

// Shaped as a daemon Service (name, start, stop); src/daemon/run.ts supervises it. Ingest does not
// import the daemon: the daemon depends on ingest, never the other way round.
class ImapWorker {
  readonly name: string;
  private stopping = false;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private woken = false;
  private waiter: (() => void) | null = null;
  private failures = 0;
  private client: ImapFlow | null = null;
  private connecting = false;
  private readonly log: IngestContext['log'];

  constructor(
    private readonly ctx: IngestContext,
    readonly mailbox: MailboxConfig,
    private readonly opts: ImapWorkerOptions = {},
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
        this.failures++;
        const delay = backoffDelay(this.failures, this.opts.backoff ?? DEFAULT_BACKOFF);
        const e = err as Error & { code?: string; responseText?: string; authenticationFailed?: boolean };
        const level = e.authenticationFailed || this.failures > 3 ? 'error' : 'warn';
        const [event, text] = describeFailure(e);
        this.log[level](logEvent(event, { err: e.message, code: e.code, server: e.responseText, failures: this.failures, retry_in_ms: delay }), text);
        await this.recordError(`${e.message}${e.responseText ? ` (${e.responseText})` : ''}`);
        await sleepUnlessAborted(delay, this.abort.signal);
      }
    }
  }

  /** One connection: returns when stopping (or after one pass when `once`), throws on failure. */
  private async session(once: boolean): Promise<void> {
    const imap = this.mailbox.imap!;
    // Resolved now, not at load: a secret file replaced on disk counts at the next connection.
    const client = new ImapFlow(imapClientOptions(imap));
    let closed = false;
    client.on('error', (err: Error) => this.log.debug({ err: err.message }, 'imap connection error'));
    client.on('close', () => {
      closed = true;
      this.wakeUp();
    });
    client.on('exists', () => this.wakeUp());
    this.client = client;
    try {
      this.connecting = true;
      await client.connect();
      const opened = await client.mailboxOpen(imap.folder);
      this.connecting = false;
      const uidvalidity = Number(opened.uidValidity);
      await this.checkUidValidity(uidvalidity);
      await this.prepareMarking(client);
      this.log.info(
        logEvent('mailbox.connected', { folder: imap.folder, uidvalidity, exists: opened.exists, idle: this.idleAvailable(client) }),
        'mailbox connected',
      );
      this.failures = 0;
      await this.recordError(null);
      await this.catchUpMarks(client);
      while (!this.stopping) {
        this.woken = false;
        try {
          await this.sync(client, uidvalidity);
        } catch (err) {
          if (!(err instanceof AcceptFailedError)) throw err;
          // A message failed to be accepted (logged as such by the pipeline): the connection is
          // fine, so wait and take the box again from the same message; it is parked in the end.
          await sleepUnlessAborted(backoffDelay(err.attempt, this.opts.backoff ?? DEFAULT_BACKOFF), this.abort.signal);
          continue;
        }
        // A finished pass, at debug level: proves to a reader (and the tests) that the box was looked at.
        this.log.debug(logEvent('mailbox.synced', { last_uid: await this.lastUid() }), 'mailbox synced');
        if (closed) throw new Error('connection closed by the server');
        if (once || this.stopping) break;
        if (!this.woken) await this.waitForMail(client);
        if (closed) throw new Error('connection closed by the server');
      }
    } finally {
      this.connecting = false;
      this.client = null;
      if (!closed) await client.logout().catch(() => client.close());
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

  /** A new UIDVALIDITY means the UIDs start over: rescan from 0 (dedupe keeps it exactly-once). */
  private async checkUidValidity(uidvalidity: number): Promise<void> {
    const previous = await writeTx(this.ctx.db, async (tx) => {
      const state = await tx.selectFrom('mailbox_state').selectAll().where('mailbox_id', '=', this.mailbox.id).executeTakeFirst();
      if (!state) {
        await tx.insertInto('mailbox_state').values({ mailbox_id: this.mailbox.id, uidvalidity, last_uid: 0, last_sync_at: null, last_error: null }).execute();
        return null;
      }
      if (state.uidvalidity !== uidvalidity) {
        await tx.updateTable('mailbox_state').set({ uidvalidity, last_uid: 0 }).where('mailbox_id', '=', this.mailbox.id).execute();
      }
      return state;
    });
    if (previous && previous.uidvalidity !== null && previous.uidvalidity !== uidvalidity) {
      this.log.warn(
        logEvent('mailbox.uidvalidity_changed', { previous: previous.uidvalidity, uidvalidity, last_uid: previous.last_uid }),
        'UIDVALIDITY changed: rescanning the whole folder',
      );
    }
  }

  private async lastUid(): Promise<number> {
    const state = await this.ctx.db.selectFrom('mailbox_state').select('last_uid').where('mailbox_id', '=', this.mailbox.id).executeTakeFirst();
    return state?.last_uid ?? 0;
  }

  /** Fetches and accepts everything above the high-water mark, in UID order. */
  private async sync(client: ImapFlow, uidvalidity: number): Promise<void> {
    // NOOP lets the server report new mail (EXISTS) when we got here by the poll timer.
    await client.noop();
    if (!client.mailbox || client.mailbox.exists === 0) return;
    const last = await this.lastUid();
    const listed = await client.fetchAll(`${last + 1}:*`, { uid: true, size: true, internalDate: true }, { uid: true });
    const todo = listed.filter((m) => m.uid > last).sort((a, b) => a.uid - b.uid);
    for (const batch of batches(todo)) {
      if (this.stopping) return;
      const small = batch.filter((m) => (m.size ?? 0) <= SMALL_MESSAGE).map((m) => m.uid);
      const sources = new Map<number, Buffer>();
      if (small.length > 0) {
        for (const m of await client.fetchAll(small.join(','), { uid: true, source: true }, { uid: true })) {
          if (m.source) sources.set(m.uid, m.source);
        }
      }
      const done: number[] = [];
      // Storing and parsing run a few messages ahead; accepting stays strictly in UID order,
      // so the high-water mark never passes a message that is not done.
      const ahead = new Map<number, Promise<Prepared | null>>();
      const prepare = (i: number) => {
        const m = batch[i];
        if (!m || ahead.has(i) || this.stopping) return;
        const source = sources.get(m.uid);
        sources.delete(m.uid);
        const p = (async () => {
          const bytes = source ?? (await this.download(client, m.uid));
          // Gone since the listing (moved or deleted by someone): nothing to take.
          return bytes ? prepareMessage(this.ctx, bytes) : null;
        })();
        p.catch(() => undefined);
        ahead.set(i, p);
      };
      try {
        for (let i = 0; i < batch.length; i++) {
          // Finish what is in hand, take nothing new.
          if (this.stopping) break;
          for (let j = i; j <= i + LOOKAHEAD; j++) prepare(j);
          const prepared = await ahead.get(i)!;
          if (!prepared) continue;
          const m = batch[i]!;
          await acceptPrepared(this.ctx, prepared, {
            mailbox: this.mailbox,
            source: { kind: 'imap', uidvalidity, uid: m.uid },
            receivedAt: internalDate(m),
          });
          done.push(m.uid);
        }
      } finally {
        await Promise.allSettled(ahead.values());
        await this.mark(client, done);
      }
    }
  }

  private async download(client: ImapFlow, uid: number) {
    const dl = await client.download(String(uid), undefined, { uid: true, chunkSize: DOWNLOAD_CHUNK });
    return dl.content ?? null;
  }

  private async prepareMarking(client: ImapFlow): Promise<void> {
    const mark = this.ctx.getConfig().ingest.mark;
    if (mark.mode !== 'move') return;
    const exists = (await client.list()).some((b) => b.path === mark.folder);
    if (!exists) await client.mailboxCreate(mark.folder);
  }

  /**
   * Marks accepted messages on the server. Best effort: the high-water mark, not the flag, says
   * what is done, so a failed or lost mark only means a message looks unprocessed to a person
   * until catchUpMarks() repairs it.
   */
  private async mark(client: ImapFlow, uids: number[]): Promise<void> {
    const mark = this.ctx.getConfig().ingest.mark;
    if (uids.length === 0 || mark.mode === 'none' || !client.usable) return;
    try {
      if (mark.mode === 'keyword') await client.messageFlagsAdd(uids.join(','), [mark.keyword], { uid: true });
      else await client.messageMove(uids.join(','), mark.folder, { uid: true });
    } catch (err) {
      this.log.warn(logEvent('mailbox.mark_failed', { err: (err as Error).message, uids: uids.length }), 'marking processed mail on the server failed');
    }
  }

  /** Marks messages below the high-water mark that a crash (or a person) left unmarked. */
  private async catchUpMarks(client: ImapFlow): Promise<void> {
    const mark = this.ctx.getConfig().ingest.mark;
    const last = await this.lastUid();
    if (mark.mode === 'none' || last === 0 || !client.mailbox || client.mailbox.exists === 0) return;
    const query = mark.mode === 'keyword' ? { uid: `1:${last}`, unKeyword: mark.keyword } : { uid: `1:${last}` };
    const found = await client.search(query, { uid: true });
    const uids = (found || []).filter((u) => u <= last);
    if (uids.length > 0) {
      this.log.info(logEvent('mailbox.marks_repaired', { count: uids.length }), 'marking processed mail left unmarked');
      await this.mark(client, uids);
    }
  }

  private async recordError(message: string | null): Promise<void> {
    try {
      await this.ctx.db
        .updateTable('mailbox_state')
        .set({ last_error: message ? message.slice(0, 500) : null })
        .where('mailbox_id', '=', this.mailbox.id)
        .execute();
    } catch {
      // status only; the log has it
    }
  }
}

/** Each failure logged as what it is (SPEC §3): the disk, the database, the login or the connection. */
function describeFailure(e: Error & { authenticationFailed?: boolean }): [LogEvent, string] {
  if (e.authenticationFailed) return ['mailbox.login_failed', 'mailbox login failed; retrying'];
  const kind = ingestFailureKind(e);
  if (kind === 'storage') return ['ingest.store_failed', 'storing the message failed (disk); retrying'];
  if (kind === 'database') return ['ingest.database_busy', 'the database is busy or full; retrying'];
  return ['mailbox.connection_failed', 'mailbox connection failed; retrying'];
}

function internalDate(m: FetchMessageObject): string | null {
  const d = m.internalDate;
  if (!d) return null;
  const t = d instanceof Date ? d.getTime() : Date.parse(String(d));
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** Groups messages so one batch of small ones stays within BATCH_BYTES and BATCH_COUNT. */
function* batches(list: FetchMessageObject[]): Generator<FetchMessageObject[]> {
  let batch: FetchMessageObject[] = [];
  let bytes = 0;
  for (const m of list) {
    const size = Math.min(m.size ?? 0, SMALL_MESSAGE);
    if (batch.length > 0 && (batch.length >= BATCH_COUNT || bytes + size > BATCH_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(m);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}
