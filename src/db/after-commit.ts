// Work that may only happen once a transaction's writes are durable and visible: waking the
// outbox drainer for mail the transaction queued (src/outbound/outbox-wake.ts). A step inside
// the transaction registers it here with the transaction's handle; writeTx runs it after COMMIT
// returned and drops it on rollback. Never before the commit: a drainer woken early would find
// nothing (or, worse, a row that is then rolled back). A handle writeTx did not open (a caller's
// own autocommit statements, a test's bare db) registers nothing: the drainer's poll finds its
// mail, as it finds mail queued by another process.
import type { Kysely } from 'kysely';
import type { DB } from './schema.js';

const pending = new WeakMap<Kysely<DB>, Array<() => void>>();

/** Opens the hook list of a transaction writeTx is about to run. */
export function openHooks(tx: Kysely<DB>): void {
  pending.set(tx, []);
}

/**
 * Runs `fn` after `tx` commits (once per distinct fn), or never when it rolls back. False when
 * `tx` is no writeTx transaction (nothing will run).
 */
export function afterCommit(tx: Kysely<DB>, fn: () => void): boolean {
  const hooks = pending.get(tx);
  if (!hooks) return false;
  if (!hooks.includes(fn)) hooks.push(fn);
  return true;
}

/** Takes the hooks of `tx` away; writeTx calls each of them after COMMIT, and none after a rollback. */
export function takeHooks(tx: Kysely<DB>): Array<() => void> {
  const hooks = pending.get(tx) ?? [];
  pending.delete(tx);
  return hooks;
}
