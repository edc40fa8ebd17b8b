// The one place where errors become exit codes: a user error is one sentence on stderr (plus
// its detail lines, e.g. every config problem) and a sysexits status; only --verbose shows the
// stack. Under --json the same error is one JSON object on stderr with its stable code. Nothing
// else in the CLI calls process.exit, but for the daemon's own end (commands/run.ts says why).
// A database locked past the busy timeout or a full disk is no bug: the same command works later,
// so it is told as such (EBUSY, EX_TEMPFAIL 75), not as an unexpected error.
import { isBusy, isLocked } from '../db/errors.js';
import { MailwardenError, exitCodeFor, tempfailError, type ErrorCode } from '../errors.js';

let verbose = false;
let jsonErrors = false;

export function setVerbose(on: boolean): void {
  verbose = on;
}

/** Errors become JSON objects on stderr (the command was given --json). */
export function setJsonErrors(on: boolean): void {
  jsonErrors = on;
}

/**
 * How to put a refused command right, in this CLI's terms. Domain errors never name flags
 * (they are the same for the daemon, the mail side and any future front end); the CLI adds the
 * flag that fixes them here, by code.
 */
const HINTS: Partial<Record<ErrorCode, string>> = {
  ENOACTOR: 'Say who acts with --as <consultant> or MAILWARDEN_AS.',
  EBADANSWER: 'Give each answer with --answer key=value.',
  EQUESTIONNAIRE: 'Give each answer with --answer key=value:',
  ENOREMIND: 'Give it with --remind-at <time>.',
  EBADREMIND: 'Add --status postponed, or leave out --remind-at.',
  ENOQUESTIONNAIRE: 'Leave out --answer.',
  EDEMODIR: 'Choose another --dir.',
  EINITEXISTS: 'Use --force to overwrite it.',
  EBADREPLACEMENT: 'Name someone else with --replacement <consultant>, or --replacement none to return the cases to the pool.',
  EABSENT: 'The absence ends by itself then, or now with `mailwarden absence <consultant> --clear`.',
};

export interface ErrorReport {
  code: ErrorCode;
  message: string;
  details?: string[];
  exit: number;
}

/** What the user is told about `err`: the sentence, its hint, its details and the exit status. */
export function describeError(thrown: unknown): ErrorReport {
  const err = asTempfail(thrown) ?? thrown;
  const exit = exitCodeFor(err);
  if (err instanceof MailwardenError) {
    const hint = HINTS[err.code];
    return { code: err.code, message: hint ? `${err.message} ${hint}` : err.message, ...(err.details?.length ? { details: err.details } : {}), exit };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'EINTERNAL', message: `unexpected error: ${message.split('\n')[0]}${verbose ? '' : ' (run with --verbose for details)'}`, exit };
}

/** The database locked by another process, or no room on the disk: "try again", as EBUSY; null for anything else. */
function asTempfail(err: unknown): MailwardenError | null {
  if (isLocked(err)) return tempfailError('EBUSY', 'The database is busy: another process holds its lock; try again in a moment.');
  const errno = (err as { code?: unknown } | null)?.code;
  if (isBusy(err) || errno === 'ENOSPC' || errno === 'EDQUOT') {
    return tempfailError('EBUSY', 'The disk holding the data directory is full or failing; free some space and try again.');
  }
  return null;
}

export function reportError(err: unknown): number {
  const report = describeError(err);
  if (jsonErrors) {
    process.stderr.write(`${JSON.stringify({ error: report })}\n`);
  } else {
    process.stderr.write(`mailwarden: ${report.message}\n`);
    for (const line of report.details ?? []) process.stderr.write(`  ${line}\n`);
  }
  if (verbose && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  return report.exit;
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
