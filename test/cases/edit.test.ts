// comment, assign, priority, label, customer and snippets: happy paths and refusals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, runCli } from '../support/cli';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { removeTempDir } from '../support/tmp';
import { requireConfig } from '../../src/config/load';
import { writeTx, type Opened } from '../../src/db/connection';
import { changeLabels, parseLabelChanges } from '../../src/cases/edit';
import { drainOnce } from '../../src/outbound/drainer';
import { silentLogger } from '../../src/log';
import { addMs, nowIso } from '../../src/clock';
import { insertCase, openTestDb } from './fixtures';

describe('staff actions on a case', () => {
  let sink: SmtpSink;
  let cfg: TestConfig;
  let opened: Opened;
  let env: Record<string, string>;
  const caseRow = (id: string) => opened.db.selectFrom('cases').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  beforeAll(async () => {
    sink = await startSmtpSink();
    cfg = await writeTestConfig({ smtp: { host: sink.host, port: sink.port } });
    opened = await openTestDb(cfg.dataDir);
    env = { MAILWARDEN_CONFIG: cfg.configPath };
  });
  afterAll(async () => {
    await opened?.close();
    await sink?.stop();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('keeps a comment internal: shown as a comment, never in the outbox, never at the sink', async () => {
    const c = await insertCase(opened.db, { customer: 'nosy@example.org' });
    const r = await runCli(['comment', c.id, '--as', 'cody', '-m', 'Internal: customer is a VIP, SECRET-NOTE'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`Comment added to ${c.id} (internal, not mailed).\n`);
    await drainOnce({ config: requireConfig(cfg.configPath), db: opened.db, log: silentLogger() });
    expect(sink.messages.some((m) => m.raw.toString().includes('SECRET-NOTE'))).toBe(false);
    expect(await opened.db.selectFrom('outbox').select('id').where('case_id', '=', c.id).execute()).toEqual([]);
    const d = await cliJson(['show', c.id], { env });
    expect(d.messages[1]).toMatchObject({
      kind: 'comment',
      from: 'cody@staff.test',
      text: 'Internal: customer is a VIP, SECRET-NOTE',
      state: null,
      message_id: null,
    });
    expect(d.history.at(-1)).toMatchObject({ actor: 'cody', kind: 'comment' });
    const text = await runCli(['show', c.id], { env });
    expect(text.stdout).toContain('internal comment by Cody Consultant  cody@staff.test');
  });

  it('refuses an empty comment', async () => {
    const c = await insertCase(opened.db, {});
    const r = await runCli(['comment', c.id, '--as', 'cody', '-m', '   '], { env });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('The comment is empty');
    const none = await runCli(['comment', c.id, '--as', 'cody'], { env });
    expect(none.code).toBe(64);
  });

  it('assigns: a supervisor to anyone, the waiting case becomes in_progress, with history', async () => {
    const c = await insertCase(opened.db, {});
    const r = await runCli(['assign', c.id, 'cody', '--as', 'sam'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(await caseRow(c.id)).toMatchObject({ assignee: 'cody', status: 'in_progress' });
    const d = await cliJson(['show', c.id], { env });
    expect(d.history.filter((h: any) => h.field).map((h: any) => [h.actor, h.field, h.from, h.to])).toEqual([
      ['sam', 'status', 'received', 'in_progress'],
      ['sam', 'assignee', null, 'cody'],
    ]);
  });

  it("refuses to let a consultant reassign someone else's case, or assign to an unknown consultant", async () => {
    const c = await insertCase(opened.db, { status: 'in_progress', assignee: 'sam' });
    const r = await runCli(['assign', c.id, 'cody', '--as', 'cody'], { env });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(`Case ${c.id} is assigned to sam; only they or a supervisor may reassign it.`);
    const u = await runCli(['assign', c.id, 'ghost', '--as', 'sam'], { env });
    expect(u.code).toBe(64);
    expect(u.stderr).toContain('There is no consultant "ghost" (known: sam, cody, tina).');
    expect((await caseRow(c.id)).assignee).toBe('sam');
  });

  it('sets the priority, and refuses an unknown one listing the allowed values', async () => {
    const c = await insertCase(opened.db, {});
    const r = await runCli(['priority', c.id, 'urgent', '--as', 'cody'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect((await caseRow(c.id)).priority).toBe('urgent');
    const bad = await runCli(['priority', c.id, 'asap', '--as', 'cody'], { env });
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('Unknown priority "asap" (allowed: low, normal, high, urgent).');
    const notMine = await runCli(['priority', c.id, 'low', '--as', 'tina'], { env });
    expect(notMine.code).toBe(64);
    expect(notMine.stderr).toContain('tina does not work pool cards');
  });

  it('adds and removes labels, each once per case', async () => {
    const c = await insertCase(opened.db, {});
    const add = await cliJson(['label', c.id, '+vip', '+spam', 'vip', '--as', 'cody'], { env });
    expect(add.labels).toEqual(['spam', 'vip']);
    const remove = await cliJson(['label', c.id, '-spam', '+vip', '--as', 'cody'], { env });
    expect(remove.labels).toEqual(['vip']);
    const listed = await cliJson(['cases', '--pool', 'cards'], { env });
    expect(listed.find((x: any) => x.id === c.id).labels).toEqual(['vip']);
    const events = await opened.db
      .selectFrom('case_events')
      .select(['field', 'from_value', 'to_value'])
      .where('case_id', '=', c.id)
      .where('kind', '=', 'label')
      .execute();
    expect(events).toEqual([
      { field: 'label', from_value: null, to_value: 'vip' },
      { field: 'label', from_value: null, to_value: 'spam' },
      { field: 'label', from_value: 'spam', to_value: null },
    ]);
  });

  it('keeps labels unique ignoring case: +Vip on a vip case changes nothing, -VIP removes it (in-process)', async () => {
    const c = await insertCase(opened.db, {});
    const config = requireConfig(cfg.configPath);
    const cody = config.consultants.find((x) => x.id === 'cody')!;
    const change = (args: string[]) => writeTx(opened.db, (tx) => changeLabels(tx, cody, c.id, parseLabelChanges(args)));
    expect((await change(['+vip'])).labels).toEqual(['vip']);
    expect((await change(['+Vip', '+VIP'])).labels).toEqual(['vip']);
    expect((await change(['-VIP'])).labels).toEqual([]);
    const events = await opened.db
      .selectFrom('case_events')
      .select(['from_value', 'to_value'])
      .where('case_id', '=', c.id)
      .where('kind', '=', 'label')
      .execute();
    expect(events).toEqual([
      { from_value: null, to_value: 'vip' },
      { from_value: 'vip', to_value: null },
    ]);
    // The database holds the rule too, for writers that race past the domain check.
    await opened.db.insertInto('case_labels').values({ case_id: c.id, label: 'spam' }).execute();
    await expect(opened.db.insertInto('case_labels').values({ case_id: c.id, label: 'SPAM' }).execute()).rejects.toThrow(/UNIQUE|unique constraint/);
  });

  it('refuses a label longer than 50 characters', async () => {
    const c = await insertCase(opened.db, {});
    const r = await runCli(['label', c.id, '+' + 'x'.repeat(51), '--as', 'cody'], { env });
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('is 51 characters long; at most 50 are allowed.');
    const ok = await cliJson(['label', c.id, '+' + 'y'.repeat(50), '--as', 'cody'], { env });
    expect(ok.labels).toEqual(['y'.repeat(50)]);
  });

  it("lists a customer's cases newest first", async () => {
    const older = await insertCase(opened.db, { customer: 'Repeat@Example.org', receivedAt: addMs(nowIso(), -86_400_000) });
    const newer = await insertCase(opened.db, { customer: 'repeat@example.org' });
    await insertCase(opened.db, { customer: 'someone-else@example.org' });
    const list = await cliJson(['customer', 'repeat@example.org'], { env });
    expect(list.cases.map((c: any) => c.id)).toEqual([newer.id, older.id]);
    expect(list.customer).toMatchObject({ address: 'repeat@example.org', recorded: false });
    const text = await runCli(['customer', 'repeat@example.org'], { env });
    expect(text.stdout).toContain('2 case(s) from repeat@example.org, newest first:');
    const none = await runCli(['customer', 'nobody@example.org'], { env });
    expect(none.stdout).toBe('No cases from nobody@example.org.\n');
  });

  it('prints the snippet tree with codes and languages', async () => {
    const tree = await cliJson(['snippets'], { env });
    expect(tree).toEqual([
      {
        title: 'Greetings',
        children: [
          { title: 'Opening', code: 'hello', languages: ['en', 'pl'], text: { en: 'Hello,', pl: 'Dzień dobry,' } },
          {
            title: 'Card blocked',
            code: 'cardblock',
            languages: ['en', 'pl'],
            text: { en: 'Your card has been blocked.', pl: 'Państwa karta została zablokowana.' },
          },
        ],
      },
    ]);
    const text = await runCli(['snippets'], { env });
    expect(text.stdout).toContain('Greetings/\n  #hello  Opening  [en, pl]  Hello,');
  });
});
