export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

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
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: WaitOptions,
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  let message = `timed out after ${timeoutMs}ms waiting for ${opts.what}`;
  if (lastError !== undefined) {
    message += `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  }
  return Promise.reject(new Error(message, lastError !== undefined ? { cause: lastError } : undefined));
}
