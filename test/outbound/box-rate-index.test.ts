// Issue 18: ingest at 100k cases was ~10% slower than on an empty database, and far worse with
// large outbox rows, because the box's auto-response rate (loop-breaker.ts) counted its window by
// reading every auto-response row the desk ever sent. Migration 020 gives that count its own
// index; this holds SQLite's plan for the statement to it (a plan, not a time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Opened } from '../../src/db/connection';
import { makeTempDir, removeTempDir } from '../support/tmp';

describe('the box auto-response rate on SQLite', () => {
  let dir: string;
  let opened: Opened;
  beforeAll(async () => {
    dir = await makeTempDir('mw-box-rate-');
    opened = await openDatabase({ dataDir: dir });
  });
  afterAll(async () => {
    await opened?.close();
    if (dir) await removeTempDir(dir);
  });

  it('counts only the window, through the (kind, from_address, created_at) index (fails on a scan of every auto-response)', async () => {
    // The statement boxAutoResponsesSince sends, as kysely compiles it.
    const { sql, parameters } = opened.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', 'auto_response')
      .where('from_address', '=', 'desk@example.test')
      .where('created_at', '>', '2026-01-01T00:00:00.000Z')
      .compile();
    const plan = opened.sqlite!.prepare(`explain query plan ${sql}`).all(...(parameters as unknown[])) as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail)).toEqual(['SEARCH outbox USING COVERING INDEX outbox_box_rate (kind=? AND from_address=? AND created_at>?)']);
  });
});
