// `mailwarden cases` and `mailwarden show`: the §7 JSON shapes, filters, overdue marks, presence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, runCli } from '../support/cli';
import { removeTempDir } from '../support/tmp';
import { addMs, nowIso } from '../../src/clock';
import type { Opened } from '../../src/db/connection';
import { insertCase, openTestDb } from './fixtures';

describe('cases and show', () => {
  let cfg: TestConfig;
  let opened: Opened;
  let env: Record<string, string>;
  let fresh: string;
  let late: string;
  let general: string;

  beforeAll(async () => {
    cfg = await writeTestConfig();
    opened = await openTestDb(cfg.dataDir);
    env = { MAILWARDEN_CONFIG: cfg.configPath };
    late = (await insertCase(opened.db, { subject: 'Late one', receivedAt: addMs(nowIso(), -10 * 3600_000), deadlineMs: 4 * 3600_000 })).id;
    fresh = (
      await insertCase(opened.db, {
        subject: 'Fresh one',
        attachments: [{ filename: 'statement.pdf', contentType: 'application/pdf', size: 2048 }],
      })
    ).id;
    general = (await insertCase(opened.db, { pool: 'general', subject: 'General one', assignee: 'sam', status: 'in_progress' })).id;
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('lists every case as the §7 case object, oldest first', async () => {
    const cases = await cliJson(['cases'], { env });
    expect(cases.map((c: any) => c.id)).toEqual([late, fresh, general]);
    expect(Object.keys(cases[0]).sort()).toEqual(
      [
        'id',
        'status',
        'pool',
        'mailbox',
        'priority',
        'subject',
        'customer',
        'language',
        'assignee',
        'received_at',
        'deadline_at',
        'overdue',
        'flags',
        'labels',
        'consultation',
      ].sort(),
    );
    expect(cases[0]).toMatchObject({
      status: 'received',
      pool: 'cards',
      mailbox: 'cards',
      priority: 'normal',
      customer: { address: 'customer@example.org', name: 'Carla Customer' },
      overdue: true,
      flags: [],
      labels: [],
      consultation: null,
    });
    expect(cases[1].overdue).toBe(false);
  });

  it('filters by status, pool, assignee and overdue', async () => {
    expect((await cliJson(['cases', '--status', 'in_progress'], { env })).map((c: any) => c.id)).toEqual([general]);
    expect((await cliJson(['cases', '--pool', 'cards'], { env })).map((c: any) => c.id)).toEqual([late, fresh]);
    expect((await cliJson(['cases', '--assignee', 'sam'], { env })).map((c: any) => c.id)).toEqual([general]);
    expect((await cliJson(['cases', '--assignee', 'none'], { env })).map((c: any) => c.id)).toEqual([late, fresh]);
    expect((await cliJson(['cases', '--overdue'], { env })).map((c: any) => c.id)).toEqual([late]);
  });

  it('marks overdue cases in the table with an icon, not only colour', async () => {
    const r = await runCli(['cases'], { env });
    expect(r.code).toBe(0);
    const lateLine = r.stdout.split('\n').find((l) => l.startsWith(late))!;
    const freshLine = r.stdout.split('\n').find((l) => l.startsWith(fresh))!;
    expect(lateLine).toContain('⚠ OVERDUE');
    expect(freshLine).not.toContain('OVERDUE');
    expect(r.stdout).not.toContain('\u001b[');
  });

  it('refuses an unknown status or pool, listing the allowed ones', async () => {
    const r = await runCli(['cases', '--status', 'open'], { env });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('allowed: received, in_progress, under_consultation, postponed, solved, closed');
    const p = await runCli(['cases', '--pool', 'nope'], { env });
    expect(p.code).toBe(64);
    expect(p.stderr).toContain('known: general, cards');
  });

  it('shows the thread with attachments and history as JSON', async () => {
    const d = await cliJson(['show', fresh], { env });
    expect(d.case.id).toBe(fresh);
    expect(d.messages).toHaveLength(1);
    expect(d.messages[0]).toMatchObject({
      kind: 'inbound',
      from: 'customer@example.org',
      subject: 'Fresh one',
      state: null,
      attachments: [{ name: 'statement.pdf', type: 'application/pdf', size: 2048 }],
    });
    expect(d.history[0]).toMatchObject({ actor: 'customer', kind: 'created', to: 'received' });
    expect(d.viewers).toEqual([]);
  });

  it('records presence: a second consultant sees who else is looking', async () => {
    await cliJson(['show', fresh, '--as', 'cody'], { env });
    const seenBySam = await cliJson(['show', fresh, '--as', 'sam'], { env });
    expect(seenBySam.viewers.map((v: any) => v.consultant)).toEqual(['cody']);
    const text = await runCli(['show', fresh], { env: { ...env, MAILWARDEN_AS: 'cody' } });
    expect(text.stdout).toContain('Also looking at it: sam');
    expect(text.stdout).toContain('customer  customer@example.org');
    expect(text.stdout).toContain('📎 statement.pdf (application/pdf, 2.0 KB)');
  });

  it('leaves viewers out after the presence window (5 minutes)', async () => {
    const later = await cliJson(['show', fresh, '--as', 'sam'], { env: { ...env, MAILWARDEN_CLOCK_OFFSET: '+6m' } });
    expect(later.viewers).toEqual([]);
  });

  it('refuses an unknown case and an unknown consultant', async () => {
    const r = await runCli(['show', 'TEST-999999'], { env });
    expect(r.code).toBe(64);
    expect(r.stderr).toBe('mailwarden: There is no case TEST-999999.\n');
    const a = await runCli(['show', fresh, '--as', 'nobody'], { env });
    expect(a.code).toBe(64);
    expect(a.stderr).toContain('There is no consultant "nobody" (known: sam, cody, tina).');
  });
});
