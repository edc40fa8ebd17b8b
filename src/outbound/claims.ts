// Claims on outbox rows: which rows are due, how a drainer takes one (one compare-and-set UPDATE,
// so two drainers never both take the same row, on any database), and how it proves later that
// the row is still its own. The drainer (drainer.ts) sends what it claimed here.
import { randomUUID } from 'node:crypto';
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import type { Db } from '../db/connection.js';
import type { DB, OutboxTable } from '../db/schema.js';
import { addMs, nowIso } from '../clock.js';
import { logEvent, type Logger } from '../log.js';
import { preparedList } from '../db/prepared.js';
import { claimerIsDead, currentClaimer } from './claimer.js';

export type OutboxRow = Selectable<OutboxTable>;

/** How long a claim holds; far longer than one SMTP transaction can take (see sender.ts timeouts). */
export const LEASE_MS = 10 * 60_000;

/**
 * When a row falls due, by state: a queued row at its next attempt, a sending row once its lease
 * ran out (its drainer died on another machine, or hangs). Claiming (isDue) and waiting
 * (nextDueAt) both read this, so the rule is written once. A sending row whose drainer died on
 * this machine is due at once (findOrphans), which no SQL can see.
 */
export const DUE_RULES = [
  { state: 'queued', at: 'next_attempt_at', op: '<=' },
  { state: 'sending', at: 'lease_until', op: '<' },
] as const;

/** Due now, by DUE_RULES. */
function isDue(now: string) {
  return (eb: ExpressionBuilder<DB, 'outbox'>) => eb.or(DUE_RULES.map((rule) => eb.and([eb('state', '=', rule.state), eb(rule.at, rule.op, now)])));
}

/** How often a drainer looks again when another one claimed the row it found. */
const CLAIM_ATTEMPTS = 5;

/** A new claim: the row is ours (token, claimer) until the lease ends. */
interface Claim {
  leaseUntil: string;
  token: string;
  claimer: string;
}

function newClaim(now: string): Claim {
  return { leaseUntil: addMs(now, LEASE_MS), token: randomUUID(), claimer: currentClaimer() };
}

/** What every claim writes: the claim, and one more attempt. */
function claimValues(claim: Claim) {
  return (eb: ExpressionBuilder<DB, 'outbox'>) => ({
    state: 'sending' as const,
    lease_until: claim.leaseUntil,
    claim_token: claim.token,
    claimed_by: claim.claimer,
    attempts: eb('attempts', '+', 1),
  });
}

/** The next due row under a claim of its own, or null (claimBatch of one). */
export async function claimNext(db: Db, log?: Logger): Promise<OutboxRow | null> {
  return (await claimBatch(db, 1, log))[0] ?? null;
}

/**
 * Claims up to `limit` due rows, graphile-worker's way: a plain read finds candidates (so an idle
 * drainer never takes the write lock), then one conditional UPDATE claims those still due, all
 * under one random token. The rows it returns are the ones won, on any database; a drainer that
 * won none looks again. The rows of a drainer that died on this machine come first, one at a
 * time: they were due before it took them. Returned in due order.
 */
export async function claimBatch(db: Db, limit: number, log?: Logger): Promise<OutboxRow[]> {
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    const now = nowIso();
    const orphan = (await findOrphans(db))[0];
    if (orphan) {
      const row = await takeOver(db, orphan, now);
      if (!row) continue; // another drainer took it over first
      log?.warn(
        logEvent('outbox.reclaimed', { outbox_id: row.id, message_id: row.message_id, claimed_by: orphan.claimed_by }),
        'took over a row whose drainer died',
      );
      return [row];
    }
    const due = await firstDue(db, now, limit);
    if (due.length === 0) return [];
    const ids = due.map((r) => r.id);
    const rows = await claimStillDue(db, ids, now);
    if (rows.length > 0) return rows;
  }
  return [];
}

/**
 * Claims the rows of `ids` that are still due, with the one conditional UPDATE claimBatch ends
 * with and no search before it: the ids come from this process's own commits (outbox-wake.ts).
 * A row another drainer took first, or one that is no longer due, is simply not returned.
 */
export async function claimWoken(db: Db, ids: readonly number[]): Promise<OutboxRow[]> {
  return ids.length === 0 ? [] : claimStillDue(db, ids, nowIso());
}

/**
 * The one claim: those of `ids` still due at `now`, under a new claim. Prepared once per number
 * of ids (a batch holds at most SEND_CONCURRENCY), since kysely building it afresh for every batch
 * cost more main-thread time than the UPDATE itself.
 */
const claimIds = preparedList<Claim & { now: string }, OutboxRow>((db, p, ids) =>
  db
    .updateTable('outbox')
    .set(claimValues({ leaseUntil: p('leaseUntil'), token: p('token'), claimer: p('claimer') }))
    .where('id', 'in', ids as number[])
    .where(isDue(p('now')))
    .returningAll(),
);

/** Those of `ids` still due at `now`, under a new token, in due order. */
async function claimStillDue(db: Db, ids: readonly number[], now: string): Promise<OutboxRow[]> {
  const { rows } = await claimIds.execute(db, { ...newClaim(now), now }, ids);
  return rows.sort(inDueOrder);
}

/** By next attempt, then id: the order rows fall due in. */
function inDueOrder(a: { id: number; next_attempt_at: string }, b: { id: number; next_attempt_at: string }): number {
  return a.next_attempt_at === b.next_attempt_at ? a.id - b.id : a.next_attempt_at < b.next_attempt_at ? -1 : 1;
}

/**
 * The first `limit` due rows (by next attempt, then id), found with one indexed read per rule:
 * each reads the first entries of its state in the (state, next_attempt_at) index. One query with
 * the rules OR-ed read every due row and sorted them, so a drainer working through a backlog of n
 * rows (the SMTP server was away) paid n² (20,000 queued: 3.9 ms a claim, measured).
 */
async function firstDue(db: Db, now: string, limit: number): Promise<Array<{ id: number; next_attempt_at: string }>> {
  const firsts = await Promise.all(DUE_RULES.map((rule) => firstDueQuery(db, rule, now, limit).execute()));
  return firsts.flat().sort(inDueOrder).slice(0, limit);
}

/** The first due rows of one rule's state (exported for the plan test). */
export function firstDueQuery(db: Kysely<DB>, rule: (typeof DUE_RULES)[number], now: string, limit = 1) {
  return db
    .selectFrom('outbox')
    .select(['id', 'next_attempt_at'])
    .where('state', '=', rule.state)
    .where(rule.at, rule.op, now)
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(limit);
}

interface Orphan {
  id: number;
  claim_token: string;
  claimed_by: string;
}

/**
 * Rows in `sending` whose drainer provably died on this machine (claimer.ts), oldest due first.
 * A plain read of the rows being sent: at most one per live drainer, plus the orphans.
 */
async function findOrphans(db: Db): Promise<Orphan[]> {
  const sending = await db
    .selectFrom('outbox')
    .select(['id', 'claim_token', 'claimed_by'])
    .where('state', '=', 'sending')
    .where('claimed_by', 'is not', null)
    .where('claim_token', 'is not', null)
    .orderBy('next_attempt_at')
    .orderBy('id')
    .execute();
  return sending.filter((r): r is Orphan => claimerIsDead(r.claimed_by));
}

/**
 * Takes over an orphan with one UPDATE guarded by the dead drainer's token: of two drainers that
 * both found it, exactly one matches; so does a late write of the dead one, which can no longer come.
 */
function takeOver(db: Db, orphan: Orphan, now: string): Promise<OutboxRow | undefined> {
  return db
    .updateTable('outbox')
    .set(claimValues(newClaim(now)))
    .where('id', '=', orphan.id)
    .where('state', '=', 'sending')
    .where('claim_token', '=', orphan.claim_token)
    .returningAll()
    .executeTakeFirst();
}

/** Our claim still holds: nobody took the row over after our lease ran out (the token says). */
export function claimed(tx: Kysely<DB>, row: Pick<OutboxRow, 'id' | 'claim_token'>) {
  return tx.updateTable('outbox').where('id', '=', row.id).where('state', '=', 'sending').where('claim_token', '=', row.claim_token);
}

/**
 * Gives claimed rows back unsent: queued, due as before, the attempt not counted. For a drainer
 * that could not make the commits behind them durable (a failed fsync), so it sent nothing.
 * Each only while the claim is still ours.
 */
export async function releaseClaims(db: Db, rows: readonly OutboxRow[]): Promise<void> {
  for (const row of rows) {
    await claimed(db, row)
      .set((eb) => ({ state: 'queued' as const, lease_until: null, attempts: eb('attempts', '-', 1) }))
      .execute();
  }
}

/** A new lease on a row we still hold; its end (ISO), or null when the claim is gone. */
export async function extendLease(db: Db, row: OutboxRow): Promise<string | null> {
  const until = addMs(nowIso(), LEASE_MS);
  const r = await claimed(db, row).set({ lease_until: until }).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0 ? until : null;
}

/** When the next row falls due (ISO): now when a dead drainer left one, else by DUE_RULES; null when nothing waits. */
export async function nextDueAt(db: Db): Promise<string | null> {
  if ((await findOrphans(db)).length > 0) return nowIso();
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
