// What the code above src/db relies on from PostgreSQL (src/db/postgres.ts): the shared migrations
// give time columns timestamptz and counters bigint, and values come back as SQLite gives them
// (times as the ISO strings nowIso() writes, whatever the server's TimeZone; counts as numbers).
// Always on PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { freshPostgresUrl } from '../support/backend';
import { makeTempDir, removeTempDir } from '../support/tmp';
import { openDatabase, type Opened } from '../../src/db/connection';
import { insertCase } from '../cases/fixtures';

describe('PostgreSQL types', () => {
  let dir: string;
  let opened: Opened;

  beforeAll(async () => {
    dir = await makeTempDir('mw-pgtypes-');
    // A server session in a zone far from UTC, with a half-hour offset.
    const url = new URL(await freshPostgresUrl());
    url.searchParams.set('options', '-c TimeZone=Asia/Kolkata');
    opened = await openDatabase({ dataDir: dir, url: url.toString() });
  });
  afterAll(async () => {
    await opened?.close();
    if (dir) await removeTempDir(dir);
  });

  it('gives time columns timestamptz, integers bigint, bytes bytea and keys identity sequences', async () => {
    const columns = await sql<{ table_name: string; column_name: string; data_type: string; column_default: string | null }>`
      SELECT table_name, column_name, data_type, column_default FROM information_schema.columns WHERE table_schema = 'public'`.execute(opened.db);
    const type = (t: string, c: string) => columns.rows.find((r) => r.table_name === t && r.column_name === c)?.data_type;
    expect(await sql<{ tz: string }>`SELECT current_setting('TimeZone') AS tz`.execute(opened.db).then((r) => r.rows[0]?.tz)).toBe('Asia/Kolkata');
    expect(type('cases', 'received_at')).toBe('timestamp with time zone');
    expect(type('case_events', 'at')).toBe('timestamp with time zone');
    expect(type('absence_log', 'until')).toBe('timestamp with time zone');
    expect(type('report_closings', 'resolution_ms')).toBe('bigint');
    expect(type('outbox', 'mime')).toBe('bytea');
    expect(columns.rows.find((r) => r.table_name === 'case_events' && r.column_name === 'id')?.column_default).toMatch(/^nextval/);
    // Every column named as a time is one, and no other text column holds one by that name.
    const timeNamed = columns.rows.filter((r) => r.column_name === 'at' || r.column_name.endsWith('_at'));
    expect(timeNamed.length).toBeGreaterThan(40);
    for (const r of timeNamed) expect(`${r.table_name}.${r.column_name} ${r.data_type}`).toBe(`${r.table_name}.${r.column_name} timestamp with time zone`);
  });

  it('returns times exactly as written (UTC ISO, milliseconds) and counts as numbers', async () => {
    const receivedAt = '2026-03-29T00:30:00.123Z'; // the night Europe moves its clocks; Kolkata is +05:30
    const c = await insertCase(opened.db, { pool: 'cards', receivedAt });
    const row = await opened.db.selectFrom('cases').select(['received_at', 'version']).where('id', '=', c.id).executeTakeFirstOrThrow();
    expect(row.received_at).toBe(receivedAt);
    expect(row.version).toBe(0);
    const counted = await opened.db
      .selectFrom('cases')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(counted.n).toBe(1);
    // Compared as instants, not as text: the row is found by a bound written in another form.
    const found = await opened.db.selectFrom('cases').select('id').where('received_at', '>=', '2026-03-29T06:00:00.123+05:30').executeTakeFirst();
    expect(found?.id).toBe(c.id);
  });
});
