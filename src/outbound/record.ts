// Records what happened to a claimed outbox row: sent, failed for good, or to be tried again.
//
// A failure to record a send is not a failure to send. Once the server has accepted a message the
// outcome is `sent`, whatever the database says next; when it refuses the write for now (another
// process holds the lock, the disk is full) only the write is tried again, after a pause that
// never blocks the event loop, while the claim stays ours (the lease is extended as needed, so no
// drainer takes the row over meanwhile). The same holds for a failure or a retry: the outcome
// waits for the database, the row is never sent again while our claim holds. Only a stop that
// outlasts a grace period leaves the row `sending`, said so in the log, as a crash there would.
//
// Outcomes that arrive together are written together (OutcomeRecorder): the sends of one batch
// finish within moments of each other, and each outcome waits at most for the event loop's
// current turn to end, so the rows of a batch usually share one transaction, one commit. In an
// IMAP drain of 2,000 SQLite spent 2.0 s on the daemon's thread, 0.93 s of it in 4,001 commits
// (0.23 ms each: one per message for its accept, one for its auto-response's `sent`); grouped,
// the 2,000 outcomes took 760 commits. Nothing waits for a slow send: an outcome is never held
// back for another one still in flight, and the window in which a crash sends a row twice (after
// the 250, before its commit) grows by one turn of the event loop at most.
import type { Kysely } from 'kysely';
import { writeTx, type Db } from '../db/connection.js';
import type { DB } from '../db/schema.js';
import { nowIso } from '../clock.js';
import { recordEvent } from '../db/history.js';
import { prepared } from '../db/prepared.js';
import { isTransientFailure } from '../db/errors.js';
import { logEvent, type Logger } from '../log.js';
import { claimed, extendLease, LEASE_MS, type OutboxRow } from './claims.js';
import type { SendFailure } from './sender.js';

/** What a send attempt came to; what the database is asked to record. */
export type Outcome = { kind: 'sent'; response: string } | { kind: 'failed'; failure: SendFailure } | { kind: 'retry'; failure: SendFailure; nextAt: string };

/** recorded; lost (another drainer took the row over); unrecorded (the database refused until the stop). */
export type Recorded = 'recorded' | 'lost' | 'unrecorded';

/** One outcome to record: the claimed row, what its send came to, and the fields for its log lines. */
export interface OutcomeEntry {
  row: OutboxRow;
  outcome: Outcome;
  fields: object;
}

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
 * Records outcomes as they come, those that arrive in the same turn of the event loop in one
 * transaction (see the top). Each `record` resolves once its own outcome is written, lost or
 * given up on; a non-transient database error rejects every outcome of that transaction.
 */
export class OutcomeRecorder {
  private waiting: Array<OutcomeEntry & { resolve: (r: Recorded) => void; reject: (err: unknown) => void }> = [];
  private written = 0;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly opts: RecordOptions = {},
  ) {}

  record(entry: OutcomeEntry): Promise<Recorded> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ ...entry, resolve, reject });
      // After the turn's I/O callbacks: the other sends that finished with this one join it.
      if (this.waiting.length === 1) setImmediate(() => void this.flush());
    });
  }

  /** The transactions that wrote outcomes so far (what grouping saved is rows minus these). */
  get transactions(): number {
    return this.written;
  }

  private async flush(): Promise<void> {
    const group = this.waiting;
    this.waiting = [];
    try {
      const results = await recordGroup(this.db, this.log, group, this.opts, () => this.written++);
      group.forEach((entry, i) => entry.resolve(results[i]!));
    } catch (err) {
      for (const entry of group) entry.reject(err);
    }
  }
}

/**
 * Writes the outcomes under our claims, again and again while the database refuses for now. Errors
 * that are not transient (a bug, a corrupt file) are thrown: retrying cannot help.
 */
async function recordGroup(db: Db, log: Logger, entries: OutcomeEntry[], opts: RecordOptions, onWritten: () => void): Promise<Recorded[]> {
  const results: Recorded[] = entries.map(() => 'unrecorded');
  const leaseUntil = entries.map((e) => e.row.lease_until ?? nowIso());
  let open = entries.map((_, i) => i);
  let pauseMs = FIRST_PAUSE_MS;
  let giveUpAt: number | null = null;
  for (let tries = 1; open.length > 0; tries++) {
    try {
      const written = await writeOutcomes(
        db,
        open.map((i) => entries[i]!),
      );
      onWritten();
      open.forEach((i, k) => (results[i] = written[k] ? 'recorded' : 'lost'));
      return results;
    } catch (err) {
      if (!isTransientFailure(err)) throw err;
      const error = (err as Error).message;
      if (tries === 1) {
        for (const i of open) {
          log.warn(
            logEvent('outbox.record_retry', { ...entries[i]!.fields, outcome: entries[i]!.outcome.kind, error }),
            'the database refuses to record the outcome for now; trying again',
          );
        }
      }
      if (opts.shouldStop?.()) giveUpAt ??= Date.now() + (opts.stopGraceMs ?? STOP_GRACE_MS);
      if (giveUpAt !== null && Date.now() >= giveUpAt) {
        for (const i of open) logAbandoned(log, entries[i]!.outcome, { ...entries[i]!.fields, error, tries, lease_until: leaseUntil[i] });
        return results;
      }
      await pause(giveUpAt === null ? pauseMs : Math.min(pauseMs, giveUpAt - Date.now()));
      pauseMs = Math.min(MAX_PAUSE_MS, pauseMs * 2);
      const still: number[] = [];
      for (const i of open) {
        const kept = await keepClaim(db, entries[i]!.row, leaseUntil[i]!);
        if (kept === null) results[i] = 'lost';
        else {
          leaseUntil[i] = kept;
          still.push(i);
        }
      }
      open = still;
    }
  }
  return results;
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

/** Each outcome under its claim, all in one transaction: true where the claim still held. */
function writeOutcomes(db: Db, entries: OutcomeEntry[]): Promise<boolean[]> {
  return writeTx(db, async (tx) => {
    const written: boolean[] = [];
    for (const { row, outcome } of entries) written.push(await writeOutcome(tx, row, outcome));
    return written;
  });
}

function writeOutcome(tx: Kysely<DB>, row: OutboxRow, outcome: Outcome): Promise<boolean> {
  switch (outcome.kind) {
    case 'sent':
      return markSent(tx, row, outcome.response);
    case 'failed':
      return markFailed(tx, row, outcome.failure);
    case 'retry':
      return markRetry(tx, row, outcome.failure, outcome.nextAt);
  }
}

const updateMessageState = prepared<{ id: number; state: string }, never>((db, p) =>
  db
    .updateTable('messages')
    .set({ state: p('state') })
    .where('id', '=', p('id')),
);

async function setMessageState(tx: Kysely<DB>, row: OutboxRow, state: string): Promise<void> {
  if (row.message_row_id === null) return;
  await updateMessageState.execute(tx, { id: row.message_row_id, state });
}

/** The `sent` of a row still under our claim (claims.ts, `claimed`): the one outcome of nearly every send. */
const writeSent = prepared<Pick<OutboxRow, 'id' | 'claim_token'> & { sent_at: string; smtp_response: string }, never>((db, p) =>
  claimed(db, { id: p('id'), claim_token: p('claim_token') }).set({
    state: 'sent',
    sent_at: p('sent_at'),
    smtp_response: p('smtp_response'),
    lease_until: null,
    last_error: null,
  }),
);

async function markSent(tx: Kysely<DB>, row: OutboxRow, response: string): Promise<boolean> {
  const r = await writeSent.execute(tx, { id: row.id, claim_token: row.claim_token, sent_at: nowIso(), smtp_response: response });
  if (Number(r.numAffectedRows ?? 0) === 0) return false;
  await setMessageState(tx, row, 'sent');
  return true;
}

async function markFailed(tx: Kysely<DB>, row: OutboxRow, failure: SendFailure): Promise<boolean> {
  const r = await claimed(tx, row).set({ state: 'failed', lease_until: null, last_error: failure.message, smtp_response: failure.response }).executeTakeFirst();
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
}

async function markRetry(tx: Kysely<DB>, row: OutboxRow, failure: SendFailure, nextAt: string): Promise<boolean> {
  const r = await claimed(tx, row).set({ state: 'queued', lease_until: null, next_attempt_at: nextAt, last_error: failure.message }).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
