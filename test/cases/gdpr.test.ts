// GDPR export and erasure (SPEC §9) on a desk that really worked: the daemon takes customer mail
// by LMTP (raw files and attachments on disk), consultants reply, comment and close through the
// CLI, the SMTP sink receives what goes out. Jan writes two cases and is copied on Ann's case,
// where he answers too; Ann sends one attachment that Jan sent as well (one shared blob). The
// export must hold all of Jan's raw mail byte for byte and none of Ann's; the erasure must leave
// nothing of Jan in any column of any table and none of his files on disk, keep Ann's shared
// attachment, leave the report figures unchanged, and let Jan's next mail start a new case.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMs, nowIso } from '../../src/clock';
import { blobPath, rawPath } from '../../src/db/stored-files';
import { runCli, startDaemon, type Daemon } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { buildMail } from '../support/imap';
import { freePort } from '../support/ports';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { removeTempDir } from '../support/tmp';
import { waitFor } from '../support/wait';
import { buildMultipart, deliverLmtp, newMessageId, openDb } from '../ingest/helpers';
import { dumpDatabase, findInDump, readZip, reportFigures, sha256 } from './gdpr-helpers';

const BOX = 'alice@example.test';
const JAN = 'Jan.Kowalski@customer.test';
const JAN_KEY = JAN.toLowerCase();
const ANN = 'ann.other@customer.test';
const statement = Buffer.from('%PDF-1.4 Jan Kowalski account statement zebra-7781\n' + 'x'.repeat(3000));
const sharedForm = Buffer.from('%PDF-1.4 the bank complaint form, the same for everyone\n' + 'y'.repeat(2000));

describe('customer export and erasure through real mail', () => {
  let sink: SmtpSink;
  let cfg: TestConfig;
  let daemon: Daemon;
  let port: number;
  let db: Awaited<ReturnType<typeof openDb>>;
  let env: Record<string, string>;
  const ids = { jan1: newMessageId(), jan2: newMessageId(), ann: newMessageId(), janOnAnn: newMessageId(), feedback: newMessageId() };
  const cases = { jan1: '', jan2: '', ann: '' };
  let janRaw: string[] = [];
  let janBlobs: string[] = [];
  let annRaw: string[] = [];
  let figuresBefore: Record<string, unknown>;
  let replyMessageId = '';
  let jan1Messages = 0;
  const period = { from: addMs(nowIso(), -86_400_000), to: addMs(nowIso(), 3 * 86_400_000) };

  const cli = (args: string[], more: Record<string, string> = {}, cwd?: string) => runCli(args, { env: { ...env, ...more }, ...(cwd ? { cwd } : {}) });
  const ok = async (args: string[], more: Record<string, string> = {}) => {
    const r = await cli(args, more);
    if (r.code !== 0) throw new Error(`mailwarden ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  };
  const deliver = async (from: string, raw: string | Buffer, messageId: string) => {
    const r = await deliverLmtp(port, from, BOX, raw);
    expect(r.code, r.text).toBe(250);
    return db.db.selectFrom('inbound').selectAll().where('message_id', '=', messageId).executeTakeFirstOrThrow();
  };
  const allSent = () =>
    waitFor(
      async () => {
        // (the reply written nine hours ahead is due only then: it stays queued, and the erasure stops it)
        const open = await db.db
          .selectFrom('outbox')
          .select('id')
          .where((eb) => eb.or([eb('state', '=', 'sending'), eb.and([eb('state', '=', 'queued'), eb('next_attempt_at', '<=', nowIso())])]))
          .execute();
        return open.length === 0;
      },
      { what: 'every outbox row due to be sent', timeoutMs: 30_000, intervalMs: 200 },
    );

  beforeAll(async () => {
    sink = await startSmtpSink();
    port = await freePort();
    cfg = await writeTestConfig({ listener: { port }, smtp: { host: sink.host, port: sink.port } });
    env = { MAILWARDEN_CONFIG: cfg.configPath };
    daemon = await startDaemon(cfg.configPath);
    db = await openDb(cfg);

    // Jan's first case, with his own statement and the common form attached.
    const first = await deliver(
      JAN,
      buildMultipart({
        from: `Jan Kowalski <${JAN}>`,
        to: BOX,
        subject: 'Blocked card after the zebra-7781 payment',
        text: 'Hello, my card was blocked after paying. Jan Kowalski, +48 600 100 200.',
        attachments: [
          { filename: 'statement-kowalski.pdf', contentType: 'application/pdf', content: statement },
          { filename: 'complaint-form.pdf', contentType: 'application/pdf', content: sharedForm },
        ],
        messageId: ids.jan1,
      }),
      ids.jan1,
    );
    cases.jan1 = first.case_id!;
    // Ann's case: she copies Jan, and attaches the same form.
    const ann = await deliver(
      ANN,
      buildMultipart({
        from: `Ann Other <${ANN}>`,
        to: BOX,
        subject: 'Ann needs a new PIN octopus-5521',
        text: 'Please send me a new PIN. Ann Other.',
        attachments: [{ filename: 'form.pdf', contentType: 'application/pdf', content: sharedForm }],
        messageId: ids.ann,
        headers: { Cc: `Jan Kowalski <${JAN}>` },
      }),
      ids.ann,
    );
    cases.ann = ann.case_id!;
    // Jan answers on Ann's case (he was copied): his own message on a case of someone else.
    const janOnAnn = await deliver(
      JAN,
      buildMail({
        from: `Jan Kowalski <${JAN}>`,
        to: BOX,
        subject: 'Re: PIN',
        text: 'I confirm what my colleague wrote. Jan, walrus-3390.',
        messageId: ids.janOnAnn,
        inReplyTo: ids.ann,
        references: ids.ann,
      }),
      ids.janOnAnn,
    );
    expect(janOnAnn.case_id).toBe(cases.ann);
    const second = await deliver(
      JAN,
      buildMail({
        from: `Jan Kowalski <${JAN}>`,
        to: BOX,
        subject: 'Standing order question',
        text: 'How do I change a standing order? Jan Kowalski',
        messageId: ids.jan2,
      }),
      ids.jan2,
    );
    cases.jan2 = second.case_id!;
    expect(new Set(Object.values(cases)).size).toBe(3);

    // The desk works: cody closes Jan's first case on time, Jan writes after closing (feedback,
    // reopens), cody closes it again; sam consults and closes the second case late; cody closes Ann's.
    await ok(['assign', cases.jan1, 'cody', '--as', 'sam']);
    await ok(['comment', cases.jan1, '--as', 'cody', '-m', 'Jan Kowalski called, he is at the zebra-7781 shop.']);
    const reply = await ok(['reply', cases.jan1, '--as', 'cody', '-m', 'Dear Jan Kowalski, your card is unblocked.', '--status', 'solved', '--json']);
    replyMessageId = JSON.parse(reply.stdout).messageId;
    await allSent();
    await deliver(
      JAN,
      buildMail({
        from: `Jan Kowalski <${JAN}>`,
        to: BOX,
        subject: `Re: [${cases.jan1}] Blocked card`,
        text: 'Thank you, it works again. Jan',
        messageId: ids.feedback,
        inReplyTo: replyMessageId,
        references: `${ids.jan1} ${replyMessageId}`,
      }),
      ids.feedback,
    );
    await ok(['reply', cases.jan1, '--as', 'cody', '-m', 'Glad to hear it, Jan.', '--status', 'solved']);
    await ok(['assign', cases.jan2, 'sam', '--as', 'sam']);
    const sent = nowIso();
    await db.db
      .insertInto('consultations')
      .values({
        case_id: cases.jan2,
        dept_id: 'fraud',
        consultant: 'sam',
        outbox_id: null,
        sent_at: sent,
        deadline_at: addMs(sent, 86_400_000),
        answered_at: addMs(sent, 3_600_000),
      })
      .execute();
    // Nine hours later: past the pool's 8h deadline.
    await ok(['reply', cases.jan2, '--as', 'sam', '-m', 'Dear Jan Kowalski, here is how.', '--status', 'solved'], { MAILWARDEN_CLOCK_OFFSET: '+9h' });
    await ok(['assign', cases.ann, 'cody', '--as', 'sam']);
    await ok(['reply', cases.ann, '--as', 'cody', '-m', 'Dear Ann, your PIN is on its way.', '--status', 'solved']);
    await ok(['customer', JAN, '--set', 'name=Jan Kowalski', '--set', 'phone=+48 600 100 200', '--set', 'notes=Prefers mail; zebra-7781', '--as', 'cody']);
    await allSent();

    const janMessages = await db.db
      .selectFrom('messages')
      .select(['id', 'raw_sha256'])
      .where((eb) => eb.or([eb('case_id', 'in', [cases.jan1, cases.jan2]), eb('message_id', '=', ids.janOnAnn)]))
      .execute();
    janRaw = janMessages.map((m) => m.raw_sha256).filter((s): s is string => !!s);
    // What Jan sent (an outgoing reply's attachments, the footer image, are inside the sent mail, not stored apart).
    janBlobs = (
      await db.db
        .selectFrom('attachments')
        .innerJoin('messages', 'messages.id', 'attachments.message_row_id')
        .select('attachments.sha256')
        .where(
          'message_row_id',
          'in',
          janMessages.map((m) => m.id),
        )
        .where('messages.kind', '=', 'inbound')
        .execute()
    ).map((a) => a.sha256!);
    const annMessage = await db.db.selectFrom('messages').select('raw_sha256').where('message_id', '=', ids.ann).executeTakeFirstOrThrow();
    annRaw = [annMessage.raw_sha256!];
    jan1Messages = (await db.db.selectFrom('messages').select('id').where('case_id', '=', cases.jan1).execute()).length;
    figuresBefore = await reportFigures(db.db, period.from, period.to);
  }, 600_000);

  afterAll(async () => {
    const code = await daemon?.stop();
    await db?.close();
    await sink?.stop();
    if (cfg) await removeTempDir(cfg.dir);
    expect(code).toBe(0);
  });

  it('the desk really worked: raw files and attachments on disk, figures that count something (fails on an empty scenario)', async () => {
    expect(janRaw).toHaveLength(4);
    expect(janBlobs).toHaveLength(2);
    expect(janBlobs).toContain(sha256(statement));
    expect(janBlobs).toContain(sha256(sharedForm));
    for (const sha of [...janRaw, ...annRaw]) expect(fs.existsSync(rawPath(cfg.dataDir, sha))).toBe(true);
    for (const sha of janBlobs) expect(fs.existsSync(blobPath(cfg.dataDir, sha))).toBe(true);
    const per = figuresBefore.per_consultant as Record<string, any>;
    expect(per.cody).toMatchObject({ closed: 2, on_time_without_consulting: 2, feedback_after_closing: 1 });
    expect(per.sam).toMatchObject({ closed: 1, late_with_consulting: 1 });
  });

  it('keeps the data dir 0700 and every file in it 0600 (fails on a file others can read)', () => {
    const walk = (dir: string): string[] =>
      fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((d) => (d.isDirectory() ? [path.join(dir, d.name), ...walk(path.join(dir, d.name))] : [path.join(dir, d.name)]));
    const loose = [cfg.dataDir, ...walk(cfg.dataDir)]
      .filter((p) => (fs.statSync(p).mode & 0o077) !== 0)
      .map((p) => `${p} ${(fs.statSync(p).mode & 0o777).toString(8)}`);
    expect(loose).toEqual([]);
    expect(fs.statSync(cfg.dataDir).mode & 0o777).toBe(0o700);
  });

  it("exports every raw message byte for byte, the attachments and the sent mail, with a manifest, and nothing of Ann (fails on a missing or altered file, or Ann's data)", async () => {
    const out = path.join(cfg.dir, 'jan.zip');
    const r = await ok(['customer', JAN, '--export', '--output', out, '--as', 'cody', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ file: out, cases: 3, missing: [] });
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const zip = await readZip(out);
    // The manifest names every other file with its SHA-256, in sha256sum's format.
    const manifest = zip.get('MANIFEST.sha256')!.toString();
    const listed = manifest
      .trim()
      .split('\n')
      .map((l) => /^([0-9a-f]{64}) {2}(.+)$/.exec(l)!);
    expect(listed.map((m) => m[2]).sort()).toEqual([...zip.keys()].filter((n) => n !== 'MANIFEST.sha256').sort());
    for (const m of listed) expect(sha256(zip.get(m[2]!)!), m[2]).toBe(m[1]);
    // Every raw message of Jan, byte for byte: the store is content-addressed, so the hash is the file's name.
    const hashes = new Set([...zip.values()].map((b) => sha256(b)));
    // Every raw message of his cases; his answer on Ann's case only as text (its headers name Ann's mail).
    const janOwnRaw = (await db.db.selectFrom('messages').select('raw_sha256').where('case_id', 'in', [cases.jan1, cases.jan2]).execute())
      .map((m) => m.raw_sha256)
      .filter((x): x is string => !!x);
    expect(janOwnRaw).toHaveLength(3);
    for (const sha of janOwnRaw) {
      expect(hashes.has(sha), `raw ${sha}`).toBe(true);
      expect(sha256(fs.readFileSync(rawPath(cfg.dataDir, sha)))).toBe(sha);
    }
    for (const sha of janBlobs) expect(hashes.has(sha), `attachment ${sha}`).toBe(true);
    // Our sent mail on his cases, exactly as frozen in the outbox.
    const sentMail = await db.db.selectFrom('outbox').select(['id', 'mime']).where('case_id', 'in', [cases.jan1, cases.jan2]).execute();
    expect(sentMail.length).toBeGreaterThanOrEqual(4);
    for (const o of sentMail) expect(hashes.has(sha256(Buffer.from(o.mime))), `outbox ${o.id}`).toBe(true);
    // The document: record, cases, messages with texts, history, participants.
    const doc = JSON.parse(zip.get('customer.json')!.toString());
    expect(doc.customer).toMatchObject({ address: JAN_KEY, name: 'Jan Kowalski', phone: '+48 600 100 200' });
    const own = doc.cases.filter((c: any) => c.role === 'customer');
    expect(own.map((c: any) => c.case.id).sort()).toEqual([cases.jan1, cases.jan2].sort());
    const first = own.find((c: any) => c.case.id === cases.jan1);
    expect(first.messages.map((m: any) => m.kind)).toEqual(expect.arrayContaining(['inbound', 'comment', 'outbound', 'auto_response']));
    expect(first.messages.find((m: any) => m.message_id === ids.feedback)).toMatchObject({ feedback: true, text: expect.stringContaining('it works again') });
    expect(first.history.length).toBeGreaterThan(3);
    expect(first.participants).toEqual([expect.objectContaining({ address: JAN_KEY, role: 'customer' })]);
    expect(own.find((c: any) => c.case.id === cases.jan2).consultations).toHaveLength(1);
    const copied = doc.cases.find((c: any) => c.role === 'copied');
    expect(copied.case.id).toBe(cases.ann);
    expect(copied.messages).toEqual([
      expect.objectContaining({ message_id: ids.janOnAnn, text: expect.stringContaining('walrus-3390'), file: null, to: [BOX] }),
    ]);
    // Nothing of Ann anywhere in the archive.
    for (const [name, bytes] of zip) {
      const text = bytes.toString('latin1').toLowerCase();
      for (const needle of [ANN, 'ann other', 'octopus-5521', ids.ann.toLowerCase()]) expect(text.includes(needle), `${needle} in ${name}`).toBe(false);
    }
  });

  it('writes to a default name in the current directory and never overwrites a file (fails on a clobbered file)', async () => {
    const dir = path.join(cfg.dir, 'exports');
    fs.mkdirSync(dir);
    const r = await cli(['customer', JAN, '--export', '--as', 'cody'], {}, dir);
    expect(r.code, r.stderr).toBe(0);
    const [name] = fs.readdirSync(dir);
    expect(name).toMatch(/^mailwarden-export-jan\.kowalski_at_customer\.test-\d{4}-\d{2}-\d{2}\.zip$/);
    const before = fs.readFileSync(path.join(dir, name!));
    const again = await cli(['customer', JAN, '--export', '--output', path.join(dir, name!), '--as', 'cody']);
    expect(again.code).toBe(64);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain('exists; an export never overwrites a file');
    expect(fs.readFileSync(path.join(dir, name!)).equals(before)).toBe(true);
  });

  it('lets only a supervisor erase (fails when a consultant can)', async () => {
    const r = await cli(['customer', JAN, '--erase', '--as', 'cody']);
    expect(r.code).toBe(64);
    expect(r.stderr).toBe("mailwarden: Only a supervisor may erase a customer's data, and cody is not one.\n");
    expect(await db.db.selectFrom('erasures').selectAll().execute()).toEqual([]);
    expect(fs.existsSync(rawPath(cfg.dataDir, janRaw[0]!))).toBe(true);
  });

  it("erases: Jan's files gone from disk, Ann's shared attachment kept, Jan nowhere in the database, report figures unchanged (fails on any trace)", async () => {
    const r = await ok(['customer', JAN, '--erase', '--as', 'sam', '--json']);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ erased: true, pseudonym: 'erased-000001', cases: 2, copiedCases: 1 });
    expect(result.filesShared).toBeGreaterThanOrEqual(1);
    for (const sha of janRaw) expect(fs.existsSync(rawPath(cfg.dataDir, sha)), `raw ${sha}`).toBe(false);
    expect(fs.existsSync(blobPath(cfg.dataDir, sha256(statement)))).toBe(false);
    // The form is in Ann's mail too: it stays, and so does her raw mail.
    expect(fs.existsSync(blobPath(cfg.dataDir, sha256(sharedForm)))).toBe(true);
    for (const sha of annRaw) expect(fs.existsSync(rawPath(cfg.dataDir, sha))).toBe(true);

    // Stored bytes (storage.files: database, the PostgreSQL pass) are held to the files' rule above:
    // none of Jan's content is left, and Ann's raw mail (which names Jan, copied on it) stays hers.
    const chunks = await db.db.selectFrom('stored_chunks').select('sha256').distinct().execute();
    for (const sha of [...janRaw, sha256(statement)]) expect(chunks.map((c) => c.sha256)).not.toContain(sha);
    const dump = (await dumpDatabase(db.db)).filter((d) => !d.where.startsWith('stored_chunks['));
    expect(
      findInDump(dump, [JAN, 'Kowalski', 'zebra-7781', 'walrus-3390', '600 100 200', 'standing order', ids.jan1, ids.jan2, ids.janOnAnn, ids.feedback]),
    ).toEqual([]);
    // Ann's data is untouched.
    expect(findInDump(dump, ['octopus-5521']).length).toBeGreaterThan(0);
    const annCase = await db.db.selectFrom('cases').selectAll().where('id', '=', cases.ann).executeTakeFirstOrThrow();
    expect(annCase).toMatchObject({ customer_address: ANN, subject: 'Ann needs a new PIN octopus-5521' });

    // Recorded: who and when under the pseudonym, in the erasures table and in each case's history.
    const erasures = await db.db.selectFrom('erasures').selectAll().execute();
    expect(erasures).toEqual([expect.objectContaining({ pseudonym: 'erased-000001', erased_by: 'sam', cases: 2 })]);
    for (const id of [cases.jan1, cases.jan2, cases.ann]) {
      const events = await db.db.selectFrom('case_events').selectAll().where('case_id', '=', id).where('kind', '=', 'erasure').execute();
      expect(events, id).toEqual([expect.objectContaining({ actor: 'sam', to_value: 'erased-000001' })]);
    }
    const show = JSON.parse((await ok(['show', cases.jan1, '--json'])).stdout);
    expect(show.case).toMatchObject({ customer: { address: 'erased-000001@erased.invalid' }, subject: '[erased]', flags: expect.arrayContaining(['erased']) });
    expect(show.messages.every((m: any) => m.text.startsWith('[erased'))).toBe(true);

    expect(await reportFigures(db.db, period.from, period.to)).toEqual(figuresBefore);
  });

  it('says so when nothing is held, and the address no longer lists anything (fails on a second erasure record)', async () => {
    const r = await ok(['customer', JAN, '--erase', '--as', 'sam']);
    expect(r.stdout).toBe(`Nothing is held about ${JAN_KEY}; nothing was erased.\n`);
    expect(await db.db.selectFrom('erasures').selectAll().execute()).toHaveLength(1);
    const shown = JSON.parse((await ok(['customer', JAN, '--json'])).stdout);
    expect(shown).toEqual({ customer: expect.objectContaining({ address: JAN_KEY, recorded: false, changes: [] }), cases: [] });
  });

  it("starts afresh when Jan writes again naming his old case's tag, our reply and his own old Message-ID (fails on threading or linking to the erased case)", async () => {
    const later = newMessageId();
    const row = await deliver(
      JAN,
      buildMail({
        from: `Jan Kowalski <${JAN}>`,
        to: BOX,
        subject: `Re: [${cases.jan1}] Blocked card`,
        text: 'Me again: the card is blocked once more.',
        messageId: later,
        inReplyTo: replyMessageId,
        references: `${ids.jan1} ${replyMessageId}`,
      }),
      later,
    );
    expect(row.outcome).toBe('case');
    expect([cases.jan1, cases.jan2, cases.ann]).not.toContain(row.case_id);
    const fresh = await db.db.selectFrom('cases').selectAll().where('id', '=', row.case_id!).executeTakeFirstOrThrow();
    expect(fresh).toMatchObject({ customer_address: JAN_KEY, linked_case_id: null, status: 'received' });
    const oldMessages = await db.db.selectFrom('messages').select('id').where('case_id', '=', cases.jan1).execute();
    expect(oldMessages.length).toBe(jan1Messages);
    expect(await db.db.selectFrom('cases').select('status').where('id', '=', cases.jan1).executeTakeFirstOrThrow()).toEqual({ status: 'solved' });
    const shown = JSON.parse((await ok(['customer', JAN, '--json'])).stdout);
    expect(shown.cases.map((c: any) => c.id)).toEqual([row.case_id]);
  });
});
