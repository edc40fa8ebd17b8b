// The pure pieces of ingest, without servers: the header-block reader, the content fingerprint,
// classification, priority rules and the reconnect backoff (language detection: language.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/ingest/backoff';
import { classifyInbound } from '../../src/ingest/classify';
import { locateHead, parseFields, readHead } from '../../src/ingest/header-block';
import { contentFingerprint } from '../../src/ingest/fingerprint';
import { priorityFor } from '../../src/cases/open-from-mail';
import { parseMessageFile } from '../../src/ingest/parse-core';
import { fileSource } from '../../src/ingest/raw-source';
import type { PoolConfig } from '../../src/config/types';
import { makeTempDir, removeTempDir } from '../support/tmp';
import { splitMbox } from './helpers';

const LIMITS = { maxMessageSize: 25 * 1024 * 1024, maxParts: 500, maxHeaderBytes: 1024 * 1024 };

describe('ingest units', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('mw-units-');
  });
  afterAll(async () => {
    await removeTempDir(dir);
  });

  const file = (name: string, bytes: string | Buffer) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    return p;
  };
  const fingerprint = async (name: string, bytes: string) => {
    const p = file(name, bytes);
    return (await contentFingerprint(fileSource(p), await readHead(fileSource(p), LIMITS.maxHeaderBytes))).fingerprint;
  };

  it('gives one fingerprint to a message whatever its line endings and trace headers, and a new one for any other change (fails on false dedupe)', async () => {
    const body = 'From: a@customer.test\nSubject: hi\nMessage-ID: <x@y>\n\nline one\nline two\n';
    const lf = await fingerprint('lf', body);
    expect(await fingerprint('crlf', body.replace(/\n/g, '\r\n'))).toBe(lf);
    expect(await fingerprint('cr', body.replace(/\n/g, '\r'))).toBe(lf);
    expect(
      await fingerprint('trace', `Return-Path: <a@customer.test>\nDelivered-To: bob@example.test\nReceived: from mx by us;\n  Mon, 1 Jan 2024\n${body}`),
    ).toBe(lf);
    expect(await fingerprint('extra-newline', `${body}\n\n`)).toBe(lf);
    expect(await fingerprint('other-body', body.replace('line two', 'line 2'))).not.toBe(lf);
    expect(await fingerprint('other-id', body.replace('<x@y>', '<z@y>'))).not.toBe(lf);
    // Bodies longer than one read (256 KB), with a CRLF split across two reads.
    const long = `${'x'.repeat(256 * 1024 - 60)}\n${'y'.repeat(300 * 1024)}\n`;
    expect(await fingerprint('long-crlf', `${body}${long}`.replace(/\n/g, '\r\n'))).toBe(await fingerprint('long-lf', `${body}${long}`));
    // Junk without any header field must not collide with an empty message.
    expect(await fingerprint('junk', '\u0001\u0002 no header here')).not.toBe(await fingerprint('empty', ''));
  });

  it('finds the header block with CR-only endings, an mbox From line, and none at all (fails on a misplaced body)', () => {
    const cr = locateHead(Buffer.from('Subject: a\rFrom: b@c\r\rbody\r'), 28, 1024);
    expect(cr).toMatchObject({ lineEnding: 'cr', complete: true, bodyOffset: 22 });
    expect(parseFields(cr.block).map((f) => f.name)).toEqual(['subject', 'from']);
    const mbox = locateHead(Buffer.from('From someone Mon Jan 1\nSubject: x\n\nbody'), 39, 1024);
    expect(mbox.startOffset).toBe(23);
    expect(parseFields(mbox.block)).toEqual([{ name: 'subject', value: 'x' }]);
    const big = locateHead(Buffer.from(`Subject: x\n${'X-A: b\n'.repeat(500)}`), 100_000, 1024);
    expect(big.complete).toBe(false);
  });

  it('renders an HTML-only mail as readable text: table rows, link addresses, entities, no script or style (fails on markup or script in the case text)', async () => {
    const html = [
      '<html><head><title>Order</title><style>p { color: red }</style><script>alert("head")</script></head><body>',
      '<p>Dear&nbsp;support,</p><p>my order &amp; invoice &lt;#A1234&gt; cost &euro;12&#44;50 &mdash; caf&eacute;.</p>',
      '<table><tr><th>Item</th><th>Qty</th></tr><tr><td>Card</td><td>2</td></tr><tr><td>Reader</td><td>1</td></tr></table>',
      '<p>Details: <a href="https://shop.example/orders/1">my order</a>, also https://x.example</p>',
      '<script type="text/javascript">var secret = "tracking";</script><img src="cid:logo" alt="Logo">',
      '<div>Thanks,<br>Anna</div></body></html>',
    ].join('\n');
    const p = file(
      'html-only.eml',
      `From: anna@customer.test\r\nSubject: Order\r\nMessage-ID: <html@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n`,
    );
    const parsed = await parseMessageFile({ file: p, dataDir: dir, limits: LIMITS });
    const text = parsed.text.replace(/\u00a0/g, ' ');
    expect(text).toContain('Dear support,');
    expect(text).toContain('my order & invoice <#A1234> cost €12,50 — café.');
    expect(text).toMatch(/Item +Qty\nCard +2\nReader +1/);
    expect(text).toContain('my order [https://shop.example/orders/1]');
    expect(text).toContain('Thanks,\nAnna');
    expect(text).not.toMatch(/alert|secret|tracking|color: red|<\/?[a-z]|cid:/i);
    expect(parsed.flags).toEqual([]);
  });

  it('leaves pathologically nested HTML unrendered instead of spending minutes on it (fails on a stalled parser thread)', async () => {
    const deep = `${'<b>'.repeat(100_000)}x${'</b>'.repeat(100_000)}`;
    const p = file('html-deep.eml', `From: a@customer.test\r\nSubject: Deep\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n${deep}\r\n`);
    // A stalled converter would run into the test's timeout; nothing here measures time.
    const parsed = await parseMessageFile({ file: p, dataDir: dir, limits: LIMITS });
    expect(parsed.subject).toBe('Deep');
    // Not rendered, so nothing decoded: flagged, and the raw body shown to the consultant.
    expect(parsed.flags).toEqual(['unparsed']);
    expect(parsed.text.startsWith('<b><b><b>')).toBe(true);
  });

  it("shows a forwarded message's Date it cannot read as unreadable, not as the time of the parse (fails if two parses of the same bytes can differ)", async () => {
    const forwarded = (date: string) =>
      [
        'From: a@customer.test',
        'Subject: Fwd',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        'See below.',
        '--b',
        'Content-Type: message/rfc822',
        'Content-Disposition: inline',
        '',
        'From: b@example.jp',
        'Subject: Inner',
        `Date: ${date}`,
        '',
        'Hello.',
        '--b--',
        '',
      ].join('\r\n');
    const unreadable = await parseMessageFile({ file: file('fwd-jst.eml', forwarded('Sat, 06 Jul 2013 23:34:45 JST')), dataDir: dir, limits: LIMITS });
    expect(unreadable.text).toContain('Subject: Inner\nDate: unreadable\n');
    const readable = await parseMessageFile({ file: file('fwd-utc.eml', forwarded('Sat, 06 Jul 2013 23:34:45 +0900')), dataDir: dir, limits: LIMITS });
    expect(readable.text).toContain('Date: Sat, 06 Jul 2013 14:34:45 GMT\n');
  });

  it('classifies DSNs, delay reports, out-of-office replies and a postmaster writing real mail (fails on suppressing customer mail)', async () => {
    const parse = async (name: string, text: string) => parseMessageFile({ file: file(name, text), dataDir: dir, limits: LIMITS });
    const dsn = await parse(
      'dsn',
      'From: MAILER-DAEMON@mx.test\nSubject: Undelivered Mail\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nAction: failed\nStatus: 5.1.1\n\n--b\nContent-Type: text/rfc822-headers\n\nMessage-ID: <mw.1@example.test>\n\n--b--\n',
    );
    expect(classifyInbound(dsn)).toMatchObject({ kind: 'bounce', failure: true });
    expect(dsn.quotedMessageIds).toContain('<mw.1@example.test>');
    const delayed = await parse(
      'delay',
      'From: MAILER-DAEMON@mx.test\nSubject: Delayed Mail\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nAction: delayed\n\n--b--\n',
    );
    expect(classifyInbound(delayed)).toMatchObject({ kind: 'bounce', failure: false });
    const ooo = await parse('ooo', 'From: x@customer.test\nSubject: Automatic reply: your case\n\nI am away.\n');
    expect(classifyInbound(ooo).kind).toBe('auto_reply');
    const postmaster = await parse('pm', 'From: postmaster@customer.test\nSubject: Please block my card\n\nThanks.\n');
    expect(classifyInbound(postmaster).kind).toBe('normal');
    const customer = await parse('normal', 'From: x@customer.test\nSubject: My payment bounced\n\nHelp.\n');
    expect(classifyInbound(customer).kind).toBe('normal');
  });

  it('raises priority by the highest matching rule, never lowers it (fails on a wrong priority)', () => {
    const pool = {
      priority_rules: [
        { subject_contains: 'Fraud', priority: 'high' },
        { from_domain: 'vip.test', priority: 'urgent' },
        { subject_contains: 'newsletter', priority: 'low' },
      ],
    } as PoolConfig;
    expect(priorityFor(pool, 'possible FRAUD', 'a@b.test')).toBe('high');
    expect(priorityFor(pool, 'possible fraud', 'a@mail.vip.test')).toBe('urgent');
    expect(priorityFor(pool, 'newsletter', 'a@b.test')).toBe('normal');
    expect(priorityFor(pool, 'hello', null)).toBe('normal');
  });

  it('flags a body nothing could be decoded from `unparsed` and shows it raw (fails on an empty, unflagged case)', async () => {
    // A multipart without a boundary whose one part has an unknown charset and broken base64.
    const allWrong = [
      'From: x@customer.test',
      'To: alice@example.test',
      'Subject: all wrong',
      'Message-ID: <allwrong@customer.test>',
      'Content-Type: multipart/mixed',
      '',
      '--zz',
      'Content-Type: text/plain; charset=x-no-such-charset',
      'Content-Transfer-Encoding: base64',
      '',
      '!!!not base64 at all***',
      '--zz--',
      '',
    ].join('\r\n');
    const parsed = await parseMessageFile({ file: file('all-wrong.eml', allWrong), dataDir: dir, limits: LIMITS });
    expect(parsed).toMatchObject({ status: 'unparsed', flags: ['unparsed'], problem: 'the body could not be decoded into text; it is shown as it arrived' });
    expect(parsed.text).toContain('!!!not base64 at all***');
    // A mail that really is empty stays an ordinary, unflagged message.
    const empty = await parseMessageFile({
      file: file('empty-body.eml', 'From: x@customer.test\r\nSubject: nothing\r\n\r\n\r\n'),
      dataDir: dir,
      limits: LIMITS,
    });
    expect(empty).toMatchObject({ status: 'parsed', flags: [], text: expect.stringMatching(/^\s*$/) });
  });

  it('backs off exponentially with jitter up to the cap (fails on a hot reconnect loop)', () => {
    const opts = { baseMs: 1000, capMs: 60_000 };
    expect(backoffDelay(1, { ...opts, random: () => 0 })).toBe(500);
    expect(backoffDelay(1, { ...opts, random: () => 1 })).toBe(1000);
    expect(backoffDelay(4, { ...opts, random: () => 1 })).toBe(8000);
    expect(backoffDelay(40, { ...opts, random: () => 1 })).toBe(60_000);
    expect(backoffDelay(40, { ...opts, random: () => 0 })).toBe(30_000);
  });

  it('splits an mbox on its From lines only after a blank line (fails on splitting a body)', () => {
    const mbox = Buffer.from('From a Mon\nSubject: 1\n\nbody\nFrom the start of a sentence\n\nFrom b Tue\nSubject: 2\n\nx\n');
    expect(splitMbox(mbox).map((b) => b.toString().split('\n')[1])).toEqual(['Subject: 1', 'Subject: 2']);
  });
});
