// The outbox drainer: takes one due row at a time under a lease, sends its frozen bytes, and
// records the outcome, each step its own transaction (DESIGN: the database is the queue).
//
// The one duplicate window: after the server's 250 and before the `sent` commit. A crash there
// leaves the row `sending`; another drainer sends it again, with the same Message-ID, so the
// recipient's client can fold the two: at once when the dead drainer ran on the same machine
// (its pid proves it gone, claims.ts), otherwise once its lease runs out. Nowhere else can a row
// be sent twice: a row is only claimed in `queued`, or in `sending` once its drainer is provably
// dead or its lease ran out, each claim one compare-and-set UPDATE, and the outcome is written
// only while the claim still holds.
import type { Kysely } from 'kysely';
import type { Config } from '../config/types.js';
import { writeTx, type Db } from '../db/connection.js';
import type { DB } from '../db/schema.js';
import { addMs, nowIso } from '../clock.js';
import { recordEvent } from '../db/history.js';
import { logEvent, type Logger } from '../log.js';
import { claimed, claimNext, type OutboxRow } from './claims.js';
import { createSender, SendFailure, type Sender } from './sender.js';

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
  /** Checked between rows: the row in hand is always finished. */
  shouldStop?: () => boolean;
  /** At most this many rows in this call. */
  limit?: number;
  /**
   * The config in force now, asked before each row (a daemon that reloads on SIGHUP): a row
   * claimed after a reload goes out with the new smtp settings, not at the end of a long batch.
   */
  currentConfig?: () => Config;
}

async function setMessageState(tx: Kysely<DB>, row: OutboxRow, state: string): Promise<void> {
  if (row.message_row_id === null) return;
  await tx.updateTable('messages').set({ state }).where('id', '=', row.message_row_id).execute();
}

async function markSent(db: Db, row: OutboxRow, response: string): Promise<boolean> {
  return writeTx(db, async (tx) => {
    const r = await claimed(tx, row).set({ state: 'sent', sent_at: nowIso(), smtp_response: response, lease_until: null, last_error: null }).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return false;
    await setMessageState(tx, row, 'sent');
    return true;
  });
}

async function markFailed(db: Db, row: OutboxRow, failure: SendFailure): Promise<boolean> {
  return writeTx(db, async (tx) => {
    const r = await claimed(tx, row)
      .set({ state: 'failed', lease_until: null, last_error: failure.message, smtp_response: failure.response })
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return false;
    await setMessageState(tx, row, 'failed');
    if (row.case_id) {
      await recordEvent(tx, {
        caseId: row.case_id,
        actor: 'system',
        kind: 'mail_failed',
        to: 'failed',
        data: { outbox_id: row.id, kind: row.kind, to: JSON.parse(row.to_addresses) as string[], error: failure.message, attempts: row.attempts },
      });
    }
    return true;
  });
}

async function markRetry(db: Db, row: OutboxRow, failure: SendFailure, nextAt: string): Promise<boolean> {
  return writeTx(db, async (tx) => {
    const r = await claimed(tx, row).set({ state: 'queued', lease_until: null, next_attempt_at: nextAt, last_error: failure.message }).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  });
}

/** Sends one claimed row and records what happened. */
async function processRow(ctx: DrainContext, sender: Sender, row: OutboxRow): Promise<'sent' | 'retry' | 'failed' | 'lost'> {
  const recipients = JSON.parse(row.to_addresses) as string[];
  const fields = { outbox_id: row.id, kind: row.kind, case_id: row.case_id, message_id: row.message_id, to: recipients, attempt: row.attempts };
  // Auto-responses go out with the null envelope sender, so nothing answers them automatically.
  const envelopeFrom = row.kind === 'auto_response' ? '' : row.from_address;
  let outcome: 'sent' | 'retry' | 'failed';
  let recorded: boolean;
  try {
    const response = await sender.send({ id: row.id, kind: row.kind, envelopeFrom, recipients, mime: row.mime });
    outcome = 'sent';
    recorded = await markSent(ctx.db, row, response);
    if (recorded) ctx.log.info(logEvent('outbox.sent', { ...fields, response }), 'mail sent');
  } catch (err) {
    const failure = err instanceof SendFailure ? err : new SendFailure(String((err as Error).message ?? err), false);
    const giveUp = failure.permanent || row.attempts >= ctx.config.smtp.max_attempts;
    if (giveUp) {
      outcome = 'failed';
      recorded = await markFailed(ctx.db, row, failure);
      if (recorded) ctx.log.error(logEvent('outbox.failed', { ...fields, error: failure.message, permanent: failure.permanent }), 'mail failed');
    } else {
      outcome = 'retry';
      const nextAt = addMs(nowIso(), backoffMs(row.attempts));
      recorded = await markRetry(ctx.db, row, failure, nextAt);
      if (recorded) ctx.log.warn(logEvent('outbox.deferred', { ...fields, error: failure.message, next_attempt_at: nextAt }), 'mail deferred');
    }
  }
  if (!recorded) {
    ctx.log.warn(logEvent('outbox.lease_lost', { ...fields, outcome }), 'outbox row was taken over by another drainer after its lease ran out');
    return 'lost';
  }
  return outcome;
}

/** Sends every row that is due now; returns how many rows it worked on. */
export async function drainOnce(ctx: DrainContext, opts: DrainOptions = {}): Promise<number> {
  let own: { sender: Sender; config: Config } | null = null;
  let count = 0;
  try {
    while (!(opts.shouldStop?.() ?? false) && (opts.limit === undefined || count < opts.limit)) {
      const row = await claimNext(ctx.db, ctx.log);
      if (!row) break;
      const config = opts.currentConfig?.() ?? ctx.config;
      if (own && own.config !== config) {
        own.sender.close();
        own = null;
      }
      const sender = opts.sender ?? (own ??= { sender: createSender(config), config }).sender;
      await processRow({ ...ctx, config }, sender, row);
      count += 1;
    }
  } finally {
    own?.sender.close();
  }
  return count;
}
