// What went wrong while taking a message in, asked of the error, so every failure is logged as
// what it is (SPEC §3): the database busy or the disk full (transient: the same message is
// simply tried again later, nothing is counted), an accept that failed for a reason that is not
// transient (counted, then parked: src/ingest/park.ts), or the connection to the server.
import { isBusy } from '../db/errors.js';
import { MailwardenError } from '../errors.js';

/** errno codes of the file system that say "not now" rather than "never". */
const TRANSIENT_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY']);

/** The database is locked or full, or the disk refuses writes for now: retry later, count nothing. */
export function isTransientFailure(err: unknown): boolean {
  return isBusy(err) || isStorageFailure(err);
}

/** The file system refused for now (a full disk, a read-only remount, too many open files). */
function isStorageFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_ERRNO.has(code);
}

/** An accept that failed and will be tried again (attempt `attempt` of `max`); already logged. */
export class AcceptFailedError extends MailwardenError {
  constructor(
    cause: string,
    readonly attempt: number,
    readonly max: number,
  ) {
    super('software', 'EACCEPT', `Accepting the message failed (attempt ${attempt} of ${max}): ${cause}`);
  }
}

export type IngestFailureKind = 'accept' | 'storage' | 'database' | 'connection';

/** How a worker names a failure in its log: the event says what failed, not "connection failed" for all. */
export function ingestFailureKind(err: unknown): IngestFailureKind {
  if (err instanceof AcceptFailedError) return 'accept';
  if (isBusy(err)) return 'database';
  if (isStorageFailure(err)) return 'storage';
  return 'connection';
}
