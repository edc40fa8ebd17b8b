// Steps a test holds back, then lets finish or fail: how the tests prove the order of what the
// code does around them (no 250 while the fsync behind it is held, no mail sent before the sync
// of its rows). A power loss cannot be provoked in a test; the order can.
import { waitFor } from './wait';

/** Calls parked until the test releases them (or fails them), all those parked at the time. */
export function heldGates() {
  let gates: Array<{ release: () => void; fail: (err: Error) => void }> = [];
  const take = () => {
    const taken = gates;
    gates = [];
    return taken;
  };
  return {
    /** Parks one call: resolves when released, rejects when failed. */
    wait: () => new Promise<void>((release, fail) => gates.push({ release, fail })),
    release: () => take().forEach((g) => g.release()),
    fail: (err: Error) => take().forEach((g) => g.fail(err)),
    get waiting() {
      return gates.length;
    },
  };
}

/**
 * A FileSyncer (src/db/commit-sync.ts) whose fsyncs the test holds; each released one really
 * fsyncs, with the `fsync` given (the product's fsyncFileSync, from the build the test runs).
 */
export function heldSyncer(fsync: (file: string) => void) {
  const gates = heldGates();
  const calls: string[] = [];
  return {
    calls,
    syncer: async (file: string) => {
      calls.push(file);
      await gates.wait();
      fsync(file);
    },
    release: gates.release,
    fail: gates.fail,
    get waiting() {
      return gates.waiting;
    },
    /** Waits for `pending` to park one fsync, lets it through, and waits for `pending`. */
    async letThrough(pending: Promise<unknown>, what: string): Promise<void> {
      await waitFor(() => gates.waiting === 1, { what });
      gates.release();
      await pending;
    },
  };
}

/** An EIO as a failing disk gives it. */
export function diskError(): Error {
  return Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
}
