// What went wrong while taking a message in, asked of the error, so every failure is logged as
// what it is (SPEC §3): the database busy or the disk full (transient, src/db/errors.ts: the same message is
// simply tried again later, nothing is counted), an accept that failed for a reason that is not
// transient (counted, then parked: src/ingest/park.ts), or the connection to the server.
import { isBusy, isStorageFailure } from '../db/errors.js';
import { MailwardenError } from '../errors.js';

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
