// `mailwarden migrate-store` (SPEC §10) end to end with the real CLI: a SQLite installation made by
// delivering mail and working cases, copied into the run's PostgreSQL, then read through the same
// commands on PostgreSQL with the same output; new cases after the move get the next ids. Every
// refusal the command has is provoked: a non-empty target, an unreachable server, an installation
// on PostgreSQL already, a running daemon, a target at another schema, and a copy that does not
// match (a trigger on the target changes rows as they arrive), which must leave the target empty.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { migrateStore } from '../../src/db/migrate-store';
import type { RawFile } from '../../src/db/store-raw';
import { freshPostgresUrl } from '../support/backend';
import { cliJson, runCli, type CliResult } from '../support/cli';
import { rewriteTestConfig, writeTestConfig, type TestConfig } from '../support/config';
import { freePort } from '../support/ports';
import { buildMultipart } from '../ingest/helpers';

let cfg: TestConfig;

/** A config on SQLite whatever the pass (MW_TEST_BACKEND=postgres gives writeTestConfig a database.url). */
async function sqliteConfig(): Promise<TestConfig> {
  const made = await writeTestConfig({ prefix: 'MIG' });
  rewriteTestConfig(made, (doc) => delete doc.database);
  return made;
}

function mw(args: string[], input?: string): Promise<CliResult> {
  return runCli([...args, '--config', cfg.configPath], input === undefined ? {} : { input });
}

async function ok(args: string[], input?: string): Promise<CliResult> {
  const r = await mw(args, input);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r;
}

function mail(n: number, attachment?: Buffer): string {
  return buildMultipart({
    from: `Customer ${n} <customer${n}@example.org>`,
    to: 'alice@example.test',
    subject: `Question number ${n}`,
    text: `Hello, this is question ${n}.\nRegards`,
    attachments: attachment ? [{ filename: `scan-${n}.bin`, contentType: 'application/octet-stream', content: attachment }] : [],
  }).toString('latin1');
}

async function deliver(n: number, attachment?: Buffer): Promise<string> {
  const r = await ok(['deliver', 'support', '--json'], mail(n, attachment));
  return JSON.parse(r.stdout).caseId as string;
}

/** One sentence on stderr, no stack, the given exit status. */
function expectRefusal(r: CliResult, exit: number, words: RegExp): void {
  expect(r.code).toBe(exit);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^mailwarden: .+\.$/);
  expect(lines[0]).toMatch(words);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

async function query<T = any>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

const today = () => new Date().toISOString().slice(0, 10);

async function snapshot(ids: string[]): Promise<{ cases: any; shows: any[]; report: any }> {
  const cases = await cliJson(['cases', '--status', 'received,in_progress,under_consultation,solved,closed,postponed', '--config', cfg.configPath]);
  const shows = [];
  for (const id of ids) shows.push(await cliJson(['show', id, '--config', cfg.configPath]));
  const { generated_at: _when, ...report } = await cliJson(['report', '--from', today(), '--to', today(), '--config', cfg.configPath]);
  return { cases, shows, report };
}

describe('mailwarden migrate-store', () => {
  let ids: string[] = [];
  let before: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    cfg = await sqliteConfig();
    ids.push(await deliver(1, Buffer.from('first attachment bytes\u0000\u0001')));
    ids.push(await deliver(2));
    ids.push(await deliver(3, Buffer.alloc(5000, 7)));
    ids = ids.filter(Boolean);
    expect(ids).toHaveLength(3);
    await ok(['reply', ids[0]!, '--as', 'sam', '-m', 'Thank you, we are on it.']);
    await ok(['label', ids[0]!, '+vip', '+cards', '--as', 'sam']);
    await ok(['comment', ids[1]!, '--as', 'cody', '-m', 'Called the customer back.']);
    await ok(['priority', ids[1]!, 'urgent', '--as', 'sam']);
    await ok(['reply', ids[2]!, '--as', 'sam', '-m', 'Solved, thank you.', '--status', 'solved']);
    before = await snapshot(ids);
  }, 480_000); // thirteen CLI runs on a busy 2-core machine

  it('refuses a target it cannot reach, in one sentence, and as JSON under --json', async () => {
    const closed = `postgres://postgres@127.0.0.1:${await freePort()}/nowhere`;
    expectRefusal(await mw(['migrate-store', '--to', closed]), 69, /Cannot reach the PostgreSQL database/);
    const r = await mw(['migrate-store', '--to', closed, '--json']);
    expect(r.code).toBe(69);
    expect(JSON.parse(r.stderr).error.code).toBe('EDBOPEN');
  });

  it('refuses while the daemon runs on the data dir', async () => {
    const pidFile = path.join(cfg.dataDir, 'daemon.pid');
    fs.writeFileSync(pidFile, `${process.pid}\n`); // this test runner: a live pid, as a running daemon's
    try {
      expectRefusal(await mw(['migrate-store', '--to', await freshPostgresUrl()]), 69, /daemon \(pid \d+\) is running .*stop it first/);
    } finally {
      fs.rmSync(pidFile);
    }
  });

  it('refuses a target migrated further than this installation', async () => {
    const url = await freshPostgresUrl();
    await query(url, `insert into kysely_migration (name, timestamp) values ('999-from-the-future', now()::text)`);
    expectRefusal(await mw(['migrate-store', '--to', url]), 64, /not at the same schema .*999-from-the-future/);
    expect(await query(url, 'select id from cases')).toEqual([]);
  });

  it('undoes the whole copy and names the table when a copy does not match its original', async () => {
    const url = await freshPostgresUrl();
    await query(
      url,
      `create function mw_tamper() returns trigger language plpgsql as $$ begin new.subject := new.subject || ' (changed)'; return new; end $$;
       create trigger mw_tamper before insert on cases for each row execute function mw_tamper();`,
    );
    const r = await mw(['migrate-store', '--to', url, '--json']);
    expect(r.code).toBe(65);
    const err = JSON.parse(r.stderr).error;
    expect(err.code).toBe('EMIGRATESTORE');
    expect(err.message).toMatch(/table cases does not match/);
    for (const table of ['cases', 'messages', 'case_events', 'raw_messages']) expect(await query(url, `select 1 from ${table}`)).toEqual([]);
  });

  it('copies everything, verifies every table, and the CLI on PostgreSQL shows the same', async () => {
    const url = await freshPostgresUrl();
    const r = await ok(['migrate-store', '--to', url, '--json']);
    const result = JSON.parse(r.stdout);
    const byName = new Map<string, any>(result.tables.map((t: any) => [t.table, t]));
    expect(byName.get('cases')).toMatchObject({ rows: 3, checksum_ok: true });
    expect(byName.get('messages').rows).toBeGreaterThanOrEqual(6); // 3 inbound, 2 replies, 1 comment
    expect(byName.get('attachments').rows).toBe(2);
    expect(byName.has('kysely_migration')).toBe(false);
    expect(result.tables.every((t: any) => t.checksum_ok)).toBe(true);
    // Parents come before children (foreign-key order).
    const order = result.tables.map((t: any) => t.table);
    expect(order.indexOf('cases')).toBeLessThan(order.indexOf('messages'));
    expect(order.indexOf('messages')).toBeLessThan(order.indexOf('attachments'));
    // Raw mail: 3 messages and 2 attachments checked on disk and copied into stored_chunks (the default on PostgreSQL).
    expect(result.raw).toMatchObject({ copied: true });
    expect(result.raw.files).toBeGreaterThanOrEqual(5);
    const onDisk = ['raw', 'blobs'].flatMap((d) =>
      fs
        .readdirSync(path.join(cfg.dataDir, d))
        .filter((s) => s !== 'tmp')
        .flatMap((s) => fs.readdirSync(path.join(cfg.dataDir, d, s)).map((f) => path.join(cfg.dataDir, d, s, f))),
    );
    expect(result.raw.files).toBe(onDisk.length);
    expect(result.raw.bytes).toBe(onDisk.reduce((sum, f) => sum + fs.statSync(f).size, 0));
    for (const [table, t] of byName) {
      if (table !== 'stored_chunks') expect(Number((await query(url, `select count(*) as n from ${table}`))[0].n)).toBe(t.rows);
    }
    const stored = await query(url, `select kind, sha256, sum(length(bytes)) as size from stored_chunks group by kind, sha256`);
    expect(stored).toHaveLength(onDisk.length);
    for (const f of onDisk) expect(stored.find((r: any) => r.sha256 === path.basename(f))?.size).toBe(String(fs.statSync(f).size));

    // The same installation copied again into the now full database: refused, nothing overwritten.
    expectRefusal(await mw(['migrate-store', '--to', url]), 64, /already holds rows \(table \w+\).*never overwrites/);

    rewriteTestConfig(cfg, (doc) => (doc.database = { url }));
    const after = await snapshot(ids);
    expect(after.cases).toEqual(before.cases);
    expect(after.shows).toEqual(before.shows);
    expect(after.report).toEqual(before.report);

    // New rows after the move: the next case id, and identity sequences above the copied ids.
    const next = await deliver(4);
    expect(next).toBe('MIG-000004');
    await ok(['comment', next, '--as', 'sam', '-m', 'First comment on PostgreSQL.']);
    const shown = await cliJson(['show', next, '--config', cfg.configPath]);
    expect(shown.messages.map((m: any) => m.kind).filter((k: string) => k !== 'auto_response')).toEqual(['inbound', 'comment']);
    const maxBefore = Math.max(...before.shows.flatMap((s: any) => s.messages.map((m: any) => Number(m.id))));
    for (const m of shown.messages) expect(Number(m.id)).toBeGreaterThan(maxBefore);

    // And the installation now on PostgreSQL is not moved again.
    expectRefusal(await mw(['migrate-store', '--to', await freshPostgresUrl()]), 64, /already keeps its cases in PostgreSQL/);
  });

  it('hands the checked raw files to a raw copier inside the target transaction, and undoes everything when it fails', async () => {
    const url = await freshPostgresUrl();
    let given: RawFile[] = [];
    const failing = migrateStore({
      dataDir: cfg.dataDir,
      targetUrl: url,
      copyRaw: async (tx, files) => {
        given = files;
        expect(
          Number(
            (
              await tx
                .selectFrom('cases')
                .select((eb) => eb.fn.countAll().as('n'))
                .executeTakeFirstOrThrow()
            ).n,
          ),
        ).toBe(3); // inside the copy: the SQLite installation held three
        throw new Error('the chunk store is full');
      },
    });
    await expect(failing).rejects.toThrow('the chunk store is full');
    expect(given.map((f) => f.kind).sort()).toEqual(expect.arrayContaining(['blob', 'raw']));
    for (const f of given) expect(path.basename(f.path)).toBe(f.sha256);
    expect(await query(url, 'select 1 from cases')).toEqual([]);

    const done = await migrateStore({ dataDir: cfg.dataDir, targetUrl: url, copyRaw: async () => undefined });
    expect(done.raw).toMatchObject({ files: given.length, copied: true });
  });

  it('refuses an installation whose stored file no longer matches its SHA-256', async () => {
    const blobs = path.join(cfg.dataDir, 'blobs');
    const shard = fs.readdirSync(blobs).find((s) => s !== 'tmp' && fs.readdirSync(path.join(blobs, s)).length > 0)!;
    const file = path.join(blobs, shard, fs.readdirSync(path.join(blobs, shard))[0]!);
    fs.appendFileSync(file, 'damage');
    const url = await freshPostgresUrl();
    await expect(migrateStore({ dataDir: cfg.dataDir, targetUrl: url })).rejects.toMatchObject({
      code: 'EMIGRATESTORE',
      message: expect.stringContaining(file),
    });
    expect(await query(url, 'select 1 from cases')).toEqual([]);
  });
});
