// SQLite's plan for a statement as kysely compiles it, on a fresh migrated database of the test's
// own: the index tests hold a hot statement to its index by its plan, never by a time.
import type { Compilable } from 'kysely';
import { afterAll, beforeAll } from 'vitest';
import { openDatabase, type Db, type Opened } from '../../src/db/connection';
import { makeTempDir, removeTempDir } from './tmp';

export interface PlanDatabase {
  /** The migrated database (open from beforeAll to afterAll). */
  db(): Db;
  /** The plan's steps (`SEARCH … USING INDEX …`, `SCAN …`), in order. */
  plan(query: Compilable): string[];
}

/** Call inside a describe: opens the database before its tests, closes and removes it after. */
export function planDatabase(prefix: string): PlanDatabase {
  let dir: string | undefined;
  let opened: Opened | undefined;
  beforeAll(async () => {
    dir = await makeTempDir(prefix);
    opened = await openDatabase({ dataDir: dir });
  });
  afterAll(async () => {
    await opened?.close();
    if (dir) await removeTempDir(dir);
  });
  return {
    db: () => opened!.db,
    plan(query) {
      const { sql, parameters } = query.compile();
      const rows = opened!.sqlite!.prepare(`explain query plan ${sql}`).all(...(parameters as unknown[])) as Array<{ detail: string }>;
      return rows.map((r) => r.detail);
    },
  };
}
