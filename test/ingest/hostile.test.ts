// Hostile and broken mail (SPEC §3): bad charsets, broken MIME, thousands of parts, a 2 MB
// header, NULs, CR-only line endings, 8-bit headers, oversize mail, a 100 MB attachment (twice §3's 50 MB). None may
// crash the daemon or be lost: each is kept raw and becomes a case, flagged where it could not
// be parsed, and memory stays bounded.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawPath } from '../../src/db/stored-files';
import { REPO_ROOT, startDaemon, type Daemon } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { startDovecot, type DovecotInstance } from '../support/dovecot';
import { appendMail } from '../support/imap';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';
import { buildMultipart, memoryOf, newMessageId, openDb, showJson, waitForInbound } from './helpers';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/hostile');
const ALICE = 'alice@example.test';

function manyParts(n: number): Buffer {
  const lines = [
    'From: parts@customer.test',
    `To: ${ALICE}`,
    `Subject: ${n} parts`,
    'Message-ID: <hostile-many-parts@customer.test>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="p"',
    '',
    '',
  ];
  lines.push('--p', 'Content-Type: text/plain', '', 'The text before thousands of attachments.');
  for (let i = 0; i < n; i++)
    lines.push(
      '--p',
      `Content-Type: application/octet-stream; name="f${i}.bin"`,
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from(`part ${i}`).toString('base64'),
    );
  lines.push('--p--', '');
  return Buffer.from(lines.join('\r\n'));
}

function hugeHeader(bytes: number): Buffer {
  const filler = `X-Filler: ${'a'.repeat(990)}\r\n`;
  return Buffer.from(
    `From: Header Bomb <bomb@customer.test>\r\nTo: ${ALICE}\r\nSubject: A huge header\r\nMessage-ID: <hostile-huge-header@customer.test>\r\n` +
      filler.repeat(Math.ceil(bytes / filler.length)) +
      '\r\nbody\r\n',
  );
}

function deepNesting(depth: number): Buffer {
  let body = 'Content-Type: text/plain\r\n\r\ninnermost text\r\n';
  for (let i = 0; i < depth; i++) body = `Content-Type: multipart/mixed; boundary="d${i}"\r\n\r\n--d${i}\r\n${body}--d${i}--\r\n`;
  return Buffer.from(
    `From: deep@customer.test\r\nTo: ${ALICE}\r\nSubject: Deep nesting\r\nMessage-ID: <hostile-deep@customer.test>\r\nMIME-Version: 1.0\r\n${body}`,
  );
}

function longLine(bytes: number): Buffer {
  return Buffer.concat([
    Buffer.from(`From: line@customer.test\r\nTo: ${ALICE}\r\nSubject: One endless line\r\nMessage-ID: <hostile-long-line@customer.test>\r\n\r\n`),
    Buffer.alloc(bytes, 'x'),
  ]);
}

describe('hostile mail through the LMTP listener', () => {
  let cfg: TestConfig;
  let daemon: Daemon;
  let db: Awaited<ReturnType<typeof openDb>>;
  let port: number;
  const delivered = new Map<string, { caseId: string | null; bytes: Buffer }>();

  beforeAll(async () => {
    port = await freePort();
    // Listener only (no IMAP): 3 MB size limit so the oversize rule is exercised cheaply.
    cfg = await writeTestConfig({ listener: { port }, overrides: { ingest: { max_message_size: '3MB' } } });
    daemon = await startDaemon(cfg.configPath);
    db = await openDb(cfg);
  });
  afterAll(async () => {
    const code = await daemon?.stop();
    await db?.close();
    expect(code).toBe(0);
  });

  async function deliver(name: string, bytes: Buffer): Promise<string | null> {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true } as any);
    const info = await transport.sendMail({ envelope: { from: 'sender@customer.test', to: [ALICE] }, raw: bytes });
    expect(info.accepted, `${name} accepted`).toEqual([ALICE]);
    const caseId = /accepted as ([A-Z]+-\d+)/.exec(info.response)?.[1] ?? null;
    delivered.set(name, { caseId, bytes });
    return caseId;
  }

  const caseOf = (id: string) => db.db.selectFrom('cases').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const flagsOf = async (id: string) => JSON.parse((await caseOf(id)).flags) as string[];

  it('accepts every hand-written hostile fixture as a case and keeps its raw bytes (fails on a crash, a refusal or a lost message)', async () => {
    const files = fs
      .readdirSync(FIXTURES)
      .filter((f) => f !== 'README.md')
      .sort();
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) {
      const caseId = await deliver(f, fs.readFileSync(path.join(FIXTURES, f)));
      expect(caseId, `${f} became a case`).toMatch(/^TEST-\d{6}$/);
    }
    const rows = await db.db.selectFrom('inbound').selectAll().orderBy('id').execute();
    expect(rows).toHaveLength(files.length);
    for (const r of rows) {
      expect(r.outcome).toBe('case');
      expect(fs.existsSync(rawPath(cfg.dataDir, r.sha256))).toBe(true);
    }
    expect(daemon.proc.exitCode).toBeNull();
  });

  it('reads what can be read: 8-bit headers, CR-only lines, NULs removed, unknown charsets, HTML without script (fails on garbage text)', async () => {
    const byName = (n: string) => delivered.get(n)!.caseId!;
    expect(await caseOf(byName('8bit-headers.eml'))).toMatchObject({
      subject: 'Żółta karta – zażółć gęślą jaźń',
      customer_name: 'Zażółć Gęślą',
      customer_address: 'gesla@customer.test',
    });
    expect((await caseOf(byName('8bit-latin1-headers.eml'))).subject).toBe('Réponse à la question');

    const cr = await showJson(cfg, byName('cr-only.eml'));
    expect(cr.case).toMatchObject({ subject: 'CR only line endings', customer: { address: 'oldmac@customer.test' } });
    expect(cr.messages[0].text).toContain('First line of the body.\nSecond line of the body.');

    const nul = await showJson(cfg, byName('nul-bytes.eml'));
    expect(nul.case.subject).not.toContain('\u0000');
    expect(nul.messages[0].text).toContain('Body with a NUL');
    expect(nul.messages[0].text).not.toContain('\u0000');

    expect((await showJson(cfg, byName('bad-charset.eml'))).messages[0].text).toContain('bytes in a charset nobody knows');
    const html = ((await showJson(cfg, byName('html-script.eml'))).messages[0].text as string).replace(/\u00a0/g, ' ');
    expect(html).toContain('Visible text & more');
    expect(html).not.toContain('alert');

    // A CR/LF smuggled in an encoded subject or a display name never survives as a line break.
    const inj = await caseOf(byName('header-injection.eml'));
    expect(inj.subject).not.toMatch(/[\r\n]/);
    expect(inj.customer_name ?? '').not.toMatch(/[\r\n]/);
    expect(inj.customer_address).toBe('evil@customer.test');

    expect((await showJson(cfg, byName('broken-mime.eml'))).messages[0].text).toContain('multipart never ends');
    expect(await caseOf(byName('empty.eml'))).toMatchObject({ customer_address: '', subject: '' });
    // A multipart without a boundary decodes to nothing: flagged, and its body shown raw.
    expect(await flagsOf(byName('missing-boundary.eml'))).toEqual(['unparsed']);
    expect((await showJson(cfg, byName('missing-boundary.eml'))).messages[0].text).toContain('hello');
  });

  it('stops after max_parts on 2,000 parts and flags the case `truncated` (fails on unbounded parsing)', async () => {
    const id = (await deliver('many-parts', manyParts(2000)))!;
    expect(await flagsOf(id)).toContain('truncated');
    const detail = await showJson(cfg, id);
    expect(detail.messages[0].text).toContain('before thousands of attachments');
    expect(detail.messages[0].attachments.length).toBeGreaterThan(0);
    expect(detail.messages[0].attachments.length).toBeLessThanOrEqual(500);
  });

  it('keeps a 2 MB header block unparsed but still reads sender and subject from it (fails if it is dropped)', async () => {
    const id = (await deliver('huge-header', hugeHeader(2 * 1024 * 1024)))!;
    expect(await caseOf(id)).toMatchObject({ customer_address: 'bomb@customer.test', subject: 'A huge header' });
    expect(await flagsOf(id)).toContain('unparsed');
    expect(daemon.logs.some((l) => l.parse === 'unparsed' && l.case === id && /header block larger/.test(l.problem))).toBe(true);
  });

  it('flags mail over max_message_size `oversize`, reading only its headers (fails if a big body is parsed)', async () => {
    const id = (await deliver('long-line', longLine(5 * 1024 * 1024)))!;
    expect(await caseOf(id)).toMatchObject({ subject: 'One endless line', customer_address: 'line@customer.test' });
    expect(await flagsOf(id)).toEqual(['oversize']);
    const detail = await showJson(cfg, id);
    expect(detail.messages[0].text).toMatch(/over the size limit/);
  });

  it('survives 200 nested multiparts (fails on a stack overflow)', async () => {
    const id = (await deliver('deep', deepNesting(200)))!;
    expect((await caseOf(id)).subject).toBe('Deep nesting');
  });

  it('reprocess re-parses an oversize case once the limit is raised, and clears the flag (fails if raw mail cannot be parsed again)', async () => {
    const big = buildMultipart({
      from: 'later@customer.test',
      to: ALICE,
      subject: 'Parse me later',
      text: 'The text of a big message.',
      attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', content: crypto.randomBytes(3 * 1024 * 1024) }],
    });
    const id = (await deliver('reprocess', big))!;
    expect(await flagsOf(id)).toEqual(['oversize']);
    const { runCli } = await import('../support/cli');
    const raised = await writeTestConfig({
      dir: path.join(cfg.dir, 'raised'),
      listener: { port },
      overrides: { instance: { data_dir: cfg.dataDir }, ingest: { max_message_size: '25MB' } },
    });
    const r = await runCli(['reprocess', id, '--json', '--config', raised.configPath]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ case: id, messages: 1, parsed: 1, unparsed: 0, flags: [] })]);
    const detail = await showJson(cfg, id);
    expect(detail.messages[0].text).toContain('The text of a big message.');
    expect(detail.messages[0].attachments).toEqual([{ name: 'big.bin', type: 'application/octet-stream', size: 3 * 1024 * 1024 }]);
    expect(detail.history.map((h: { kind: string }) => h.kind)).toContain('reprocessed');

    // --unparsed takes every case flagged unparsed: the 2 MB header parses under a 4 MB limit.
    const headerCase = delivered.get('huge-header')!.caseId!;
    const wider = await writeTestConfig({
      dir: path.join(cfg.dir, 'wider'),
      listener: { port },
      overrides: { instance: { data_dir: cfg.dataDir }, ingest: { max_header_bytes: '4MB' } },
    });
    const all = await runCli(['reprocess', '--unparsed', '--json', '--config', wider.configPath]);
    expect(all.code, all.stderr).toBe(0);
    // The multipart without a boundary is taken too, and stays flagged: no limit makes it decodable.
    const noBoundaryCase = delivered.get('missing-boundary.eml')!.caseId!;
    const byCase = new Map((JSON.parse(all.stdout) as Array<{ case: string }>).map((x) => [x.case, x]));
    expect([...byCase.keys()].sort()).toEqual([headerCase, noBoundaryCase].sort());
    expect(byCase.get(headerCase)).toMatchObject({ parsed: 1, flags: [] });
    expect(byCase.get(noBoundaryCase)).toMatchObject({ unparsed: 1, flags: ['unparsed'] });
    expect(await flagsOf(headerCase)).toEqual([]);
  });
});

// §3 names a 50 MB attachment; this one is twice that, so that holding the message in memory
// (137 MB) would stand far above what streaming costs: the chunks in flight plus the garbage V8
// keeps until its external-memory limit (64 MB) forces a collection, measured at +30..+48 MB.
describe('a 100 MB attachment over IMAP', () => {
  let dovecot: DovecotInstance;

  beforeAll(async () => {
    dovecot = await startDovecot();
  });
  afterAll(async () => {
    await dovecot?.stop();
  });

  it('becomes a case with the attachment streamed to disk, and peak RSS stays bounded (fails if the message is held in memory)', async () => {
    const cfg = await writeTestConfig({
      imap: { host: dovecot.host, port: dovecot.port },
      mailboxes: [{ id: 'big', address: ALICE, pool: 'general' }],
      overrides: { ingest: { max_message_size: '200MB' } },
    });
    const db = await openDb(cfg);
    const daemon = await startDaemon(cfg.configPath);
    try {
      const content = crypto.randomBytes(100 * 1024 * 1024);
      const sha = crypto.createHash('sha256').update(content).digest('hex');
      const messageId = newMessageId();
      const raw = buildMultipart({
        from: 'big@customer.test',
        to: ALICE,
        subject: 'A hundred megabytes',
        text: 'See the attachment.',
        attachments: [{ filename: 'scan.tiff', contentType: 'image/tiff', content }],
        messageId,
      });
      // Settle, then take the baseline once a small message has gone the same way: the parser
      // thread and the IMAP fetch path exist before it, so the growth measured is the big message's.
      await waitFor(() => daemon.logs.some((l) => l.event === 'mailbox.connected'), { what: 'the worker connected' });
      const warmId = newMessageId();
      const warm = buildMultipart({
        from: 'big@customer.test',
        to: ALICE,
        subject: 'A small one first',
        text: 'Warming up.',
        attachments: [{ filename: 'small.bin', contentType: 'application/octet-stream', content: crypto.randomBytes(64 * 1024) }],
        messageId: warmId,
      });
      await appendMail(dovecot, ALICE, 'INBOX', warm);
      await waitForInbound(db, warmId, 'the small message accepted');
      const before = memoryOf(daemon.proc.pid!);
      await appendMail(dovecot, ALICE, 'INBOX', raw);
      const row = await waitForInbound(db, messageId, 'the 100 MB message accepted', 120_000);
      const after = memoryOf(daemon.proc.pid!);
      const growth = after.peakMb - before.peakMb;
      console.log(
        `100 MB attachment (${(raw.length / 1048576).toFixed(1)} MB message): daemon peak RSS ${before.peakMb} MB before, ${after.peakMb} MB after (+${growth} MB); RSS now ${after.rssMb} MB`,
      );

      const att = await db.db.selectFrom('attachments').selectAll().where('message_row_id', '=', row.message_row_id!).executeTakeFirstOrThrow();
      expect(att).toMatchObject({ filename: 'scan.tiff', content_type: 'image/tiff', size: content.length, sha256: sha });
      expect(fs.statSync(rawPath(cfg.dataDir, row.sha256)).size).toBe(raw.length);
      // Holding the message would take at least its own size on top of the baseline; streamed, the
      // growth does not depend on it. Bounded at 70% of the message: 96 MB, twice what was measured.
      expect(growth).toBeLessThan(Math.floor((0.7 * raw.length) / 1048576));
      expect(await daemon.stop()).toBe(0);
    } finally {
      await daemon.kill();
      await db.close();
    }
  });
});
