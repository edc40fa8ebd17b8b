// How many auto-responses a box queued in its window, for the box's cap (loop-breaker.ts), without
// counting the whole window for every new case. Why: the exact count reads every auto-response the
// box queued in the window, about 30 µs per 1,000 (measured on the 2-core VM), inside the accept
// transaction of each new case. A box that answers thousands an hour (a large desk lifts its cap;
// so does bench/) paid that on every one: with 3,000-6,000 in the window and four LMTP senders,
// the main thread took 1.59 ms a message with the count and 1.45 ms with this (issue 18).
// The cap needs the exact number only near it. Below it, an upper bound proves enough: the last
// exact count, plus the box's auto-responses among the outbox rows added after the last row that
// count saw, read by id (a row or two a message). The bound never counts too few, because
//  - the window only moves forward: a bound is dropped when the window would start earlier than
//    it did (a clock set back, a longer window), so rows only ever leave it;
//  - outbox rows are never deleted, and nothing moves one to another kind, box or time (erasure
//    rewrites other columns, its Message-ID among them);
//  - ids only grow (AUTOINCREMENT; a sequence on PostgreSQL), so a row added later has a larger
//    id than any row the count saw;
//  - a bound belongs to one database: the row it ends on must still be there with the same
//    Message-ID (random, 128 bits), or the window is counted again; and a bound is kept only once
//    the transaction that read it has committed.
// On PostgreSQL, a row whose transaction commits after one with a larger id was read is missed
// until the next exact count: the few mails in flight at once on other daemons, which the exact
// count does not settle either (autoresponse.ts).
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { afterCommit } from '../db/after-commit.js';
import { prepared } from '../db/prepared.js';
import { autoResponsesFrom } from './auto-response-counts.js';

/** What the last count of one box proved. */
interface Bound {
  /** the start of the window it counted */
  since: string;
  /** at most this many of the box's auto-responses since `since`, among the rows up to lastId */
  count: number;
  /** the last outbox row it saw, and that row's Message-ID (which database it was) */
  lastId: number;
  lastMessageId: string;
}

/** Per box address (its From), in this process. */
const bounds = new Map<string, Bound>();

/** Rows added since the last look that are read to carry a bound forward; more: counted again. */
const MAX_ADDED = 500;

type SeenRow = { id: number; message_id: string; kind: string; from_address: string };

/** The bound's last row and those after it, by id (test/outbound/box-rate-index.test.ts holds its plan). */
const rowsFrom = prepared<{ id: number }, SeenRow>((db, p) =>
  db
    .selectFrom('outbox')
    .select(['id', 'message_id', 'kind', 'from_address'])
    .where('id', '>=', p('id'))
    .orderBy('id')
    // Written into the statement, not bound: SQLite takes a bound LIMIT about 4 µs slower a run (measured).
    .limit(sql.lit(MAX_ADDED + 1)),
);

const lastRow = prepared<Record<string, never>, { id: number; message_id: string }>((db) =>
  db.selectFrom('outbox').select(['id', 'message_id']).orderBy('id', 'desc').limit(1),
);

/**
 * The auto-responses the box (its From address) queued since `sinceIso`: exact whenever it is
 * `cap` or more; below `cap`, perhaps more than were queued, never fewer.
 */
export async function boxAutoResponses(tx: Kysely<DB>, address: string, sinceIso: string, cap: number): Promise<number> {
  const known = bounds.get(address);
  if (known && known.since <= sinceIso) {
    const carried = await carryForward(tx, address, known);
    if (carried && carried.count < cap) {
      keepAfterCommit(tx, address, carried);
      return carried.count;
    }
  }
  return countExactly(tx, address, sinceIso);
}

/**
 * The bound with the box's auto-responses added after it; null when it cannot be carried: its
 * last row is gone or rewritten (another database, an erasure), or too many rows came since.
 */
async function carryForward(tx: Kysely<DB>, address: string, known: Bound): Promise<Bound | null> {
  const { rows } = await rowsFrom.execute(tx, { id: known.lastId });
  const [first, ...added] = rows;
  if (!first || first.id !== known.lastId || first.message_id !== known.lastMessageId || added.length === MAX_ADDED) return null;
  const last = added.at(-1) ?? first;
  const more = added.filter((r) => r.kind === 'auto_response' && r.from_address === address).length;
  return { since: known.since, count: known.count + more, lastId: last.id, lastMessageId: last.message_id };
}

async function countExactly(tx: Kysely<DB>, address: string, sinceIso: string): Promise<number> {
  // The last row first: a row added between the two reads (PostgreSQL) is counted twice, never missed.
  const last = (await lastRow.execute(tx, {})).rows[0];
  const count = await autoResponsesFrom(tx, address, sinceIso);
  if (last) keepAfterCommit(tx, address, { since: sinceIso, count, lastId: last.id, lastMessageId: last.message_id });
  return count;
}

/** Keeps the bound once `tx` commits; a transaction that rolls back, or none writeTx opened, keeps nothing. */
function keepAfterCommit(tx: Kysely<DB>, address: string, bound: Bound): void {
  afterCommit(tx, () => bounds.set(address, bound));
}
