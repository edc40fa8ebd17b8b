// The statements behind box leases (SPEC §10): several daemons share one database, and each
// mailbox is worked by one of them at a time. Every claim is ONE statement whose returned rows say
// who won (a compare-and-set), never a read followed by a write: under PostgreSQL's READ
// COMMITTED two daemons may read "free" at the same moment, but only one upsert's WHERE holds on
// the row the other just wrote, and SQLite runs the statements one after the other anyway. Reads
// here (which boxes look free, how many daemons are alive) only decide what is worth trying.
// Times are ISO strings passed in by the caller (`now`), so tests can name any instant.
import { sql } from 'kysely';
import { addMs } from '../clock.js';
import type { Db } from './connection.js';

/** A running daemon as box_leases and daemon_nodes know it. */
export interface LeaseHolder {
  /** `<node>:<pid>:<random>`, unique per daemon run */
  id: string;
  node: string;
  pid: number;
}

/**
 * Takes the box when nobody holds it or its lease ran out before `now`, or renews it when `holder`
 * holds it already; true when `holder` holds it until now + leaseMs. One upsert: the row's holder
 * changes only where the WHERE holds on the row as it is when the statement runs.
 */
export async function takeOrRenew(db: Db, holder: string, mailboxId: string, now: string, leaseMs: number): Promise<boolean> {
  const row = await db
    .insertInto('box_leases')
    .values({ mailbox_id: mailboxId, holder, expires_at: addMs(now, leaseMs), taken_at: now })
    .onConflict((oc) =>
      oc
        .column('mailbox_id')
        .doUpdateSet({
          holder: (eb) => eb.ref('excluded.holder'),
          expires_at: (eb) => eb.ref('excluded.expires_at'),
          // A renewal keeps the time the box was taken; a take-over starts it again.
          taken_at: sql<string>`case when box_leases.holder = excluded.holder then box_leases.taken_at else excluded.taken_at end`,
        })
        .where((eb) => eb.or([eb('box_leases.holder', '=', eb.ref('excluded.holder')), eb('box_leases.expires_at', '<', now)])),
    )
    .returning('holder')
    .executeTakeFirst();
  return row?.holder === holder;
}

/** Gives a box up (only while `holder` still holds it); true when a lease was deleted. */
export async function releaseLease(db: Db, holder: string, mailboxId: string): Promise<boolean> {
  const r = await db.deleteFrom('box_leases').where('mailbox_id', '=', mailboxId).where('holder', '=', holder).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** A clean stop: every lease of `holder` is given up and the daemon leaves the live count. */
export async function releaseAllLeases(db: Db, holder: string): Promise<string[]> {
  const rows = await db.deleteFrom('box_leases').where('holder', '=', holder).returning('mailbox_id').execute();
  await db.deleteFrom('daemon_nodes').where('id', '=', holder).execute();
  return rows.map((r) => r.mailbox_id);
}

/** The daemon is alive at `now` (one upsert). */
export async function heartbeat(db: Db, holder: LeaseHolder, now: string): Promise<void> {
  await db
    .insertInto('daemon_nodes')
    .values({ id: holder.id, node: holder.node, pid: holder.pid, started_at: now, seen_at: now })
    .onConflict((oc) => oc.column('id').doUpdateSet({ seen_at: (eb) => eb.ref('excluded.seen_at') }))
    .execute();
}

/** How many daemons sent a heartbeat since `since` (at least 1: the caller is one of them). */
export async function liveDaemons(db: Db, since: string): Promise<number> {
  const row = await db
    .selectFrom('daemon_nodes')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('seen_at', '>=', since)
    .executeTakeFirst();
  return Math.max(1, Number(row?.n ?? 0));
}

/** Forgets daemons not seen since `before` (their leases ran out long ago). */
export async function forgetDeadDaemons(db: Db, before: string): Promise<void> {
  await db.deleteFrom('daemon_nodes').where('seen_at', '<', before).execute();
}

/** Of `mailboxIds`, those no other holder has a lease on at `now`: free, ran out, or ours. */
export async function boxesNotHeldByOthers(db: Db, holder: string, mailboxIds: string[], now: string): Promise<string[]> {
  if (mailboxIds.length === 0) return [];
  const taken = await db
    .selectFrom('box_leases')
    .select('mailbox_id')
    .where('mailbox_id', 'in', mailboxIds)
    .where('holder', '<>', holder)
    .where('expires_at', '>=', now)
    .execute();
  const others = new Set(taken.map((r) => r.mailbox_id));
  return mailboxIds.filter((id) => !others.has(id));
}

/**
 * When the first lease of another holder still running at `now` runs out: a dead daemon's boxes
 * are free from then on, so the next round need not come later (the live ones renew long before).
 */
export async function nextForeignExpiry(db: Db, holder: string, now: string): Promise<string | null> {
  const row = await db
    .selectFrom('box_leases')
    .select((eb) => eb.fn.min('expires_at').as('at'))
    .where('holder', '<>', holder)
    .where('expires_at', '>=', now)
    .executeTakeFirst();
  return row?.at ?? null;
}

/**
 * Releases at once the leases of a daemon known dead: the one on this node with `pid`, whose stale
 * pid lock the caller has just taken over (src/daemon/lock.ts), so its boxes need not wait for
 * their leases to run out. Returns the boxes freed.
 */
export async function releaseLeftBy(db: Db, node: string, pid: number, except: string): Promise<string[]> {
  const dead = db.selectFrom('daemon_nodes').select('id').where('node', '=', node).where('pid', '=', pid).where('id', '<>', except);
  const rows = await db.deleteFrom('box_leases').where('holder', 'in', dead).returning('mailbox_id').execute();
  await db.deleteFrom('daemon_nodes').where('node', '=', node).where('pid', '=', pid).where('id', '<>', except).execute();
  return rows.map((r) => r.mailbox_id);
}

/** The leases as they are, for `status` and the tests. */
export async function listLeases(db: Db): Promise<Array<{ mailbox_id: string; holder: string; expires_at: string; taken_at: string }>> {
  return db.selectFrom('box_leases').selectAll().orderBy('mailbox_id').execute();
}
