/**
 * Every timeout a test names is a bound for a quiet machine; on a loaded 2-core machine (CI with
 * the other core busy) the same work takes several times longer. Waits end as soon as what they
 * wait for has happened, so a generous bound costs a passing test nothing.
 * MAILWARDEN_TEST_WAIT_SCALE overrides the factor (e.g. 1 to find a slow wait while debugging).
 */
const WAIT_SCALE = Number(process.env.MAILWARDEN_TEST_WAIT_SCALE ?? 4);

/** The real bound for a wait a test sizes at `ms` on a quiet machine. */
export function bound(ms: number): number {
  return Math.round(ms * WAIT_SCALE);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Thrown by a waited-for function when waiting longer cannot help (the daemon exited): ends the wait at once. */
export class StopWaiting extends Error {}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Shown in the timeout error, e.g. 'alice INBOX to contain 3 messages'. */
  what: string;
}

/**
 * Polls fn until it returns a truthy value and resolves with it. Real servers deliver
 * asynchronously (Dovecot debounces IDLE notifications by ~500 ms), so tests wait for the
 * effect instead of sleeping a fixed time. A throwing fn counts as "not yet"; its last error
 * is attached to the timeout error so a failing assertion inside fn stays visible.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions): Promise<NonNullable<T>> {
  const timeoutMs = bound(opts.timeoutMs ?? 10_000);
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      lastError = undefined;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  let message = `timed out after ${timeoutMs}ms waiting for ${opts.what}`;
  if (lastError !== undefined) {
    message += `; last error: ${lastError instanceof Error ? lastError.message : typeof lastError === 'string' ? lastError : JSON.stringify(lastError)}`;
  }
  return Promise.reject(new Error(message, lastError !== undefined ? { cause: lastError } : undefined));
}
