// The daemon runs the same few dozen SQL statements for every message; kysely's SQLite driver
// prepares each one again on every execution, which cost about a millisecond per message
// (bench/ingest). This keeps prepared statements by SQL text on the daemon's own connection
// (openDatabase with reuseStatements); it is SQLite's business, so it lives with the SQLite
// connection. A statement still busy (an iterator open on it) is never handed out twice.
import type Database from 'better-sqlite3';

const MAX_STATEMENTS = 500;

export function cacheStatements(sqlite: Database.Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, Database.Statement>();
  sqlite.prepare = ((source: string) => {
    const hit = cache.get(source);
    if (hit && !hit.busy) return hit;
    const stmt = prepare(source);
    if (cache.size >= MAX_STATEMENTS) cache.clear();
    cache.set(source, stmt);
    return stmt;
  }) as typeof sqlite.prepare;
}
