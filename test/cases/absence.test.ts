// Absence and replacement (SPEC §5D) through the compiled CLI on a real SQLite file: `absence`
// moves the open cases to the replacement or back to the pool (with history), `next` refuses the
// absent and gives the returned cases to others, setting again replaces (and is logged), the
// absence ends by itself when the clock passes `--until`, and every refusal is one sentence with a
// non-zero exit (JSON under --json). Mail (notices to the replacement) is in
// test/staff/absence-mail.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, runCli, type CliResult } from '../support/cli';
import { removeTempDir } from '../support/tmp';
import { addMs, nowIso, setClockOffset } from '../../src/clock';
import { requireConfig } from '../../src/config/load';
import type { Opened } from '../../src/db/connection';
import { onDuty } from '../../src/cases/absence';
import { approverFor } from '../../src/cases/approvals';
import { wakeDueReminders } from '../../src/cases/schedule-jobs';
import { insertCase, openTestDb } from './fixtures';

const HOUR = 3600_000;

/** sam and vera supervise; cody's configured replacement is vera; tina is sam's trainee; pia has no replacement. */
const ABSENCE_CONSULTANTS = [
  {
    id: 'sam',
    name: 'Sam Supervisor',
    email: 'sam@staff.test',
    roles: ['consultant', 'supervisor'],
    pools: [
      { pool: 'general', priority: 1 },
      { pool: 'cards', priority: 2 },
    ],
  },
  { id: 'vera', name: 'Vera Supervisor', email: 'vera@staff.test', roles: ['consultant', 'supervisor'], pools: [{ pool: 'general', priority: 1 }] },
  { id: 'cody', name: 'Cody Consultant', email: 'cody@staff.test', roles: ['consultant'], replacement: 'vera', pools: [{ pool: 'cards', priority: 1 }] },
  { id: 'pia', name: 'Pia Consultant', email: 'pia@staff.test', roles: ['consultant'], pools: [{ pool: 'cards', priority: 1 }] },
  {
    id: 'tina',
    name: 'Tina Trainee',
    email: 'tina@staff.test',
    roles: ['consultant'],
    trainee: true,
    supervisor: 'sam',
    pools: [{ pool: 'general', priority: 1 }],
  },
];

describe('absence and replacement (CLI)', () => {
  let cfg: TestConfig;
  let opened: Opened;
  let env: Record<string, string>;
  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { env: { ...env, ...extra } });
  const row = (id: string) => opened.db.selectFrom('cases').select(['status', 'assignee', 'remind_at']).where('id', '=', id).executeTakeFirstOrThrow();
  const events = (id: string) =>
    opened.db
      .selectFrom('case_events')
      .select(['actor', 'kind', 'field', 'from_value', 'to_value'])
      .where('case_id', '=', id)
      .where('kind', 'in', ['absence', 'returned'])
      .orderBy('id')
      .execute();
  const inHours = (h: number) => addMs(nowIso(), h * HOUR);

  beforeAll(async () => {
    cfg = await writeTestConfig({ overrides: { consultants: ABSENCE_CONSULTANTS } });
    opened = await openTestDb(cfg.dataDir);
    env = { MAILWARDEN_CONFIG: cfg.configPath };
  });
  afterAll(async () => {
    setClockOffset(0);
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it("moves cody's open cases to the configured replacement; postponed keeps its reminder; next refuses cody", async () => {
    const working = await insertCase(opened.db, { status: 'in_progress', assignee: 'cody', subject: 'working' });
    const postponed = await insertCase(opened.db, { status: 'postponed', assignee: 'cody', subject: 'postponed' });
    const remindAt = inHours(5);
    await opened.db.updateTable('cases').set({ remind_at: remindAt }).where('id', '=', postponed.id).execute();
    const consulting = await insertCase(opened.db, { status: 'under_consultation', assignee: 'cody', subject: 'consulting' });
    const solved = await insertCase(opened.db, { status: 'solved', assignee: 'cody', subject: 'solved' });
    const other = await insertCase(opened.db, { status: 'in_progress', assignee: 'pia', subject: 'not cody' });

    const r = await cliJson(['absence', 'cody', '--until', inHours(48), '--as', 'cody'], { env });
    expect(r).toMatchObject({ consultant: 'cody', replacement: 'vera', replaced: null, approvals: [] });
    expect(r.moved.map((m: any) => [m.case, m.to, m.status])).toEqual([
      [working.id, 'vera', 'in_progress'],
      [postponed.id, 'vera', 'postponed'],
      [consulting.id, 'vera', 'under_consultation'],
    ]);
    expect(await row(working.id)).toMatchObject({ status: 'in_progress', assignee: 'vera' });
    expect(await row(postponed.id)).toEqual({ status: 'postponed', assignee: 'vera', remind_at: remindAt });
    expect(await row(consulting.id)).toMatchObject({ status: 'under_consultation', assignee: 'vera' });
    expect(await row(solved.id)).toMatchObject({ status: 'solved', assignee: 'cody' });
    expect(await row(other.id)).toMatchObject({ assignee: 'pia' });
    // Who moved it and why, in the case history.
    expect(await events(working.id)).toEqual([
      { actor: 'cody', kind: 'absence', field: 'assignee', from_value: 'cody', to_value: 'vera' },
      { actor: 'cody', kind: 'absence', field: null, from_value: 'cody', to_value: 'vera' },
    ]);
    const shown = await cliJson(['show', working.id], { env });
    expect(shown.history.filter((h: any) => h.kind === 'absence').map((h: any) => [h.actor, h.field, h.from, h.to])).toContainEqual([
      'cody',
      'assignee',
      'cody',
      'vera',
    ]);

    const listed = await cliJson(['absences'], { env });
    expect(listed).toEqual([{ consultant: 'cody', name: 'Cody Consultant', until: r.until, replacement: 'vera', set_by: 'cody', at: expect.any(String) }]);

    await insertCase(opened.db, { pool: 'cards', subject: 'waiting for someone' });
    const refused = await cli(['next', '--as', 'cody']);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toMatch(/^mailwarden: cody is absent until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC and gets no cases\. /);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    const refusedJson = await cli(['next', '--as', 'cody', '--json']);
    expect(refusedJson.code).toBe(64);
    expect(JSON.parse(refusedJson.stderr).error.code).toBe('EABSENT');
    expect(refusedJson.stdout).toBe('');
  });

  it('without a replacement, in-progress cases go back to the pool and next gives them to others', async () => {
    // The oldest case in the pool once it is back, so next hands it out first.
    const working = await insertCase(opened.db, {
      status: 'in_progress',
      assignee: 'pia',
      subject: 'pia works on it',
      receivedAt: addMs(nowIso(), -10 * HOUR),
    });
    const postponed = await insertCase(opened.db, { status: 'postponed', assignee: 'pia', subject: 'pia postponed it' });
    const remindAt = inHours(3);
    await opened.db.updateTable('cases').set({ remind_at: remindAt }).where('id', '=', postponed.id).execute();

    // pia has no configured replacement: the cases go to the pool.
    const r = await cliJson(['absence', 'pia', '--until', inHours(24), '--as', 'sam'], { env });
    expect(r).toMatchObject({ consultant: 'pia', replacement: null });
    expect(await row(working.id)).toMatchObject({ status: 'received', assignee: null });
    // A postponed case keeps waiting (and its reminder); it reaches the pool when it comes back.
    expect(await row(postponed.id)).toEqual({ status: 'postponed', assignee: null, remind_at: remindAt });
    expect(await events(working.id)).toEqual([
      { actor: 'sam', kind: 'returned', field: 'status', from_value: 'in_progress', to_value: 'received' },
      { actor: 'sam', kind: 'returned', field: 'assignee', from_value: 'pia', to_value: null },
      { actor: 'sam', kind: 'absence', field: null, from_value: 'pia', to_value: null },
    ]);

    const taken = await cliJson(['next', '--as', 'sam'], { env });
    expect(taken.case).toMatchObject({ id: working.id, status: 'in_progress', assignee: 'sam' });
    const pia = await cli(['next', '--as', 'pia']);
    expect(pia.code).toBe(64);
    expect(pia.stderr).toContain('pia is absent until');

    // The postponed one comes back at its reminder: into the pool (nobody holds it), its pool's supervisors told.
    setClockOffset(4 * HOUR);
    try {
      const woken = await wakeDueReminders(opened.db, requireConfig(cfg.configPath));
      expect(woken).toEqual({ handled: [postponed.id], failed: [] });
    } finally {
      setClockOffset(0);
    }
    expect(await row(postponed.id)).toEqual({ status: 'received', assignee: null, remind_at: null });
    expect((await events(postponed.id)).filter((e) => e.field === 'status')).toEqual([
      { actor: 'daemon', kind: 'returned', field: 'status', from_value: 'postponed', to_value: 'received' },
    ]);
    const reminders = await opened.db.selectFrom('outbox').select('to_addresses').where('case_id', '=', postponed.id).where('kind', '=', 'reminder').execute();
    expect(reminders.map((r) => JSON.parse(r.to_addresses))).toEqual([['sam@staff.test']]);
  });

  it('setting again replaces the absence and is logged; --clear ends it; cases do not move back', async () => {
    const before = await cliJson(['absences'], { env });
    const pia = before.find((a: any) => a.consultant === 'pia');
    const r = await cliJson(['absence', 'pia', '--until', inHours(72), '--replacement', 'sam', '--as', 'pia'], { env });
    expect(r).toMatchObject({ consultant: 'pia', replacement: 'sam', replaced: { until: pia.until, replacement: null }, moved: [] });
    const now = await cliJson(['absences'], { env });
    expect(now.filter((a: any) => a.consultant === 'pia')).toEqual([expect.objectContaining({ until: r.until, replacement: 'sam', set_by: 'pia' })]);

    const cleared = await cli(['absence', 'pia', '--clear', '--as', 'pia']);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toContain('pia is back');
    expect((await cliJson(['absences'], { env })).map((a: any) => a.consultant)).toEqual(['cody']);
    const log = await cliJson(['absences', '--history'], { env });
    expect(
      log
        .filter((e: any) => e.consultant === 'pia')
        .map((e: any) => [e.action, e.replacement, e.by, e.previous?.replacement ?? null, e.previous?.until ?? null]),
    ).toEqual([
      ['set', null, 'sam', null, null],
      ['replaced', 'sam', 'pia', null, pia.until],
      ['cleared', null, 'pia', 'sam', r.until],
    ]);
    // The case sam took from the pool stays with sam.
    const samCases = await cliJson(['cases', '--assignee', 'sam'], { env });
    expect(samCases.map((c: any) => c.subject)).toContain('pia works on it');
  });

  /** A refused command: exit 64, one sentence on stderr; under --json the code on stderr and nothing on stdout. */
  async function refused(args: string[], code: string, sentence: string): Promise<void> {
    const plain: CliResult = await cli(args);
    expect(plain.code, plain.stdout).toBe(64);
    expect(plain.stderr.trim().split('\n'), plain.stderr).toHaveLength(1);
    expect(plain.stderr).toContain(sentence);
    const json = await cli([...args, '--json']);
    expect(json.code).toBe(64);
    expect(json.stdout).toBe('');
    expect(JSON.parse(json.stderr).error).toMatchObject({ code, exit: 64 });
  }

  it('refuses, in one sentence each: not self nor supervisor, unknown consultant, past or unreadable --until, a replacement who is the absent one or absent', async () => {
    const later = inHours(10);
    await refused(['absence', 'cody', '--until', later, '--as', 'tina'], 'EFORBIDDEN', "Only cody or a supervisor may set cody's absence; tina is neither.");
    await refused(['absence', 'cody', '--clear', '--as', 'pia'], 'EFORBIDDEN', "Only cody or a supervisor may clear cody's absence; pia is neither.");
    await refused(
      ['absence', 'zed', '--until', later, '--as', 'sam'],
      'EUNKNOWNCONSULTANT',
      'There is no consultant "zed" (known: sam, vera, cody, pia, tina).',
    );
    await refused(['absence', 'sam', '--until', later, '--replacement', 'zed', '--as', 'sam'], 'EUNKNOWNCONSULTANT', 'There is no consultant "zed"');
    await refused(
      ['absence', 'sam', '--until', '2020-01-01', '--as', 'sam'],
      'EBADTIME',
      'An absence ends in the future; 2020-01-01 00:00 UTC has already passed.',
    );
    await refused(
      ['absence', 'sam', '--until', 'next tuesday', '--as', 'sam'],
      'EBADTIME',
      '--until wants a time like "2026-03-01 09:30" (UTC) or ISO-8601 with a zone, not "next tuesday".',
    );
    await refused(['absence', 'sam', '--until', later, '--replacement', 'sam', '--as', 'sam'], 'EBADREPLACEMENT', 'sam cannot stand in for themself.');
    await refused(['absence', 'sam', '--until', later, '--replacement', 'cody', '--as', 'sam'], 'EBADREPLACEMENT', 'cody is absent until');
    await refused(['absence', 'sam', '--as', 'sam'], 'EUSAGE', 'Say until when with --until <time>, or end the absence with --clear.');
    await refused(
      ['absence', 'sam', '--clear', '--until', later, '--as', 'sam'],
      'EUSAGE',
      '--clear ends the absence and takes neither --until nor --replacement.',
    );
    await refused(['absence', 'sam', '--clear', '--as', 'sam'], 'ENOABSENCE', 'sam is not absent, so there is no absence to clear.');
    // Nothing of it was set.
    expect((await cliJson(['absences'], { env })).map((a: any) => a.consultant)).toEqual(['cody']);
  });

  it("a trainee's approval goes to another supervisor while hers is absent, and one already pending is sent on", async () => {
    const first = await insertCase(opened.db, { pool: 'general', subject: 'Limit question' });
    const held = await cliJson(['reply', first.id, '--as', 'tina', '-m', 'Your limit is raised.'], { env });
    expect(held).toMatchObject({ state: 'held', approver: 'sam' });

    const r = await cliJson(['absence', 'sam', '--until', inHours(24), '--replacement', 'none', '--as', 'sam'], { env });
    expect(r.approvals).toEqual([{ approval: held.approvalId, case: first.id, from: 'sam', to: 'vera' }]);
    const approvals = await cliJson(['approvals'], { env });
    expect(approvals.find((a: any) => a.id === held.approvalId)).toMatchObject({ approver: 'vera', state: 'pending' });
    const requests = await cliJson(['outbox', '--kind', 'approval_request'], { env });
    // Newest first: the request to vera, then the first one to sam.
    expect(requests.map((o: any) => [o.case, o.to])).toEqual([
      [first.id, ['vera@staff.test']],
      [first.id, ['sam@staff.test']],
    ]);

    const second = await insertCase(opened.db, { pool: 'general', subject: 'Another limit question' });
    const again = await cliJson(['reply', second.id, '--as', 'tina', '-m', 'Done.'], { env });
    expect(again).toMatchObject({ state: 'held', approver: 'vera' });
    // In-process, the same rule: sam away, vera here.
    const config = requireConfig(cfg.configPath);
    const tina = config.consultants.find((c) => c.id === 'tina')!;
    expect((await approverFor(opened.db, config, tina, nowIso())).id).toBe('vera');
  });

  it('ends by itself at --until: absences is empty, next works, notices go to the consultant again', async () => {
    const config = requireConfig(cfg.configPath);
    expect((await onDuty(opened.db, config, 'cody'))?.id).toBe('vera');
    const later = { MAILWARDEN_CLOCK_OFFSET: '+4d' };
    const listed = await runCli(['absences', '--json'], { env: { ...env, ...later } });
    expect(JSON.parse(listed.stdout)).toEqual([]);
    const text = await cli(['absences'], later);
    expect(text.stdout).toBe('Nobody is absent.\n');
    await insertCase(opened.db, { pool: 'cards', subject: 'after the holiday' });
    const taken = await runCli(['next', '--as', 'cody', '--json'], { env: { ...env, ...later } });
    expect(taken.code, taken.stderr).toBe(0);
    expect(JSON.parse(taken.stdout).case).toMatchObject({ assignee: 'cody', status: 'in_progress' });
    setClockOffset(4 * 24 * HOUR);
    expect((await onDuty(opened.db, config, 'cody'))?.id).toBe('cody');
    const tina = config.consultants.find((c) => c.id === 'tina')!;
    expect((await approverFor(opened.db, config, tina, nowIso())).id).toBe('sam');
    setClockOffset(0);
  });
});
