// Records what happened to a claimed outbox row: sent, failed for good, or to be tried again.
//
// A failure to record a send is not a failure to send. Once the server has accepted a message the
// outcome is `sent`, whatever the database says next; when it refuses the write for now (another
// process holds the lock, the disk is full) only the write is tried again, after a pause that
// never blocks the event loop, while the claim stays ours (the lease is extended as needed, so no
// drainer takes the row over meanwhile). The same holds for a failure or a retry: the outcome
// waits for the database, the row is never sent again while our claim holds. Only a stop that
// outlasts a grace period leaves the row `sending`, said so in the log, as a crash there would.
import type { Kysely } from 'kysely';
import { writeTx, type Db } from '../db/connection.js';
import type { DB } from '../db/schema.js';
import { nowIso } from '../clock.js';
import { recordEvent } from '../db/history.js';
import { isTransientFailure } from '../db/errors.js';
import { logEvent, type Logger } from '../log.js';
import { claimed, extendLease, LEASE_MS, type OutboxRow } from './claims.js';
import type { SendFailure } from './sender.js';

/** What a send attempt came to; what the database is asked to record. */
export type Outcome = { kind: 'sent'; response: string } | { kind: 'failed'; failure: SendFailure } | { kind: 'retry'; failure: SendFailure; nextAt: string };

/** recorded; lost (another drainer took the row over); unrecorded (the database refused until the stop). */
export type Recorded = 'recorded' | 'lost' | 'unrecorded';

export interface RecordOptions {
  /** The drainer is asked to stop: keep trying for `stopGraceMs`, then give up on the write. */
  shouldStop?: () => boolean;
  stopGraceMs?: number;
}

/** Long enough for a lock holder to finish a normal transaction, short enough for a service stop. */
const STOP_GRACE_MS = 15_000;
const FIRST_PAUSE_MS = 100;
const MAX_PAUSE_MS = 2_000;

/**
 * Writes the outcome under our claim, again and again while the database refuses for now. Errors
 * that are not transient (a bug, a corrupt file) are thrown: retrying cannot help.
 */
export async function recordOutcome(db: Db, log: Logger, row: OutboxRow, outcome: Outcome, fields: object, opts: RecordOptions = {}): Promise<Recorded> {
  let pauseMs = FIRST_PAUSE_MS;
  let leaseUntil = row.lease_until ?? nowIso();
  let giveUpAt: number | null = null;
  for (let tries = 1; ; tries++) {
    try {
      return (await writeOutcome(db, row, outcome)) ? 'recorded' : 'lost';
    } catch (err) {
      if (!isTransientFailure(err)) throw err;
      const error = (err as Error).message;
      if (tries === 1) {
        log.warn(
          logEvent('outbox.record_retry', { ...fields, outcome: outcome.kind, error }),
          'the database refuses to record the outcome for now; trying again',
        );
      }
      if (opts.shouldStop?.()) giveUpAt ??= Date.now() + (opts.stopGraceMs ?? STOP_GRACE_MS);
      if (giveUpAt !== null && Date.now() >= giveUpAt) {
        logAbandoned(log, outcome, { ...fields, error, tries, lease_until: leaseUntil });
        return 'unrecorded';
      }
      await pause(giveUpAt === null ? pauseMs : Math.min(pauseMs, giveUpAt - Date.now()));
      pauseMs = Math.min(MAX_PAUSE_MS, pauseMs * 2);
      const kept = await keepClaim(db, row, leaseUntil);
      if (kept === null) return 'lost';
      leaseUntil = kept;
    }
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * Extends the lease once less than half of it is left, so no drainer elsewhere takes the row over
 * while we wait for the database. Returns the lease end, or null when the claim is gone.
 */
async function keepClaim(db: Db, row: OutboxRow, leaseUntil: string): Promise<string | null> {
  if (Date.parse(leaseUntil) - Date.parse(nowIso()) > LEASE_MS / 2) return leaseUntil;
  try {
    return await extendLease(db, row);
  } catch (err) {
    if (isTransientFailure(err)) return leaseUntil; // the database still refuses: next time
    throw err;
  }
}

function logAbandoned(log: Logger, outcome: Outcome, fields: object): void {
  const what =
    outcome.kind === 'sent'
      ? 'the server accepted the mail but the database refused to record it until the drainer stopped'
      : `the database refused to record the outcome (${outcome.kind}) until the drainer stopped`;
  const next = outcome.kind === 'sent' ? 'will be sent again, with the same Message-ID, by the next drainer' : 'will be tried again by the next drainer';
  log.error(
    logEvent('outbox.record_abandoned', { ...fields, outcome: outcome.kind, state: 'sending' }),
    `${what}; the row stays 'sending' and ${next} (by a drainer on this machine as soon as this process has exited, by one elsewhere once the lease runs out)`,
  );
}

function writeOutcome(db: Db, row: OutboxRow, outcome: Outcome): Promise<boolean> {
  switch (outcome.kind) {
    case 'sent':
      return markSent(db, row, outcome.response);
    case 'failed':
      return markFailed(db, row, outcome.failure);
    case 'retry':
      return markRetry(db, row, outcome.failure, outcome.nextAt);
  }
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
