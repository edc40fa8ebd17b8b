// `edit --title/--description` and the questionnaire rule of `status` (SPEC §5). Why here, without
// a mail server: both are case rules decided in the database. The title and description are
// limited to 2000 characters and every change is in the history; `status` closing a case in a
// pool with a questionnaire refuses a missing answer with the allowed values, like a reply does.
// (Labels: 50 characters and unique ignoring case are tested in test/cases/edit.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, runCli } from '../support/cli';
import { removeTempDir } from '../support/tmp';
import type { Opened } from '../../src/db/connection';
import { insertCase, openTestDb } from './fixtures';

let cfg: TestConfig;
let opened: Opened;
let env: Record<string, string>;

beforeAll(async () => {
  cfg = await writeTestConfig({});
  opened = await openTestDb(cfg.dataDir);
  env = { MAILWARDEN_CONFIG: cfg.configPath };
});
afterAll(async () => {
  await opened?.close();
  if (cfg) await removeTempDir(cfg.dir);
});

const events = (id: string) =>
  opened.db
    .selectFrom('case_events')
    .select(['actor', 'field', 'from_value', 'to_value'])
    .where('case_id', '=', id)
    .where('field', 'in', ['title', 'description'])
    .orderBy('id')
    .execute();

describe('edit --title --description', () => {
  it('sets, changes and clears them, each change in the history with who', async () => {
    const c = await insertCase(opened.db, { status: 'in_progress', assignee: 'cody' });
    const set = await cliJson(['edit', c.id, '--title', 'Card blocked abroad', '--description', 'Blocked in Lisbon.\nNew card sent.', '--as', 'cody'], { env });
    expect(set).toEqual({ caseId: c.id, title: 'Card blocked abroad', description: 'Blocked in Lisbon.\nNew card sent.', changed: ['title', 'description'] });
    const again = await runCli(['edit', c.id, '--title', 'Card blocked abroad', '--as', 'cody'], { env });
    expect(again.stdout).toBe(`Case ${c.id}: nothing changed.\n`);
    const cleared = await cliJson(['edit', c.id, '--description', '', '--as', 'sam'], { env });
    expect(cleared).toEqual({ caseId: c.id, title: 'Card blocked abroad', description: null, changed: ['description'] });
    expect(await events(c.id)).toEqual([
      { actor: 'cody', field: 'title', from_value: null, to_value: 'Card blocked abroad' },
      { actor: 'cody', field: 'description', from_value: null, to_value: 'Blocked in Lisbon.\nNew card sent.' },
      { actor: 'sam', field: 'description', from_value: 'Blocked in Lisbon.\nNew card sent.', to_value: null },
    ]);
  });

  it('accepts 2000 characters and refuses 2001 in one sentence, changing nothing', async () => {
    const c = await insertCase(opened.db, { status: 'in_progress', assignee: 'cody' });
    const ok = await cliJson(['edit', c.id, '--description', 'ż'.repeat(2000), '--as', 'cody'], { env });
    expect([...ok.description].length).toBe(2000);
    const long = await runCli(['edit', c.id, '--title', 'x'.repeat(2001), '--as', 'cody', '--json'], { env });
    expect(long.code).toBe(64);
    expect(JSON.parse(long.stderr.trim()).error).toMatchObject({ code: 'ETOOLONG', message: 'The title is 2001 characters long; at most 2000 are allowed.' });
    const text = await runCli(['edit', c.id, '--description', 'y'.repeat(2500), '--as', 'cody'], { env });
    expect(text.code).toBe(64);
    expect(text.stderr).toBe('mailwarden: The description is 2500 characters long; at most 2000 are allowed.\n');
    expect((await events(c.id)).map((e) => e.field)).toEqual(['description']);
  });

  it('refuses an edit naming nothing, and one by a consultant the case is not assigned to', async () => {
    const c = await insertCase(opened.db, { status: 'in_progress', assignee: 'sam' });
    const none = await runCli(['edit', c.id, '--as', 'cody'], { env });
    expect(none.code).toBe(64);
    expect(none.stderr).toBe('mailwarden: Name what to change with --title or --description.\n');
    const other = await runCli(['edit', c.id, '--title', 'Mine', '--as', 'cody'], { env });
    expect(other.code).toBe(64);
    expect(other.stderr).toBe(`mailwarden: Case ${c.id} is assigned to sam; only they or a supervisor may edit it.\n`);
    expect(await events(c.id)).toEqual([]);
  });
});

describe('status and the questionnaire', () => {
  it('refuses to close without the answer, listing the allowed values; closes with it and stores it', async () => {
    const c = await insertCase(opened.db, { pool: 'cards', status: 'in_progress', assignee: 'cody' });
    const missing = await runCli(['status', c.id, 'solved', '--as', 'cody'], { env });
    expect(missing.code).toBe(65);
    expect(missing.stderr).toContain('The questionnaire "Closing a card case" is not answered correctly.');
    expect(missing.stderr).toContain('partner: missing — Card scheme (allowed: Visa, Mastercard)');
    const wrong = await runCli(['status', c.id, 'solved', '--as', 'cody', '--answer', 'partner=Amex', '--json'], { env });
    expect(JSON.parse(wrong.stderr.trim()).error.code).toBe('EQUESTIONNAIRE');
    const row = () => opened.db.selectFrom('cases').select(['status']).where('id', '=', c.id).executeTakeFirstOrThrow();
    expect((await row()).status).toBe('in_progress');
    const done = await cliJson(['status', c.id, 'solved', '--as', 'cody', '--answer', 'partner=visa'], { env });
    expect(done).toEqual({ caseId: c.id, from: 'in_progress', status: 'solved', reason: null });
    expect(await opened.db.selectFrom('questionnaire_answers').select(['key', 'value', 'answered_by']).where('case_id', '=', c.id).execute()).toEqual([
      { key: 'partner', value: 'Visa', answered_by: 'cody' },
    ]);
  });

  it('refuses a status a consultant cannot set and a postponement without a time', async () => {
    const c = await insertCase(opened.db, { status: 'in_progress', assignee: 'cody' });
    const bad = await runCli(['status', c.id, 'archived', '--as', 'cody'], { env });
    expect(bad.code).toBe(64);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const noTime = await runCli(['status', c.id, 'postponed', '--as', 'cody'], { env });
    expect(noTime.code).toBe(64);
    expect(noTime.stderr).toBe('mailwarden: A postponed case needs the time it comes back. Give it with --remind-at <time>.\n');
  });
});
