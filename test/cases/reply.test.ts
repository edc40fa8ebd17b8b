// `mailwarden reply` end to end: the mail the SMTP sink receives (snippets in the case's language,
// footer image as an inline related part, attachment, threading headers), and every refusal
// leaving nothing in the outbox.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, runCli } from '../support/cli';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { removeTempDir } from '../support/tmp';
import { requireConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import type { Opened } from '../../src/db/connection';
import { drainOnce } from '../../src/outbound/drainer';
import { silentLogger } from '../../src/log';
import { insertCase, openTestDb } from './fixtures';

describe('reply', () => {
  let sink: SmtpSink;
  let cfg: TestConfig;
  let config: Config;
  let opened: Opened;
  let env: Record<string, string>;
  let files: string;

  const drain = () => drainOnce({ config, db: opened.db, log: silentLogger() });
  const outboxCount = async () => (await opened.db.selectFrom('outbox').select('id').execute()).length;
  const caseRow = (id: string) => opened.db.selectFrom('cases').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  beforeAll(async () => {
    sink = await startSmtpSink();
    cfg = await writeTestConfig({ smtp: { host: sink.host, port: sink.port } });
    config = requireConfig(cfg.configPath);
    opened = await openTestDb(cfg.dataDir);
    env = { MAILWARDEN_CONFIG: cfg.configPath };
    files = path.join(cfg.dir, 'files');
    fs.mkdirSync(files);
    fs.writeFileSync(path.join(files, 'statement.pdf'), '%PDF-1.4 test statement\n');
  });
  afterAll(async () => {
    await opened?.close();
    await sink?.stop();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('sends the reply threaded, with snippets in the case language, the inline footer image and the attachment', async () => {
    const c = await insertCase(opened.db, {
      pool: 'cards',
      language: 'pl',
      subject: 'Karta nie działa',
      customer: 'jan@example.org',
      customerName: 'Jan Kowalski',
    });
    const r = await runCli(
      ['reply', c.id, '--as', 'cody', '-m', '#hello\n\nSprawdziliśmy: #cardblock', '--attach', path.join(files, 'statement.pdf'), '--json'],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      caseId: c.id,
      state: 'queued',
      status: 'in_progress',
      snippets: [
        { code: 'hello', language: 'pl' },
        { code: 'cardblock', language: 'pl' },
      ],
    });

    await drain();
    await sink.waitFor((m) => m.some((x) => x.messageId === result.messageId), 10_000, 'the reply');
    const mail = sink.messages.find((x) => x.messageId === result.messageId)!;
    expect(mail.envelope.to).toEqual(['jan@example.org']);
    expect(mail.parsed.from?.value[0]?.address).toBe('bob@example.test');
    expect(mail.parsed.subject).toBe(`[${c.id}] Re: Karta nie działa`);
    expect(mail.parsed.inReplyTo).toBe(c.messageId);
    expect(mail.parsed.references).toContain(c.messageId);
    expect(mail.parsed.text).toContain('Dzień dobry,\n\nSprawdziliśmy: Państwa karta została zablokowana.');
    expect(mail.parsed.text).not.toContain('#cardblock');
    expect(mail.parsed.text).toContain('Cody Consultant\nTest Desk, cards team');

    const raw = mail.raw.toString('latin1');
    expect(raw).toMatch(/Content-Type: multipart\/related/i);
    expect(raw).toMatch(/Content-ID: <footer-cody@mailwarden>/i);
    const footer = mail.parsed.attachments.find((a) => a.cid === 'footer-cody@mailwarden');
    expect(footer?.contentType).toBe('image/jpeg');
    expect(footer?.related).toBe(true);
    // mailparser resolves cid: references to related parts into data: URIs.
    expect(raw.replace(/=\r\n/g, '')).toContain('src=3D"cid:footer-cody@mailwarden"');
    expect(mail.parsed.html).toContain('<img src="data:image/jpeg;base64,');
    const pdf = mail.parsed.attachments.find((a) => a.filename === 'statement.pdf');
    expect(pdf?.content.toString()).toBe('%PDF-1.4 test statement\n');

    const row = await caseRow(c.id);
    expect(row).toMatchObject({ status: 'in_progress', assignee: 'cody' });
    expect(row.first_response_at).not.toBeNull();
    const uses = await opened.db.selectFrom('snippet_uses').select(['code', 'language', 'consultant']).where('case_id', '=', c.id).execute();
    expect(uses).toEqual([
      { code: 'hello', language: 'pl', consultant: 'cody' },
      { code: 'cardblock', language: 'pl', consultant: 'cody' },
    ]);

    const shown = await cliJson(['show', c.id], { env });
    const out = shown.messages.find((m: any) => m.kind === 'outbound');
    expect(out).toMatchObject({ state: 'sent', message_id: result.messageId, from: 'bob@example.test', to: ['jan@example.org'] });
    expect(out.attachments.map((a: any) => a.name)).toEqual(['statement.pdf', 'footer.jpg']);
  });

  it("falls back to the pool's first language when the snippet lacks the case's", async () => {
    const de = await insertCase(opened.db, { pool: 'cards', language: 'de' });
    const r = await cliJson(['reply', de.id, '--as', 'cody', '-m', '#hello'], { env });
    expect(r.snippets).toEqual([{ code: 'hello', language: 'pl' }]);
    const unknownLang = await insertCase(opened.db, { pool: 'general', language: null });
    const g = await cliJson(['reply', unknownLang.id, '--as', 'sam', '-m', '#hello'], { env });
    expect(g.snippets).toEqual([{ code: 'hello', language: 'en' }]);
  });

  it('refuses an unknown snippet code, naming it, and sends nothing', async () => {
    const c = await insertCase(opened.db, {});
    const before = await outboxCount();
    const r = await runCli(['reply', c.id, '--as', 'cody', '-m', 'Hello #nosuch and #hello'], { env });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('Unknown snippet code #nosuch; nothing was sent (known: #hello, #cardblock; write ##nosuch to send #nosuch as it is).');
    expect(await outboxCount()).toBe(before);
    expect((await caseRow(c.id)).status).toBe('received');
  });

  it('refuses a missing attachment before writing anything', async () => {
    const c = await insertCase(opened.db, {});
    const before = await outboxCount();
    const r = await runCli(['reply', c.id, '--as', 'cody', '-m', 'See attached', '--attach', path.join(files, 'missing.pdf')], { env });
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('missing.pdf: no such file');
    expect(await outboxCount()).toBe(before);
  });

  it('lets only the assignee or a supervisor reply on an assigned case', async () => {
    const c = await insertCase(opened.db, { status: 'in_progress', assignee: 'sam' });
    const r = await runCli(['reply', c.id, '--as', 'cody', '-m', 'Hi'], { env });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(`Case ${c.id} is assigned to sam; only they or a supervisor may reply to it.`);
    const mine = await insertCase(opened.db, { status: 'in_progress', assignee: 'cody' });
    const bySupervisor = await runCli(['reply', mine.id, '--as', 'sam', '-m', 'Hi from the supervisor'], { env });
    expect(bySupervisor.code, bySupervisor.stderr).toBe(0);
    expect((await caseRow(mine.id)).assignee).toBe('cody');
  });

  it('requires the questionnaire when closing, listing what is missing and the allowed values', async () => {
    const c = await insertCase(opened.db, { pool: 'cards', status: 'in_progress', assignee: 'cody' });
    const missing = await runCli(['reply', c.id, '--as', 'cody', '-m', 'Done', '--status', 'solved'], { env });
    expect(missing.code).toBe(65);
    expect(missing.stderr).toContain('The questionnaire "Closing a card case" is not answered correctly. Give each answer with --answer key=value:');
    expect(missing.stderr).toContain('partner: missing — Card scheme (allowed: Visa, Mastercard)');
    const wrong = await runCli(['reply', c.id, '--as', 'cody', '-m', 'Done', '--status', 'solved', '--answer', 'partner=Amex', '--answer', 'colour=red'], {
      env,
    });
    expect(wrong.code).toBe(65);
    expect(wrong.stderr).toContain('partner: "Amex" is not allowed (allowed: Visa, Mastercard)');
    expect(wrong.stderr).toContain('colour: not a question of card-closing (questions: partner, note)');
    expect((await caseRow(c.id)).status).toBe('in_progress');

    const ok = await runCli(['reply', c.id, '--as', 'cody', '-m', 'Done', '--status', 'solved', '--answer', 'partner=visa', '--answer', 'note=card found'], {
      env,
    });
    expect(ok.code, ok.stderr).toBe(0);
    const row = await caseRow(c.id);
    expect(row.status).toBe('solved');
    expect(row.closed_at).not.toBeNull();
    const answers = await opened.db
      .selectFrom('questionnaire_answers')
      .select(['key', 'value', 'answered_by'])
      .where('case_id', '=', c.id)
      .orderBy('key')
      .execute();
    expect(answers).toEqual([
      { key: 'note', value: 'card found', answered_by: 'cody' },
      { key: 'partner', value: 'Visa', answered_by: 'cody' },
    ]);
  });

  it('refuses invalid status moves, listing the allowed ones', async () => {
    const c = await insertCase(opened.db, { pool: 'general', status: 'under_consultation', assignee: 'cody' });
    const r = await runCli(['reply', c.id, '--as', 'cody', '-m', 'x', '--status', 'solved'], { env });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(`Case ${c.id} is under_consultation and cannot become solved (allowed from under_consultation: in_progress).`);
    const bad = await runCli(['reply', c.id, '--as', 'cody', '-m', 'x', '--status', 'archived'], { env });
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('A reply sets the status to one of in_progress, postponed, solved, closed, not "archived".');
  });

  it('postpones only with a future --remind-at, read in the instance time zone', async () => {
    const c = await insertCase(opened.db, { pool: 'general', status: 'in_progress', assignee: 'cody' });
    const none = await runCli(['reply', c.id, '--as', 'cody', '-m', 'Later', '--status', 'postponed'], { env });
    expect(none.code).toBe(64);
    expect(none.stderr).toContain('A postponed case needs the time it comes back. Give it with --remind-at <time>.');
    const past = await runCli(['reply', c.id, '--as', 'cody', '-m', 'Later', '--status', 'postponed', '--remind-at', '2020-01-01 10:00'], { env });
    expect(past.code).toBe(64);
    expect(past.stderr).toContain('is in the past');
    const garbled = await runCli(['reply', c.id, '--as', 'cody', '-m', 'Later', '--status', 'postponed', '--remind-at', 'tomorrow-ish'], { env });
    expect(garbled.code).toBe(64);
    expect(garbled.stderr).toContain('--remind-at wants a time like "2026-03-01 09:30" (UTC)');
    const stray = await runCli(['reply', c.id, '--as', 'cody', '-m', 'x', '--remind-at', '2099-01-01 10:00'], { env });
    expect(stray.code).toBe(64);
    expect(stray.stderr).toContain('A reminder time only goes with postponing the case. Add --status postponed, or leave out --remind-at.');
    // The same refusal under --json: one object on stderr with its stable code.
    const strayJson = await runCli(['reply', c.id, '--as', 'cody', '-m', 'x', '--remind-at', '2099-01-01 10:00', '--json'], { env });
    expect(strayJson.code).toBe(64);
    expect(JSON.parse(strayJson.stderr)).toEqual({
      error: { code: 'EBADREMIND', message: 'A reminder time only goes with postponing the case. Add --status postponed, or leave out --remind-at.', exit: 64 },
    });

    const ok = await runCli(['reply', c.id, '--as', 'cody', '-m', 'Later', '--status', 'postponed', '--remind-at', '2099-01-02 09:30'], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(await caseRow(c.id)).toMatchObject({ status: 'postponed', remind_at: '2099-01-02T09:30:00.000Z' });
  });

  it('takes the text from --file', async () => {
    const c = await insertCase(opened.db, { pool: 'general', language: 'en' });
    fs.writeFileSync(path.join(files, 'answer.txt'), '#hello\nHere is the answer from a file.\n');
    const r = await cliJson(['reply', c.id, '--as', 'sam', '--file', path.join(files, 'answer.txt')], { env });
    const msg = await opened.db.selectFrom('messages').select('text').where('message_id', '=', r.messageId).executeTakeFirstOrThrow();
    expect(msg.text).toContain('Hello,\nHere is the answer from a file.');
  });

  it('opens $EDITOR with the thread quoted as comments and sends only what was written', async () => {
    const c = await insertCase(opened.db, { pool: 'general', text: 'Where is my parcel?\n#notasnippet in the thread' });
    const seen = path.join(files, 'editor-saw.txt');
    const editor = path.join(files, 'editor.sh');
    fs.writeFileSync(editor, `#!/bin/sh\ncp "$1" "${seen}"\n{ printf 'Your parcel is on its way.\\n#hello\\n'; cat "${seen}"; } > "$1"\n`, { mode: 0o755 });
    const r = await runCli(['reply', c.id, '--as', 'sam', '--json'], { env: { ...env, EDITOR: editor, VISUAL: '' } });
    expect(r.code, r.stderr).toBe(0);
    const template = fs.readFileSync(seen, 'utf8');
    expect(template).toContain('# Where is my parcel?');
    expect(template).toContain('# #notasnippet in the thread');
    const msg = await opened.db.selectFrom('messages').select('text').where('message_id', '=', JSON.parse(r.stdout).messageId).executeTakeFirstOrThrow();
    expect(msg.text.startsWith('Your parcel is on its way.\nHello,\n')).toBe(true);
    expect(msg.text).not.toContain('parcel?');
  });

  it('aborts when the editor leaves the reply empty', async () => {
    const c = await insertCase(opened.db, { pool: 'general' });
    const before = await outboxCount();
    const r = await runCli(['reply', c.id, '--as', 'sam'], { env: { ...env, EDITOR: 'true', VISUAL: '' } });
    expect(r.code).toBe(64);
    expect(r.stderr).toBe('mailwarden: Aborting the reply: the message is empty.\n');
    expect(await outboxCount()).toBe(before);
  });

  it('opens $EDITOR also when the command runs from the code V8 kept in an earlier run', async () => {
    // The editor is started by a built-in loaded only then (src/cli/commands/reply.ts): the second
    // run, from kept code (src/cli/code-cache.ts), must load it as the first did.
    const c = await insertCase(opened.db, { pool: 'general' });
    const kept = { ...env, EDITOR: 'true', VISUAL: '', MAILWARDEN_CACHE_DIR: path.join(files, 'kept-code') };
    for (const run of ['first', 'second']) {
      const r = await runCli(['reply', c.id, '--as', 'sam'], { env: kept });
      expect([run, r.code, r.stderr]).toEqual([run, 64, 'mailwarden: Aborting the reply: the message is empty.\n']);
    }
    expect(fs.readdirSync(path.join(files, 'kept-code')).some((n) => n.startsWith('code-'))).toBe(true);
  });

  it("holds a trainee's reply for the supervisor's approval; nothing reaches the customer", async () => {
    const c = await insertCase(opened.db, { pool: 'general', customer: 'held@example.org' });
    const r = await runCli(['reply', c.id, '--as', 'tina', '-m', 'Trainee answer', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.state).toBe('held');
    const approval = await opened.db.selectFrom('approvals').selectAll().where('id', '=', result.approvalId).executeTakeFirstOrThrow();
    expect(approval).toMatchObject({ case_id: c.id, outbox_id: result.outboxId, trainee: 'tina', supervisor: 'sam', state: 'pending' });
    await drain();
    expect(sink.messages.some((m) => m.envelope.to.includes('held@example.org'))).toBe(false);
    const row = await caseRow(c.id);
    expect(row.first_response_at).toBeNull();
    expect(row.assignee).toBe('tina');
  });
});
