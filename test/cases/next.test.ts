// `mailwarden next`: FIFO order (pool priority, case priority, age), the empty queue, and the
// race of 8 processes taking cases at the same instant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, runCli } from '../support/cli';
import { removeTempDir } from '../support/tmp';
import { addMs, nowIso } from '../../src/clock';
import type { Opened } from '../../src/db/connection';
import { insertCase, openTestDb } from './fixtures';

const minutesAgo = (m: number) => addMs(nowIso(), -m * 60_000);

describe('next: FIFO retrieval', () => {
  let cfg: TestConfig;
  let opened: Opened;
  let env: Record<string, string>;

  beforeAll(async () => {
    cfg = await writeTestConfig();
    opened = await openTestDb(cfg.dataDir);
    env = { MAILWARDEN_CONFIG: cfg.configPath };
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('takes the highest-priority pool first, urgent/high before normal/low, then the oldest', async () => {
    // cody works cards (priority 1) then general (priority 2).
    const generalOld = await insertCase(opened.db, { pool: 'general', receivedAt: minutesAgo(500), subject: 'general old' });
    const cardsLow = await insertCase(opened.db, { pool: 'cards', receivedAt: minutesAgo(400), priority: 'low', subject: 'cards low' });
    const cardsNormalNew = await insertCase(opened.db, { pool: 'cards', receivedAt: minutesAgo(10), subject: 'cards normal new' });
    const cardsNormalOld = await insertCase(opened.db, { pool: 'cards', receivedAt: minutesAgo(300), subject: 'cards normal old' });
    const cardsHigh = await insertCase(opened.db, { pool: 'cards', receivedAt: minutesAgo(5), priority: 'high', subject: 'cards high' });
    const cardsUrgent = await insertCase(opened.db, { pool: 'cards', receivedAt: minutesAgo(1), priority: 'urgent', subject: 'cards urgent' });
    await insertCase(opened.db, { pool: 'cards', receivedAt: minutesAgo(900), assignee: 'sam', status: 'in_progress', subject: 'already taken' });

    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      const d = await cliJson(['next', '--as', 'cody'], { env });
      order.push(d.case.id);
      expect(d.case).toMatchObject({ status: 'in_progress', assignee: 'cody' });
    }
    expect(order).toEqual([cardsUrgent.id, cardsHigh.id, cardsNormalOld.id, cardsNormalNew.id, cardsLow.id, generalOld.id]);
  });

  it('records the take in the history and prints the case as show does', async () => {
    const c = await insertCase(opened.db, { pool: 'general', subject: 'Printer question', text: 'Is the printer supported?' });
    const r = await runCli(['next'], { env: { ...env, MAILWARDEN_AS: 'tina' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(c.id);
    expect(r.stdout).toContain('Is the printer supported?');
    expect(r.stdout).toContain('status: received → in_progress');
    const d = await cliJson(['show', c.id], { env });
    // The README's promise: `next --json` prints what `show --json` prints for that case.
    const again = await insertCase(opened.db, { pool: 'general', subject: 'Second question' });
    const taken = await cliJson(['next', '--as', 'tina'], { env });
    expect(taken.case.id).toBe(again.id);
    expect(taken).toEqual(await cliJson(['show', again.id, '--as', 'tina'], { env }));
    expect(d.history.filter((h: any) => h.field).map((h: any) => [h.actor, h.field, h.from, h.to])).toEqual([
      ['tina', 'status', 'received', 'in_progress'],
      ['tina', 'assignee', null, 'tina'],
    ]);
  });

  it('says so and exits 0 when nothing is waiting (null with --json)', async () => {
    const r = await runCli(['next', '--as', 'tina'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Nothing is waiting in your pools (general).\n');
    const j = await runCli(['next', '--as', 'tina', '--json'], { env });
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toBeNull();
  });

  it('refuses to run without a consultant, or with an unknown one, naming the known ones', async () => {
    const none = await runCli(['next'], { env: { ...env, MAILWARDEN_AS: '' } });
    expect(none.code).toBe(64);
    expect(none.stderr).toContain('No consultant was named (known: sam, cody, tina). Say who acts with --as <consultant> or MAILWARDEN_AS.');
    const unknown = await runCli(['next', '--as', 'zed'], { env });
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain('There is no consultant "zed" (known: sam, cody, tina).');
  });
});

describe('next: 8 processes at the same instant', () => {
  const consultants = Array.from({ length: 8 }, (_, i) => `c${i + 1}`);
  let cfg: TestConfig;
  let opened: Opened;

  beforeAll(async () => {
    cfg = await writeTestConfig({
      overrides: {
        consultants: consultants
          .map((id) => ({ id, name: `Consultant ${id}`, email: `${id}@staff.test`, roles: ['consultant'], pools: [{ pool: 'cards', priority: 1 }] }))
          .concat([
            { id: 'sam', name: 'Sam Supervisor', email: 'sam@staff.test', roles: ['consultant', 'supervisor'], pools: [{ pool: 'general', priority: 1 }] },
          ]),
      },
    });
    opened = await openTestDb(cfg.dataDir);
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  const nextProcess = (as: string) => runCli(['next', '--as', as, '--json'], { env: { MAILWARDEN_CONFIG: cfg.configPath } });

  it('never gives the same case to two consultants (12 rounds, fewer and more cases than takers)', async () => {
    let taken = 0;
    for (let round = 0; round < 12; round++) {
      // Odd rounds: 5 cases for 8 takers (3 must get null); even rounds: 11 cases (3 left waiting).
      const waiting = round % 2 ? 5 : 11;
      const before = (await opened.db.selectFrom('cases').select('id').where('status', '=', 'received').execute()).length;
      for (let i = 0; i < waiting - before; i++) await insertCase(opened.db, { pool: 'cards', receivedAt: addMs(nowIso(), -i * 1000) });

      const results = await Promise.all(consultants.map((c) => nextProcess(c)));
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      const got = results.map((r, i) => ({ consultant: consultants[i]!, detail: JSON.parse(r.stdout) }));
      const ids = got.filter((g) => g.detail !== null).map((g) => g.detail.case.id as string);
      expect(new Set(ids).size, `round ${round}: duplicate assignment in ${ids.join(', ')}`).toBe(ids.length);
      expect(ids.length).toBe(Math.min(waiting, 8));
      for (const g of got.filter((x) => x.detail !== null)) {
        const row = await opened.db.selectFrom('cases').select(['assignee', 'status']).where('id', '=', g.detail.case.id).executeTakeFirstOrThrow();
        expect(row).toEqual({ assignee: g.consultant, status: 'in_progress' });
      }
      taken += ids.length;
    }
    // Every take wrote exactly one assignee history row: no case was taken twice, even silently.
    const assigneeEvents = await opened.db.selectFrom('case_events').select(['case_id']).where('field', '=', 'assignee').execute();
    expect(assigneeEvents.length).toBe(taken);
    expect(new Set(assigneeEvents.map((e) => e.case_id)).size).toBe(taken);
  }, 600_000);
});
