// Wakes the outbox drainer of this process when a commit queued mail, so an auto-response leaves
// within milliseconds of its commit instead of at the drainer's next poll (issue 18). queueMail
// (and the actions that make a row due again) signal through afterCommit, so the drainer is only
// ever woken once the row is committed. Mail queued by another process (the CLI) cannot reach
// this signal; the drainer's poll is the fallback that finds it.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { afterCommit } from '../db/after-commit.js';

const listeners = new Set<() => void>();

function wakeAll(): void {
  for (const listener of listeners) listener();
}

/** Wakes this process's drainers once `tx` has committed (not at all when it rolls back). */
export function wakeDrainerAfterCommit(tx: Kysely<DB>): void {
  afterCommit(tx, wakeAll);
}

/** Calls `listener` after each commit that queued mail; returns the unsubscribe. */
export function onMailQueued(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
