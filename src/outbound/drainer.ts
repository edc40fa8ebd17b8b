// The outbox drainer: takes one due row at a time under a lease, sends its frozen bytes, and
// records the outcome, each step its own transaction (DESIGN: the database is the queue).
//
// The one duplicate window: after the server's 250 and before the `sent` commit. A crash there
// leaves the row `sending`; once its lease runs out another drainer sends it again, with the
// same Message-ID, so the recipient's client can fold the two. Nowhere else can a row be sent
// twice: a row is only claimed in `queued`, or in `sending` with an expired lease, and the
// outcome is written only while the claim still holds.
import { randomUUID } from 'node:crypto';
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import type { Config } from '../config/types.js';
import { writeTx, type Db } from '../db/connection.js';
import type { DB, OutboxTable } from '../db/schema.js';
import { addMs, nowIso } from '../clock.js';
import { recordEvent } from '../db/history.js';
import { logEvent, type Logger } from '../log.js';
import { createSender, SendFailure, type Sender } from './sender.js';

export type OutboxRow = Selectable<OutboxTable>;

/** How long a claim holds; far longer than one SMTP transaction can take (see sender.ts timeouts). */
export const LEASE_MS = 10 * 60_000;
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

/**
 * When a row falls due, by state: a queued row at its next attempt, a sending row once its lease
 * ran out (its drainer died). Claiming (isDue) and waiting (nextDueAt) both read this, so the
 * rule is written once.
 */
const DUE_RULES = [
  { state: 'queued', at: 'next_attempt_at', op: '<=' },
  { state: 'sending', at: 'lease_until', op: '<' },
] as const;

/** Due now, by DUE_RULES. */
function isDue(now: string) {
  return (eb: ExpressionBuilder<DB, 'outbox'>) => eb.or(DUE_RULES.map((rule) => eb.and([eb('state', '=', rule.state), eb(rule.at, rule.op, now)])));
}

/** How often a drainer looks again when another one claimed the row it found. */
const CLAIM_ATTEMPTS = 5;

/**
 * Claims the next due row, graphile-worker's way: a plain read finds a candidate (so an idle
 * drainer never takes the write lock), then one conditional UPDATE claims it with a random
 * token if it is still due. The row count says who won, on any database; the loser looks again.
 */
export async function claimNext(db: Db): Promise<OutboxRow | null> {
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    const now = nowIso();
    const due = await db.selectFrom('outbox').select('id').where(isDue(now)).orderBy('next_attempt_at').orderBy('id').limit(1).executeTakeFirst();
    if (!due) return null;
    const row = await db
      .updateTable('outbox')
      .set((eb) => ({ state: 'sending', lease_until: addMs(now, LEASE_MS), claim_token: randomUUID(), attempts: eb('attempts', '+', 1) }))
      .where('id', '=', due.id)
      .where(isDue(now))
      .returningAll()
      .executeTakeFirst();
    if (row) return row;
  }
  return null;
}

/** Our claim still holds: nobody took the row over after our lease ran out (the token says). */
function claimed(tx: Kysely<DB>, row: OutboxRow) {
  return tx.updateTable('outbox').where('id', '=', row.id).where('state', '=', 'sending').where('claim_token', '=', row.claim_token);
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
      const row = await claimNext(ctx.db);
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

/** When the next row falls due by DUE_RULES (ISO), or null when nothing waits. */
export async function nextDueAt(db: Db): Promise<string | null> {
  const times: string[] = [];
  for (const rule of DUE_RULES) {
    const row = await db
      .selectFrom('outbox')
      .select((eb) => eb.fn.min<string | null>(rule.at).as('at'))
      .where('state', '=', rule.state)
      .executeTakeFirst();
    if (typeof row?.at === 'string') times.push(row.at);
  }
  return times.length > 0 ? times.sort()[0]! : null;
}
