// `status`, `open` and `attachment` (SPEC §5) through real mail. Why through the daemon: what
// these commands promise is about mail. Closing an out-of-office case must send nothing, proven at
// the SMTP sink and in the outbox; a staff-opened case must reach the customer from the pool's box
// and the customer's answer must thread onto it (by In-Reply-To, and by tag as a participant)
// without the auto-response a new case gets; an attachment written out must be the very bytes
// the customer's mail carried, as the daemon stored them.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobPath } from '../../src/db/stored-files';
import { BIN, runCli } from '../support/cli';
import { buildMail } from '../support/imap';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { buildMultipart, newMessageId } from '../ingest/helpers';
import { BOX, STAFF, answerTo, arrival, expectNothingMoreTo, jsonError, outboxTo, sentTo, startDesk, type Desk } from './helpers';

const execFileAsync = promisify(execFile);

let sink: SmtpSink;
let desk: Desk | undefined;
let workDir: string;

beforeAll(async () => {
  sink = await startSmtpSink();
  desk = await startDesk(sink);
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailwarden-attachment-'));
});
afterAll(async () => {
  try {
    await desk?.stop();
  } finally {
    await sink?.stop();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  }
});

/** The case a delivered mail opened or joined. */
async function caseOf(d: Desk, messageId: string): Promise<string> {
  const row = await d.db.db.selectFrom('inbound').select('case_id').where('message_id', '=', messageId).executeTakeFirstOrThrow();
  return row.case_id!;
}

describe('status without mail', () => {
  it('closes a case an out-of-office reply opened and sends nobody anything (sink and outbox), with the reason in the history', async () => {
    const d = desk!;
    const away = 'away@customer.test';
    const mid = newMessageId();
    await d.deliver(
      buildMail({
        from: `Otto Away <${away}>`,
        to: BOX,
        subject: 'Out of office: back on Monday',
        text: 'I am out of the office until Monday.\n',
        messageId: mid,
        headers: { 'Auto-Submitted': 'auto-replied' },
      }),
    );
    const id = await caseOf(d, mid);
    const before = sentTo(sink, away);
    const r = await d.json(['status', id, 'closed', '--as', 'cody', '--reason', 'out-of-office reply']);
    expect(r).toEqual({ caseId: id, from: 'received', status: 'closed', reason: 'out-of-office reply' });
    await expectNothingMoreTo(d, away, before);
    expect(await outboxTo(d, away)).toEqual([]);
    const shown = await d.json(['show', id]);
    expect(shown.case.status).toBe('closed');
    expect(shown.case.assignee).toBe('cody');
    expect(shown.history.filter((h: any) => h.field === 'status_reason' || h.field === 'status').map((h: any) => [h.actor, h.field, h.from, h.to])).toEqual([
      ['cody', 'status', 'received', 'in_progress'],
      ['cody', 'status', 'in_progress', 'closed'],
      ['cody', 'status_reason', null, 'out-of-office reply'],
    ]);

    // A move the status machine does not allow is refused in one sentence, and nothing changes.
    const bad = await d.cli(['status', id, 'postponed', '--as', 'cody', '--remind-at', '2099-01-01 09:00', '--json']);
    expect(bad.code).toBe(64);
    expect(jsonError(bad)).toMatchObject({
      code: 'EBADTRANSITION',
      message: `Case ${id} is closed and cannot become postponed (allowed from closed: in_progress).`,
    });
    const text = await d.cli(['status', id, 'solved', '--as', 'cody']);
    expect(text.code).toBe(64);
    expect(text.stderr.trim().split('\n')).toEqual([`mailwarden: Case ${id} is closed and cannot become solved (allowed from closed: in_progress).`]);
    expect((await d.json(['show', id])).case.status).toBe('closed');
  });
});

describe('a staff-opened case', () => {
  it("reaches the customer from the pool's box with the tag, and the customer's answers thread onto it without an auto-response", async () => {
    const d = desk!;
    const dave = 'dave@customer.test';
    const opened = await d.json([
      'open',
      '--to',
      dave,
      '--pool',
      'general',
      '--subject',
      'Your documents',
      '-m',
      'Please send us a copy of your ID.',
      '--as',
      'cody',
    ]);
    expect(opened).toMatchObject({ pool: 'general', mailbox: 'support', customer: dave, state: 'queued', status: 'in_progress' });
    const id = opened.caseId as string;
    const mail = await arrival(sink, (m) => m.envelope.to.includes(dave), `the staff-opened mail to ${dave}`);
    expect(mail.messageId).toBe(opened.messageId);
    expect(mail.parsed.subject).toBe(`[${id}] Your documents`);
    expect(mail.parsed.from?.value[0]?.address).toBe(BOX);
    expect(mail.parsed.text).toContain('Please send us a copy of your ID.');
    expect(mail.parsed.text).toContain('Cody Consultant');
    const shown = await d.json(['show', id]);
    expect(shown.case).toMatchObject({ status: 'in_progress', assignee: 'cody', pool: 'general', mailbox: 'support', subject: 'Your documents' });
    expect(shown.case.customer.address).toBe(dave);
    expect(Date.parse(shown.case.deadline_at) - Date.parse(shown.case.received_at)).toBe(8 * 3600_000);

    // The customer answers from their mail client: In-Reply-To names our Message-ID.
    const before = sentTo(sink, dave);
    const answer = newMessageId();
    await d.deliver(answerTo(mail, { from: `Dave Customer <${dave}>`, text: 'Attached is my ID.', messageId: answer }));
    expect(await caseOf(d, answer)).toBe(id);
    // A later mail that only carries the tag threads too: the customer is the case's participant.
    const tagged = newMessageId();
    await d.deliver(buildMail({ from: dave, to: BOX, subject: `[${id}] one more thing`, text: 'And my new address.\n', messageId: tagged }));
    expect(await caseOf(d, tagged)).toBe(id);
    await expectNothingMoreTo(d, dave, before);
    const after = await d.json(['show', id]);
    expect(after.messages.filter((m: any) => m.kind === 'inbound').map((m: any) => m.message_id)).toEqual([answer, tagged]);
    expect(await d.db.db.selectFrom('cases').select('id').where('customer_address', '=', dave).execute()).toEqual([{ id }]);
  });

  it("holds a trainee's first mail for approval: nothing reaches the customer", async () => {
    const d = desk!;
    const erin = 'erin@customer.test';
    const opened = await d.json(['open', '--to', erin, '--pool', 'general', '--subject', 'A question', '-m', 'Could you call us back?', '--as', 'tina']);
    expect(opened).toMatchObject({ state: 'held', approver: 'sam', approvalId: expect.any(Number) });
    await arrival(
      sink,
      (m) => m.envelope.to.includes(STAFF.sam) && m.messageId.includes(`mwt1.a.${String(opened.caseId).toLowerCase()}.`),
      "sam's approval request",
    );
    await expectNothingMoreTo(d, erin, []);
  });

  it('refuses an unknown pool, a box of another pool and a bad address in one sentence, opening nothing', async () => {
    const d = desk!;
    const count = async () => (await d.db.db.selectFrom('cases').select('id').execute()).length;
    const n = await count();
    const base = ['--subject', 'S', '-m', 'Text', '--as', 'cody', '--json'];
    const pool = await d.cli(['open', '--to', 'x@customer.test', '--pool', 'nope', ...base]);
    expect(jsonError(pool)).toMatchObject({ code: 'EUNKNOWNPOOL', message: 'There is no pool "nope" (known: general, cards).' });
    const box = await d.cli(['open', '--to', 'x@customer.test', '--pool', 'general', '--mailbox', 'cards', ...base]);
    expect(jsonError(box).code).toBe('ENOMAILBOX');
    const address = await d.cli(['open', '--to', 'not an address', '--pool', 'general', ...base]);
    expect(jsonError(address)).toMatchObject({ code: 'EBADADDRESS', message: '"not an address" is not an e-mail address to open a case with.' });
    for (const r of [pool, box, address]) expect(r.code).toBe(64);
    expect(await count()).toBe(n);
  });
});

describe('attachment', () => {
  const content = crypto.randomBytes(40_000);
  let id: string;

  beforeAll(async () => {
    const d = desk!;
    const mid = newMessageId();
    const raw = buildMultipart({
      from: 'Fay Customer <fay@customer.test>',
      to: BOX,
      subject: 'My statement',
      text: 'See the attached statement.',
      messageId: mid,
      attachments: [{ filename: 'statement.pdf', contentType: 'application/pdf', content }],
    });
    await d.deliver(raw.toString('latin1'));
    id = await caseOf(d, mid);
  });

  /** The CLI in `workDir` (so default file names land there). */
  const inWork = (args: string[]) => runCli(args, { env: desk!.env, cwd: workDir });

  it('writes attachment 1 byte for byte under its own name, verified against the blob store', async () => {
    const r = await inWork(['attachment', id, '1', '--as', 'cody', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const sha256 = crypto.createHash('sha256').update(content).digest('hex');
    expect(JSON.parse(r.stdout)).toMatchObject({
      caseId: id,
      n: 1,
      filename: 'statement.pdf',
      contentType: 'application/pdf',
      size: content.length,
      sha256,
      output: 'statement.pdf',
    });
    expect(fs.readFileSync(path.join(workDir, 'statement.pdf')).equals(content)).toBe(true);
    // --output names the file; - writes the bytes to standard output.
    expect((await inWork(['attachment', id, '1', '--output', 'copy.bin'])).code).toBe(0);
    expect(fs.readFileSync(path.join(workDir, 'copy.bin')).equals(content)).toBe(true);
    const out = await execFileAsync(process.execPath, [BIN, 'attachment', id, '1', '--output', '-'], {
      env: { ...process.env, ...desk!.env },
      cwd: workDir,
      encoding: 'buffer',
      maxBuffer: 1 << 20,
    });
    expect(out.stdout.equals(content)).toBe(true);
  });

  it("writes out a file a consultant attached to a staff-opened case's mail, as it was sent", async () => {
    const file = path.join(workDir, 'form.bin');
    const bytes = crypto.randomBytes(5000);
    fs.writeFileSync(file, bytes);
    const opened = await desk!.json([
      'open',
      '--to',
      'gil@customer.test',
      '--pool',
      'general',
      '--subject',
      'The form',
      '-m',
      'Please fill in the form.',
      '--attach',
      file,
      '--as',
      'sam',
    ]);
    const mail = await arrival(sink, (m) => m.envelope.to.includes('gil@customer.test'), 'the mail with the form');
    expect(mail.parsed.attachments.find((a) => a.filename === 'form.bin')?.content.equals(bytes)).toBe(true);
    const r = await inWork(['attachment', opened.caseId, '1', '--output', 'form-copy.bin']);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(workDir, 'form-copy.bin')).equals(bytes)).toBe(true);
  });

  it('refuses a number out of range, an existing file and a missing or altered blob, each in one sentence with a non-zero exit', async () => {
    const range = await inWork(['attachment', id, '2']);
    expect(range.code).toBe(64);
    expect(range.stderr.trim().split('\n')).toEqual([`mailwarden: Case ${id} has 1 attachment, so there is no attachment 2.`]);
    expect((await inWork(['attachment', id, '0'])).code).toBe(64);

    fs.writeFileSync(path.join(workDir, 'keep.txt'), 'mine');
    const exists = await inWork(['attachment', id, '1', '--output', 'keep.txt', '--json']);
    expect(exists.code).toBe(64);
    expect(jsonError(exists)).toMatchObject({ code: 'EOUTPUTEXISTS', message: 'keep.txt exists already; give another --output (it is never overwritten).' });
    expect(fs.readFileSync(path.join(workDir, 'keep.txt'), 'utf8')).toBe('mine');

    const sha256 = crypto.createHash('sha256').update(content).digest('hex');
    const blob = blobPath(desk!.cfg.dataDir, sha256);
    const kept = fs.readFileSync(blob);
    try {
      fs.rmSync(blob);
      fs.writeFileSync(blob, Buffer.concat([kept.subarray(0, 100), Buffer.from('tampered')]));
      const altered = await inWork(['attachment', id, '1', '--output', 'altered.pdf', '--json']);
      expect(altered.code).toBe(65);
      expect(jsonError(altered)).toMatchObject({
        code: 'EBLOB',
        message: `The stored content of attachment 1 of case ${id} does not match its SHA-256; it was not written.`,
      });
      fs.rmSync(blob);
      // Gone from the database too (storage.files: database, the PostgreSQL pass), or it is rebuilt from there.
      const chunks = await desk!.db.db.selectFrom('stored_chunks').selectAll().where('kind', '=', 'blob').where('sha256', '=', sha256).execute();
      await desk!.db.db.deleteFrom('stored_chunks').where('kind', '=', 'blob').where('sha256', '=', sha256).execute();
      const missing = await inWork(['attachment', id, '1', '--output', 'missing.pdf']);
      if (chunks.length) await desk!.db.db.insertInto('stored_chunks').values(chunks).execute();
      expect(missing.code).toBe(65);
      expect(missing.stderr.trim().split('\n')).toEqual([`mailwarden: The content of attachment 1 of case ${id} is not in the blob store.`]);
      expect(fs.existsSync(path.join(workDir, 'altered.pdf')) || fs.existsSync(path.join(workDir, 'missing.pdf'))).toBe(false);
    } finally {
      fs.rmSync(blob, { force: true });
      fs.writeFileSync(blob, kept);
    }
  });
});
