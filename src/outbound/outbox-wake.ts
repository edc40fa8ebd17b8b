// Wakes the outbox drainer of this process when a commit queued mail, so an auto-response leaves
// within milliseconds of its commit instead of at the drainer's next poll (issue 18). queueMail
// (and the actions that make a row due again) signal through afterCommit, so the drainer is only
// ever woken once the row is committed. The wake names the rows the commit made due: the drainer
// claims those by id, with one compare-and-set UPDATE and no search (the search for due rows was
// three reads on every claim, and one more round of them to find the queue empty). Mail queued by
// another process (the CLI) cannot reach this signal; the drainer's poll is the fallback that
// finds it, and orphaned or retried rows with it.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { afterCommit } from '../db/after-commit.js';

/** Called after a commit with the ids of the outbox rows it made due. */
export type QueuedListener = (outboxIds: readonly number[]) => void;

const listeners = new Set<QueuedListener>();
/** The rows each open transaction made due so far; the hook that reports them is registered with the first. */
const dueIn = new WeakMap<Kysely<DB>, number[]>();

/** Wakes this process's drainers, naming `outboxId`, once `tx` has committed (not at all when it rolls back). */
export function wakeDrainerAfterCommit(tx: Kysely<DB>, outboxId: number): void {
  const ids = dueIn.get(tx);
  if (ids) {
    ids.push(outboxId);
    return;
  }
  const first = [outboxId];
  if (afterCommit(tx, () => notify(first))) dueIn.set(tx, first);
}

function notify(ids: readonly number[]): void {
  for (const listener of listeners) listener(ids);
}

/** Calls `listener` after each commit that queued mail; returns the unsubscribe. */
export function onMailQueued(listener: QueuedListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
