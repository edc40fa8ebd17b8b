// What a database error means, asked of the error rather than of the dialect: callers decide
// "retry later" or "someone else got there first" without knowing SQLite's error codes, so a
// PostgreSQL dialect can answer the same questions from its SQLSTATEs (40001, 55P03, 23505).
// Only SQLite is implemented today (better-sqlite3 puts the extended result code in `code`).

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** The database is locked or out of room for now (another process, a full disk): worth retrying later. */
export function isBusy(err: unknown): boolean {
  const code = codeOf(err);
  return isLocked(err) || code === 'SQLITE_IOERR' || isDiskFull(err);
}

/** Another connection holds the lock: waiting may help, and it costs nothing to try again. */
export function isLocked(err: unknown): boolean {
  const code = codeOf(err);
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** The disk under the database has no room left: trying again helps only once space is freed. */
function isDiskFull(err: unknown): boolean {
  return codeOf(err) === 'SQLITE_FULL';
}

/** A unique key or primary key refused the row: another writer claimed it first. */
export function isUniqueViolation(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
