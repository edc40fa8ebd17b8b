// What a database error means, asked of the error rather than of the dialect: callers decide
// "retry later" or "someone else got there first" without knowing SQLite's error codes, so a
// PostgreSQL dialect answers the same questions from its SQLSTATEs: better-sqlite3 puts SQLite's
// extended result code in `code` (SQLITE_BUSY…), pg the five-character SQLSTATE (40001, 23505…).

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** The database is locked or out of room for now (another process, a full disk): worth retrying later. */
export function isBusy(err: unknown): boolean {
  const code = codeOf(err);
  // SQLITE_IOERR and its extended codes (SQLITE_IOERR_WRITE, _FSYNC…): the disk failed this write.
  return isLocked(err) || code.startsWith('SQLITE_IOERR') || isDiskFull(err) || PG_UNAVAILABLE.has(code) || code.startsWith('08');
}

/** Another connection holds the lock: waiting may help, and it costs nothing to try again. */
export function isLocked(err: unknown): boolean {
  const code = codeOf(err);
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || PG_CONFLICT.has(code);
}

/**
 * PostgreSQL: a serialization failure, a deadlock or a lock not available: the transaction was
 * undone and may simply run again.
 */
const PG_CONFLICT = new Set(['40001', '40P01', '55P03']);

/**
 * PostgreSQL (and pg's own connection errors): the server is shutting down, out of room or not
 * reachable for now (class 08 is connection exceptions, checked apart).
 */
const PG_UNAVAILABLE = new Set(['53100', '53200', '53300', '57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT']);

/** The disk under the database has no room left: trying again helps only once space is freed. */
function isDiskFull(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'SQLITE_FULL' || code === '53100';
}

/** errno codes of the file system that say "not now" rather than "never". */
const TRANSIENT_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY']);

/**
 * The database is locked or full, or the disk refuses writes for now: retry later, count nothing.
 * Asked by ingest (raw files and the accept) and by the drainer (recording an outcome) alike.
 */
export function isTransientFailure(err: unknown): boolean {
  return isBusy(err) || isStorageFailure(err);
}

/** The file system refused for now (a full disk, a read-only remount, too many open files). */
export function isStorageFailure(err: unknown): boolean {
  return TRANSIENT_ERRNO.has(codeOf(err));
}

/** A unique key or primary key refused the row: another writer claimed it first. */
export function isUniqueViolation(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
