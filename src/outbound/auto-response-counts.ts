// How many auto-responses were queued since a moment, to one customer (the window and daily cap
// of SPEC §4, ./autoresponse.ts) or from one box (the box's own rate, ./box-rate-bound.ts): the same
// count over the outbox, on the column each limit is about. Each runs inside the transaction that
// may queue the next one; how the per-recipient counts are settled across daemons is said there.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { prepared } from '../db/prepared.js';

type Counted = 'to_addresses' | 'from_address';

/** One prepared count per column, each its own statement on that column's index (outbox_recipient, outbox_box_rate). */
function countOn(column: Counted) {
  const count = prepared<{ value: string; since: string }, { n: number }>((db, p) =>
    db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', 'auto_response')
      .where(column, '=', p('value'))
      .where('created_at', '>', p('since')),
  );
  return async (tx: Kysely<DB>, value: string, sinceIso: string): Promise<number> => {
    const { rows } = await count.execute(tx, { value, since: sinceIso });
    return Number(rows[0]!.n);
  };
}

const toRecipients = countOn('to_addresses');

/** Auto-responses queued to this one recipient since `sinceIso` (an auto-response has one: the JSON list of it). */
export function autoResponsesTo(tx: Kysely<DB>, recipient: string, sinceIso: string): Promise<number> {
  return toRecipients(tx, JSON.stringify([recipient]), sinceIso);
}

/** Auto-responses this box (its address, the From) queued since `sinceIso`. */
export const autoResponsesFrom = countOn('from_address');
