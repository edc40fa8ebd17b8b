// `mailwarden cases` pages in SQL (issue 18): open cases only by default, `--all` for every
// status, `--status` for exactly those, `--limit` (default 100) with a table footer saying how
// many match in all, filters combined with paging, and a bad --limit refused in one sentence.
// Through the compiled CLI on a real SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, runCli } from '../support/cli';
import { removeTempDir } from '../support/tmp';
import { addMs } from '../../src/clock';
import type { Opened } from '../../src/db/connection';
import type { CaseStatus } from '../../src/db/schema';
import { insertCase, openTestDb } from './fixtures';

const START = '2026-02-02T08:00:00.000Z';

describe('cases: paging and the open default', () => {
  let cfg: TestConfig;
  let opened: Opened;
  let env: Record<string, string>;
  /** every case in the order received: [id, status, pool] */
  const made: Array<{ id: string; status: CaseStatus; pool: string }> = [];
  const ids = (f: (c: (typeof made)[number]) => boolean) => made.filter(f).map((c) => c.id);
  const list = async (args: string[]) => (await cliJson(['cases', ...args], { env })).map((c: any) => c.id);
  const isOpen = (c: { status: CaseStatus }) => c.status !== 'solved' && c.status !== 'closed';

  beforeAll(async () => {
    cfg = await writeTestConfig();
    opened = await openTestDb(cfg.dataDir);
    env = { MAILWARDEN_CONFIG: cfg.configPath };
    // Closed cases first and between open ones, as on a desk that has kept its history.
    const plan: Array<[CaseStatus, string]> = [
      ['closed', 'cards'],
      ['solved', 'cards'],
      ['received', 'cards'],
      ['solved', 'general'],
      ['in_progress', 'general'],
      ['received', 'cards'],
      ['postponed', 'general'],
      ['under_consultation', 'cards'],
      ['closed', 'general'],
      ['received', 'cards'],
    ];
    for (const [i, [status, pool]] of plan.entries()) {
      const assignee = status === 'received' ? null : 'sam';
      const c = await insertCase(opened.db, { status, pool, assignee, receivedAt: addMs(START, i * 60_000), deadlineMs: 365 * 86_400_000 });
      made.push({ id: c.id, status, pool });
    }
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('lists only open cases by default, oldest first: received, in progress, postponed, under consultation', async () => {
    expect(await list([])).toEqual(ids(isOpen));
    expect(ids(isOpen)).toHaveLength(6);
  });

  it('--all lists every status, solved and closed too, oldest first', async () => {
    expect(await list(['--all'])).toEqual(made.map((c) => c.id));
  });

  it('--status lists exactly the statuses named, closed ones included without --all', async () => {
    expect(await list(['--status', 'solved,closed'])).toEqual(ids((c) => !isOpen(c)));
    expect(await list(['--status', 'closed', '--all'])).toEqual(ids((c) => c.status === 'closed'));
  });

  it('--limit keeps the oldest n; the table says how many match in all and how to see more', async () => {
    expect(await list(['--limit', '2'])).toEqual(ids(isOpen).slice(0, 2));
    const r = await runCli(['cases', '--limit', '2'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('2 of 6 open cases shown, oldest first; --limit <n> shows more, --all adds solved and closed ones.');
    const all = await runCli(['cases', '--all', '--limit', '3'], { env });
    expect(all.stdout).toContain('3 of 10 matching cases shown, oldest first; --limit <n> shows more.');
    expect(all.stdout).toContain(made[0]!.id);
    expect(all.stdout).not.toContain(made[3]!.id);
  });

  it('prints no footer when the page holds every match, and none under --json', async () => {
    const r = await runCli(['cases', '--limit', '6'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('shown');
    const json = await runCli(['cases', '--limit', '1', '--json'], { env });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toHaveLength(1);
    expect(json.stderr).toBe('');
  });

  it('pages after filtering: pool and paging, pool and --all, status and assignee', async () => {
    const openCards = ids((c) => isOpen(c) && c.pool === 'cards');
    expect(await list(['--pool', 'cards', '--limit', '2'])).toEqual(openCards.slice(0, 2));
    const r = await runCli(['cases', '--pool', 'cards', '--limit', '2'], { env });
    expect(r.stdout).toContain(`2 of ${openCards.length} open cases shown`);
    expect(await list(['--pool', 'general', '--all', '--limit', '3'])).toEqual(ids((c) => c.pool === 'general').slice(0, 3));
    expect(await list(['--assignee', 'sam', '--status', 'postponed,solved', '--limit', '1'])).toEqual(
      ids((c) => c.status === 'postponed' || c.status === 'solved').slice(0, 1),
    );
    expect(await list(['--assignee', 'none', '--limit', '5'])).toEqual(ids((c) => c.status === 'received'));
  });

  it('says --all when no open case matches but closed ones may', async () => {
    const r = await runCli(['cases', '--customer', 'nobody@example.org'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('No open cases match (--all lists solved and closed ones too).');
    expect((await runCli(['cases', '--customer', 'nobody@example.org', '--all'], { env })).stdout.trim()).toBe('No cases match.');
  });

  it('refuses a --limit that is not a positive whole number in one sentence, exit 64, JSON under --json', async () => {
    for (const bad of ['0', '-3', 'ten', '2.5', '']) {
      const r = await runCli(['cases', `--limit=${bad}`], { env });
      expect(r.code, `--limit ${bad}`).toBe(64);
      expect(r.stderr.trim()).toBe(`mailwarden: --limit wants a positive whole number, not "${bad}".`);
      expect(r.stdout).toBe('');
    }
    const j = await runCli(['cases', '--limit', 'ten', '--json'], { env });
    expect(j.code).toBe(64);
    expect(JSON.parse(j.stderr.trim())).toEqual({ error: { code: 'EBADLIMIT', message: '--limit wants a positive whole number, not "ten".', exit: 64 } });
  });
});

describe('cases: the default page', () => {
  let cfg: TestConfig;
  let opened: Opened;
  let env: Record<string, string>;
  const made: string[] = [];

  beforeAll(async () => {
    cfg = await writeTestConfig();
    opened = await openTestDb(cfg.dataDir);
    env = { MAILWARDEN_CONFIG: cfg.configPath };
    for (let i = 0; i < 103; i++) made.push((await insertCase(opened.db, { receivedAt: addMs(START, i * 1000) })).id);
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('shows the oldest 100 unless told otherwise, and says 103 match', async () => {
    expect((await cliJson(['cases'], { env })).map((c: any) => c.id)).toEqual(made.slice(0, 100));
    const r = await runCli(['cases'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('100 of 103 open cases shown, oldest first;');
    expect(r.stdout).not.toContain(made[100]!);
    expect((await cliJson(['cases', '--limit', '500'], { env })).map((c: any) => c.id)).toEqual(made);
  });
});
