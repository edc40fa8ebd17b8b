// The one place where errors become exit codes: a user error is one sentence on stderr (plus
// its detail lines, e.g. every config problem) and a sysexits status; only --verbose shows the
// stack. Nothing else in the CLI calls process.exit.
import { MailwardenError, exitCodeFor } from '../errors.js';

let verbose = false;

export function setVerbose(on: boolean): void {
  verbose = on;
}

export function reportError(err: unknown): number {
  if (err instanceof MailwardenError) {
    process.stderr.write(`mailwarden: ${err.message}\n`);
    for (const line of err.details ?? []) process.stderr.write(`  ${line}\n`);
  } else {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`mailwarden: unexpected error: ${message.split('\n')[0]}${verbose ? '' : ' (run with --verbose for details)'}\n`);
  }
  if (verbose && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  return exitCodeFor(err);
}

/** Wraps a command action so that a thrown error sets the exit code instead of crashing. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void | number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}
