// The outbox drainer: claims up to SEND_CONCURRENCY due rows at once (claims.ts), sends their
// frozen bytes at once, each over its own connection to the relay, and records each outcome
// (record.ts), each step in transactions of its own (DESIGN: the database is the queue; outcomes
// that arrive together share one). Why at once: a
// row's send is a dozen waits (its claim, four SMTP round trips, its record), each on an event
// loop that ingest keeps busy, and one row at a time the outbox fell behind the mail coming in
// (an IMAP drain of 2,000: the last auto-response 4 s after the last commit). Mail from one
// batch may arrive in any order, as from any MTA that sends over several connections. A claimed
// batch is sent only once the commits that queued it are durable (src/db/commit-sync.ts).
//
// The one duplicate window: after the server's 250 and before the `sent` commit. A crash there
// leaves the rows in hand (at most SEND_CONCURRENCY) `sending`; another drainer sends them
// again, with the same Message-ID, so the recipient's client can fold the two: at once when the
// dead drainer ran on the same machine (its pid proves it gone), otherwise once its lease runs
// out. A database that refuses the `sent` write for now (locked, disk full) does not open the
// window: the write is retried under the same claim until it goes through. Only a stop while it
// still refuses, after a grace, or a database error that is not transient, leaves the row
// `sending` just as that crash would (and says so in the log). Nowhere else can a row be sent
// twice: a row is only claimed in `queued`, or in `sending` once its drainer is provably dead or
// its lease ran out, each claim one compare-and-set UPDATE, and the outcome is written only
// while the claim still holds.
import type { Config } from '../config/types.js';
import type { Db } from '../db/connection.js';
import { addMs, nowIso } from '../clock.js';
import { logEvent, type Logger } from '../log.js';
import { claimBatch, claimWoken, releaseClaims, type OutboxRow } from './claims.js';
import { OutcomeRecorder, type Outcome } from './record.js';
import { createSender, SEND_CONCURRENCY, SendFailure, type Sender } from './sender.js';

const BACKOFF_BASE_MS = 30_000;
const BACKOFF_CAP_MS = 60 * 60_000;

/** Exponential backoff with ±25% jitter: 30 s, 1 min, 2 min … capped at 1 h. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + random() * 0.5));
}

export interface DrainContext {
  config: Config;
  db: Db;
  log: Logger;
}

export interface DrainOptions {
  /** Used and left open when given; otherwise one is made for the first due row and closed at the end. */
  sender?: Sender;
  /** Checked between batches: the rows in hand are always finished (their outcomes recorded, unless the database refuses past recordGraceMs). */
  shouldStop?: () => boolean;
  /** At most this many rows in this call. */
  limit?: number;
  /**
   * The config in force now, asked before each batch (a daemon that reloads on SIGHUP): a row
   * claimed after a reload goes out with the new smtp settings, not at the end of a long backlog.
   */
  currentConfig?: () => Config;
  /**
   * How long a drainer asked to stop keeps trying to record the outcome of the row in hand while
   * the database refuses writes (record.ts); the default suits a service stop.
   */
  recordGraceMs?: number;
  /**
   * Takes up to `max` ids of rows this process's own commits made due (the outbox wake), and a
   * commitMark (src/db/commit-sync.ts) taken after the commits that made them due; they are claimed
   * by id, before any search for due rows.
   */
  takeWoken?: (max: number) => { ids: number[]; upTo?: number };
  /** False: claim only what takeWoken hands out; the caller searches for the rest at its poll. */
  searchForDue?: boolean;
  /**
   * Makes commits durable (src/db/commit-sync.ts): those up to `upTo` (a commitMark), or all so far.
   * Asked after each claim and before the batch is sent: a mail goes out only once the rows that
   * queued it cannot be undone by a power loss.
   */
  syncCommits?: (upTo?: number) => Promise<void>;
}

/** Sends one claimed row and records what happened. */
async function processRow(ctx: DrainContext, sender: Sender, row: OutboxRow, recorder: OutcomeRecorder): Promise<Outcome['kind'] | 'lost' | 'unrecorded'> {
  const recipients = JSON.parse(row.to_addresses) as string[];
  const fields = { outbox_id: row.id, kind: row.kind, case_id: row.case_id, message_id: row.message_id, to: recipients, attempt: row.attempts };
  const outcome = await attemptSend(ctx.config, sender, row, recipients);
  const recorded = await recorder.record({ row, outcome, fields });
  if (recorded === 'lost') {
    ctx.log.warn(logEvent('outbox.lease_lost', { ...fields, outcome: outcome.kind }), 'outbox row was taken over by another drainer after its lease ran out');
  }
  if (recorded !== 'recorded') return recorded;
  logOutcome(ctx.log, outcome, fields);
  return outcome.kind;
}

/**
 * Hands the row to the server and says what came of it; never throws. A 250 is `sent` from here
 * on, whatever happens to the write that records it (record.ts).
 */
async function attemptSend(config: Config, sender: Sender, row: OutboxRow, recipients: string[]): Promise<Outcome> {
  // Auto-responses go out with the null envelope sender, so nothing answers them automatically.
  const envelopeFrom = row.kind === 'auto_response' ? '' : row.from_address;
  try {
    return { kind: 'sent', response: await sender.send({ id: row.id, kind: row.kind, envelopeFrom, recipients, mime: row.mime }) };
  } catch (err) {
    const failure = err instanceof SendFailure ? err : new SendFailure(String((err as Error).message ?? err), false);
    if (failure.permanent || row.attempts >= config.smtp.max_attempts) return { kind: 'failed', failure };
    return { kind: 'retry', failure, nextAt: addMs(nowIso(), backoffMs(row.attempts)) };
  }
}

function logOutcome(log: Logger, outcome: Outcome, fields: object): void {
  switch (outcome.kind) {
    case 'sent':
      log.info(logEvent('outbox.sent', { ...fields, response: outcome.response }), 'mail sent');
      return;
    case 'failed':
      log.error(logEvent('outbox.failed', { ...fields, error: outcome.failure.message, permanent: outcome.failure.permanent }), 'mail failed');
      return;
    case 'retry':
      log.warn(logEvent('outbox.deferred', { ...fields, error: outcome.failure.message, next_attempt_at: outcome.nextAt }), 'mail deferred');
  }
}

/** Claimed rows, and the commits that must be durable before they are sent (all so far when no mark). */
interface Batch {
  rows: OutboxRow[];
  upTo?: number;
}

/** Up to `max` rows under a claim: the woken ones first, by id, then (unless told not to) found by a search. */
async function nextBatch(ctx: DrainContext, opts: DrainOptions, max: number): Promise<Batch> {
  for (let woken = opts.takeWoken?.(max); woken && woken.ids.length > 0; woken = opts.takeWoken?.(max)) {
    const rows = await claimWoken(ctx.db, woken.ids);
    if (rows.length > 0) return { rows, upTo: woken.upTo };
  }
  return { rows: opts.searchForDue === false ? [] : await claimBatch(ctx.db, max, ctx.log) };
}

/**
 * Waits until the commits behind a batch are durable. The wait comes after the claim, so a search
 * finds no row whose commit the sync did not see; a woken batch's mark lets it share the sync its
 * delivery asked for. A sync that fails gives the rows back and sends nothing.
 */
async function durableBeforeSending(ctx: DrainContext, opts: DrainOptions, batch: Batch): Promise<void> {
  if (!opts.syncCommits) return;
  try {
    await opts.syncCommits(batch.upTo);
  } catch (err) {
    // The sync's error is the one to tell; rows a release could not give back wait out their lease.
    await releaseClaims(ctx.db, batch.rows).catch(() => undefined);
    throw err;
  }
}

/** Sends every row that is due now; returns how many rows it worked on. */
export async function drainOnce(ctx: DrainContext, opts: DrainOptions = {}): Promise<number> {
  let own: { sender: Sender; config: Config } | null = null;
  let count = 0;
  const recorder = new OutcomeRecorder(ctx.db, ctx.log, { shouldStop: opts.shouldStop, stopGraceMs: opts.recordGraceMs });
  try {
    while (!(opts.shouldStop?.() ?? false) && (opts.limit === undefined || count < opts.limit)) {
      const claimed = await nextBatch(ctx, opts, Math.min(SEND_CONCURRENCY, (opts.limit ?? Infinity) - count));
      const { rows } = claimed;
      if (rows.length === 0) break;
      await durableBeforeSending(ctx, opts, claimed);
      const config = opts.currentConfig?.() ?? ctx.config;
      if (own && own.config !== config) {
        own.sender.close();
        own = null;
      }
      const sender = opts.sender ?? (own ??= { sender: createSender(config), config }).sender;
      const batch = { ...ctx, config };
      // Every row in hand is finished before anything is thrown (and the connections closed).
      const done = await Promise.allSettled(rows.map((row) => processRow(batch, sender, row, recorder)));
      count += rows.length;
      const failed = done.find((d) => d.status === 'rejected');
      if (failed) throw failed.reason;
    }
  } finally {
    own?.sender.close();
  }
  return count;
}
