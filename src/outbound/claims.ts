// Claims on outbox rows: which rows are due, how a drainer takes one (one compare-and-set UPDATE,
// so two drainers never both take the same row, on any database), and how it proves later that
// the row is still its own. The drainer (drainer.ts) sends what it claimed here.
import { randomUUID } from 'node:crypto';
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import type { Db } from '../db/connection.js';
import type { DB, OutboxTable } from '../db/schema.js';
import { addMs, nowIso } from '../clock.js';

export type OutboxRow = Selectable<OutboxTable>;

/** How long a claim holds; far longer than one SMTP transaction can take (see sender.ts timeouts). */
export const LEASE_MS = 10 * 60_000;

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
export function claimed(tx: Kysely<DB>, row: OutboxRow) {
  return tx.updateTable('outbox').where('id', '=', row.id).where('state', '=', 'sending').where('claim_token', '=', row.claim_token);
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
