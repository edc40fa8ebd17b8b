// The customer record (SPEC §5 "Customer"): `customer <address> --set field=value` edits it,
// refusing unknown fields and values over 2000 characters with one sentence; every change is kept
// append-only (who, when, from, to) and shown with the record. Plus the refusals of the GDPR
// actions that need no mail: a consultant may not erase, an address with nothing held is said so,
// an export never overwrites a file. (test/cases/gdpr.test.ts does export and erasure with real mail.)
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, runCli } from '../support/cli';
import { removeTempDir } from '../support/tmp';
import type { Opened } from '../../src/db/connection';
import { rawPath, storeRaw } from '../../src/db/stored-files';
import { dumpDatabase, findInDump } from './gdpr-helpers';
import { insertCase, openTestDb } from './fixtures';

describe('the customer record', () => {
  let cfg: TestConfig;
  let opened: Opened;
  let env: Record<string, string>;
  const cli = (args: string[]) => runCli(args, { env });
  const json = (args: string[]) => cliJson(args, { env });

  beforeAll(async () => {
    cfg = await writeTestConfig();
    opened = await openTestDb(cfg.dataDir);
    env = { MAILWARDEN_CONFIG: cfg.configPath };
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('refuses an edit of a record someone else changed since it was viewed, naming the change; --force goes ahead', async () => {
    const address = 'nina.berg@example.org';
    await json(['customer', address, '--set', 'name=Nina Berg', '--as', 'sam']);
    // cody looks at the record; then sam changes the phone.
    await json(['customer', address, '--as', 'cody']);
    await json(['customer', address, '--set', 'phone=+47 400 00 001', '--as', 'sam']);
    const refused = await cli(['customer', address, '--set', 'phone=+47 400 00 002', '--as', 'cody']);
    expect(refused.code).toBe(64);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    for (const part of ['The record of nina.berg@example.org changed since you last viewed it at ', ': sam changed phone at ', 'or use --force.']) {
      expect(refused.stderr).toContain(part);
    }
    const unchanged = await json(['customer', address]);
    expect(unchanged.customer.phone).toBe('+47 400 00 001');
    // Looking again clears it; so does --force (cody's view is set back to before every change).
    await json(['customer', address, '--as', 'cody']);
    expect((await json(['customer', address, '--set', 'notes=Calls after 5pm', '--as', 'cody'])).changed).toEqual(['notes']);
    await opened.db
      .updateTable('customer_views')
      .set({ at: '2000-01-01T00:00:00.000Z' })
      .where('address', '=', address)
      .where('consultant', '=', 'cody')
      .execute();
    expect((await json(['customer', address, '--set', 'phone=+47 400 00 002', '--force', '--as', 'cody'])).changed).toEqual(['phone']);
  });

  it('sets fields, records each change append-only with who, when, from and to, and shows the record with the cases (fails on a lost change)', async () => {
    const c = await insertCase(opened.db, { customer: 'Maria.Lopez@example.org' });
    const first = await json(['customer', 'maria.lopez@example.org', '--set', 'name=Maria Lopez', '--set', 'phone=+34 600 000 001', '--as', 'cody']);
    expect(first.changed).toEqual(['name', 'phone']);
    const second = await runCli(
      ['customer', 'MARIA.LOPEZ@example.org', '--set', 'phone=+34 600 000 002', '--set', 'organisation=Lopez SL', '--set', 'name=Maria Lopez', '--as', 'sam'],
      {
        env,
      },
    );
    expect(second.stdout).toBe('Customer maria.lopez@example.org: phone, organisation changed.\n');
    const shown = await json(['customer', 'maria.lopez@example.org']);
    expect(shown.customer).toMatchObject({
      address: 'maria.lopez@example.org',
      name: 'Maria Lopez',
      phone: '+34 600 000 002',
      organisation: 'Lopez SL',
      notes: null,
      recorded: true,
      updated_by: 'sam',
    });
    expect(shown.customer.changes.map((ch: any) => [ch.actor, ch.field, ch.from, ch.to])).toEqual([
      ['cody', 'name', null, 'Maria Lopez'],
      ['cody', 'phone', null, '+34 600 000 001'],
      ['sam', 'phone', '+34 600 000 001', '+34 600 000 002'],
      ['sam', 'organisation', null, 'Lopez SL'],
    ]);
    expect(shown.customer.changes.every((ch: any) => !Number.isNaN(Date.parse(ch.at)))).toBe(true);
    expect(shown.cases.map((x: any) => x.id)).toEqual([c.id]);
    const text = await cli(['customer', 'maria.lopez@example.org']);
    expect(text.stdout).toContain('Customer:      maria.lopez@example.org  (Maria Lopez)\nPhone:         +34 600 000 002\nOrganisation:  Lopez SL\n');
    expect(text.stdout).toContain('1 case(s) from maria.lopez@example.org, newest first:');
    // An empty value clears a field, and that is a change too.
    await json(['customer', 'maria.lopez@example.org', '--set', 'organisation=', '--as', 'cody']);
    const cleared = await json(['customer', 'maria.lopez@example.org']);
    expect(cleared.customer.organisation).toBeNull();
    expect(cleared.customer.changes.at(-1)).toMatchObject({ field: 'organisation', from: 'Lopez SL', to: null });
  });

  it('refuses an unknown field and a value over 2000 characters with one sentence, changing nothing (fails on a partial edit)', async () => {
    const unknown = await cli(['customer', 'pat@example.org', '--set', 'name=Pat', '--set', 'iban=PL00', '--as', 'cody']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toBe('mailwarden: A customer record has no field "iban" (fields: name, phone, organisation, notes).\n');
    const long = await cli(['customer', 'pat@example.org', '--set', 'name=Pat', '--set', `notes=${'n'.repeat(2001)}`, '--as', 'cody']);
    expect(long.code).toBe(65);
    expect(long.stderr).toBe('mailwarden: The value of notes is 2001 characters long; at most 2000 are allowed.\n');
    const noValue = await cli(['customer', 'pat@example.org', '--set', 'phone', '--as', 'cody', '--json']);
    expect(noValue.code).toBe(64);
    expect(JSON.parse(noValue.stderr).error.code).toBe('EBADFIELD');
    const shown = await json(['customer', 'pat@example.org']);
    expect(shown.customer).toMatchObject({ recorded: false, name: null, changes: [] });
    const exactly = await json(['customer', 'pat@example.org', '--set', `notes=${'n'.repeat(2000)}`, '--as', 'cody']);
    expect(exactly.customer.notes).toHaveLength(2000);
  });

  it('needs --as to edit, an address, and one action at a time (fails on an anonymous edit)', async () => {
    const anonymous = await runCli(['customer', 'pat@example.org', '--set', 'name=Pat'], { env: { ...env, MAILWARDEN_AS: '' } });
    expect(anonymous.code).toBe(64);
    expect(anonymous.stderr).toContain('No consultant was named');
    const notAddress = await cli(['customer', 'not-an-address', '--set', 'name=Pat', '--as', 'cody']);
    expect(notAddress.stderr).toBe('mailwarden: "not-an-address" is not an e-mail address.\n');
    const both = await cli(['customer', 'pat@example.org', '--set', 'name=Pat', '--erase', '--as', 'sam']);
    expect(both.stderr).toBe('mailwarden: Give only one of --set, --export and --erase at a time.\n');
  });

  it('lets only a supervisor erase, and says so when nothing is held (fails on an erasure record for nothing)', async () => {
    await insertCase(opened.db, { customer: 'held@example.org' });
    const refused = await cli(['customer', 'held@example.org', '--erase', '--as', 'cody']);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toBe("mailwarden: Only a supervisor may erase a customer's data, and cody is not one.\n");
    const nothing = await cli(['customer', 'nobody-here@example.org', '--erase', '--as', 'sam']);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toBe('Nothing is held about nobody-here@example.org; nothing was erased.\n');
    expect(await opened.db.selectFrom('erasures').selectAll().execute()).toEqual([]);
  });

  it('erases a record: the record and its change history keep no value, and the erasure is the last change (fails on a kept phone number)', async () => {
    await json([
      'customer',
      'gone@example.org',
      '--set',
      'name=Gone Person',
      '--set',
      'phone=+1 555 0100',
      '--set',
      'notes=Gone Person likes tea',
      '--as',
      'cody',
    ]);
    const c = await insertCase(opened.db, { customer: 'gone@example.org', customerName: 'Gone Person', text: 'It is me, Gone Person, about my card.' });
    const r = await json(['customer', 'gone@example.org', '--erase', '--as', 'sam']);
    expect(r).toMatchObject({ erased: true, cases: 1, messages: 1 });
    const record = await opened.db.selectFrom('customers').selectAll().where('address', '=', `${r.pseudonym}@erased.invalid`).executeTakeFirstOrThrow();
    expect(record).toMatchObject({ name: r.pseudonym, phone: null, organisation: null, notes: null, updated_by: 'sam' });
    const changes = await opened.db.selectFrom('customer_changes').selectAll().where('address', '=', `${r.pseudonym}@erased.invalid`).orderBy('id').execute();
    expect(changes.map((ch) => [ch.field, ch.from_value, ch.to_value])).toEqual([
      ['name', null, '[erased]'],
      ['phone', null, '[erased]'],
      ['notes', null, '[erased]'],
      ['erased', null, r.pseudonym],
    ]);
    const row = await opened.db.selectFrom('cases').selectAll().where('id', '=', c.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ customer_address: `${r.pseudonym}@erased.invalid`, customer_name: r.pseudonym, subject: '[erased]' });
    const rows = await opened.db.selectFrom('messages').select(['text', 'from_address', 'from_name']).where('case_id', '=', c.id).execute();
    expect(rows).toEqual([
      { text: `[erased: personal data removed on request (${r.pseudonym})]`, from_address: `${r.pseudonym}@erased.invalid`, from_name: r.pseudonym },
    ]);
  });

  it('exports to a file only its owner reads and never overwrites one (fails on a clobbered file)', async () => {
    await insertCase(opened.db, { customer: 'export-me@example.org' });
    const out = path.join(cfg.dir, 'taken.zip');
    fs.writeFileSync(out, 'precious');
    const r = await cli(['customer', 'export-me@example.org', '--export', '--output', out, '--as', 'cody']);
    expect(r.code).toBe(64);
    expect(r.stderr).toBe(`mailwarden: The file ${out} exists; an export never overwrites a file, so name another with --output.\n`);
    expect(fs.readFileSync(out, 'utf8')).toBe('precious');
    const fresh = path.join(cfg.dir, 'fresh.zip');
    const ok = await cli(['customer', 'export-me@example.org', '--export', '--output', fresh, '--as', 'cody']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`Exported 1 case(s) of export-me@example.org in 2 file(s) to ${fresh} (MANIFEST.sha256 inside).\n`);
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o600);
  });

  it('erases mail that never became a message: quarantined and parked rows lose the person, their raw files go (fails on a kept file or address)', async () => {
    const raw = async (text: string) =>
      (await storeRaw(cfg.dataDir, Buffer.from(`From: Quinn Q <quinn@example.org>\r\nSubject: ${text}\r\n\r\n${text}\r\n`))).sha256;
    const quarantined = await raw('forged staff answer');
    const parked = await raw('a mail that broke the accept');
    const at = new Date().toISOString();
    await opened.db
      .insertInto('raw_messages')
      .values([quarantined, parked].map((sha) => ({ sha256: sha, size: 10, stored_at: at, erased_at: null })))
      .execute();
    await opened.db
      .insertInto('quarantine')
      .values({
        raw_sha256: quarantined,
        mailbox_id: 'support',
        case_id: null,
        from_address: 'Quinn@example.org',
        reason: 'bad_signature',
        at,
        detail: 'sent by quinn@example.org',
        subject: 'forged staff answer',
        message_id: '<q1@example.org>',
      })
      .execute();
    await opened.db
      .insertInto('parked')
      .values({
        mailbox_id: 'support',
        sha256: parked,
        size: 10,
        source: 'lmtp',
        queue_id: 'q-1',
        envelope_from: 'quinn@example.org',
        from_address: 'quinn@example.org',
        subject: 'a mail that broke the accept',
        message_id: '<p1@example.org>',
        state: 'parked',
        attempts: 3,
        error: 'boom',
        first_failed_at: at,
        last_failed_at: at,
        parked_at: at,
      })
      .execute();
    const r = await json(['customer', 'quinn@example.org', '--erase', '--as', 'sam']);
    expect(r).toMatchObject({ erased: true, cases: 0, filesDeleted: 2 });
    expect(fs.existsSync(rawPath(cfg.dataDir, quarantined))).toBe(false);
    expect(fs.existsSync(rawPath(cfg.dataDir, parked))).toBe(false);
    expect(await opened.db.selectFrom('parked').selectAll().where('sha256', '=', parked).execute()).toEqual([]);
    const q = await opened.db.selectFrom('quarantine').selectAll().where('raw_sha256', '=', quarantined).executeTakeFirstOrThrow();
    expect(q).toMatchObject({ from_address: `${r.pseudonym}@erased.invalid`, subject: '[erased]', message_id: null, reason: 'bad_signature' });
    expect(findInDump(await dumpDatabase(opened.db), ['quinn@example.org', 'forged staff answer', '<p1@example.org>'])).toEqual([]);
    const raws = await opened.db.selectFrom('raw_messages').select('erased_at').where('sha256', 'in', [quarantined, parked]).execute();
    expect(raws).toHaveLength(2);
    expect(raws.every((x) => x.erased_at !== null)).toBe(true);
  });
});
