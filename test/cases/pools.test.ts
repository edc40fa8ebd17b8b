// `mailwarden pools` (SPEC §6): per-pool counts from one GROUP BY, through the compiled CLI on a
// real SQLite file. Cases come from the fixtures and are then worked on with the real commands
// (reply, consult, merge), so each count is provoked by the action that produces it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, runCli } from '../support/cli';
import { removeTempDir } from '../support/tmp';
import { addMs, nowIso } from '../../src/clock';
import type { Opened } from '../../src/db/connection';
import { insertCase, openTestDb } from './fixtures';

const HOUR = 3600_000;
const POOLS = [
  { id: 'general', name: 'General questions', response_deadline: '8h', languages: ['en', 'pl'] },
  { id: 'cards', name: 'Payment cards', response_deadline: '4h', languages: ['pl', 'en'] },
  { id: 'loans', name: 'Loans', response_deadline: '1d', languages: ['en'] },
];

describe('pools', () => {
  let cfg: TestConfig;
  let opened: Opened;
  let env: Record<string, string>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    cfg = await writeTestConfig({ overrides: { pools: POOLS } });
    opened = await openTestDb(cfg.dataDir);
    env = { MAILWARDEN_CONFIG: cfg.configPath };
    const add = async (name: string, f: Parameters<typeof insertCase>[1]) => (ids[name] = (await insertCase(opened.db, f)).id);
    // cards: fresh and unanswered; past its own deadline; answered; solved; one merged away; one
    // whose own deadline is far off but whose consultation is overdue.
    await add('fresh', { pool: 'cards' });
    await add('late', { pool: 'cards', receivedAt: addMs(nowIso(), -10 * HOUR), deadlineMs: 4 * HOUR });
    await add('answered', { pool: 'cards' });
    await add('solved', { pool: 'cards', status: 'solved', receivedAt: addMs(nowIso(), -10 * HOUR), deadlineMs: HOUR });
    await add('merged', { pool: 'cards', receivedAt: addMs(nowIso(), -10 * HOUR), deadlineMs: HOUR });
    await add('consulted', { pool: 'cards', deadlineMs: 30 * 24 * HOUR });
    // general: postponed past its deadline (the deadline does not run while postponed), and closed.
    await add('postponed', { pool: 'general', status: 'postponed', receivedAt: addMs(nowIso(), -20 * HOUR), deadlineMs: HOUR });
    await add('closed', { pool: 'general', status: 'closed' });

    const ok = async (args: string[], extra: Record<string, string> = {}) => {
      const r = await runCli(args, { env: { ...env, ...extra } });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    };
    await ok(['reply', ids.answered!, '--as', 'sam', '-m', 'We are looking into it.']);
    await ok(['merge', ids.merged!, ids.fresh!, '--as', 'sam']);
    // Asked three days ago with the department's 1d deadline: the consultation is two days late.
    await ok(['consult', ids.consulted!, '--dept', 'fraud', '--as', 'sam', '-m', 'Was this payment flagged?'], { MAILWARDEN_CLOCK_OFFSET: '-3d' });
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('counts each pool in configuration order, a merged case left out and an empty pool at zero', async () => {
    const pools = await cliJson(['pools'], { env });
    expect(pools).toEqual([
      { id: 'general', name: 'General questions', total: 2, open: 1, unanswered: 1, overdue: 0, under_consultation: 0 },
      // fresh, late, answered, solved, consulted (merged is not counted); open: all but solved;
      // unanswered: fresh, late, consulted; overdue: late (own deadline), consulted (its consultation).
      { id: 'cards', name: 'Payment cards', total: 5, open: 4, unanswered: 3, overdue: 2, under_consultation: 1 },
      { id: 'loans', name: 'Loans', total: 0, open: 0, unanswered: 0, overdue: 0, under_consultation: 0 },
    ]);
  });

  it('counts as overdue exactly the cases `cases --overdue` lists', async () => {
    const overdue = await cliJson(['cases', '--overdue'], { env });
    expect(overdue.map((c: any) => c.id).sort()).toEqual([ids.late, ids.consulted].sort());
    const consulted = overdue.find((c: any) => c.id === ids.consulted);
    // Its own deadline has not passed: only the consultation makes it overdue.
    expect(consulted).toMatchObject({ status: 'under_consultation', overdue: false, consultation: { dept: 'fraud', overdue: true } });
  });

  it('moves with the clock: once every deadline passed, every running case is overdue', async () => {
    const later = await cliJson(['pools'], { env: { ...env, MAILWARDEN_CLOCK_OFFSET: '+40d' } });
    expect(later.map((p: any) => [p.id, p.overdue])).toEqual([
      ['general', 0],
      ['cards', 4],
      ['loans', 0],
    ]);
  });

  it('prints an aligned table, numbers right-aligned under their headers', async () => {
    const r = await runCli(['pools'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    const header = lines[0]!;
    expect(header).toMatch(/^POOL +NAME +TOTAL +OPEN +UNANSWERED +OVERDUE +UNDER CONSULTATION$/);
    const cards = lines.find((l) => l.startsWith('cards '))!;
    const loans = lines.find((l) => l.startsWith('loans '))!;
    expect(cards).toContain('Payment cards');
    // Each number ends where its header ends.
    for (const [title, cardsValue] of [
      ['TOTAL', '5'],
      ['UNANSWERED', '3'],
      ['OVERDUE', '2'],
      ['UNDER CONSULTATION', '1'],
    ] as const) {
      const end = header.indexOf(title) + title.length;
      expect(cards.slice(end - cardsValue.length, end)).toBe(cardsValue);
      expect(loans.slice(end - 1, end)).toBe('0');
      expect(cards[end] ?? ' ').toBe(' ');
    }
    expect(r.stdout).not.toContain('\u001b[');
  });

  it('says what it does, with an example', async () => {
    const r = await runCli(['pools', '--help'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('mailwarden pools --json');
  });
});
