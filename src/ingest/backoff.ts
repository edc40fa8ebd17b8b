// Capped exponential backoff with jitter for reconnecting: after the n-th failure in a row, wait
// between half and all of min(cap, base * 2^(n-1)), so boxes on one failed server do not all
// knock again in the same instant.

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, capMs: 60_000 };

export function backoffDelay(failures: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const exp = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  const r = (opts.random ?? Math.random)();
  return Math.round(exp * (0.5 + r / 2));
}

/** Resolves after ms, or at once when the signal aborts (a stopping daemon does not wait out a backoff). */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
