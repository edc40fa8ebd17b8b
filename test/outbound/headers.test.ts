// Header injection: a customer's display name and subject carrying CR/LF and "Bcc:" (smuggled in
// RFC 2047 encoded-words, which decode to real line breaks) must not add a header or a recipient
// to anything mailwarden sends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTx } from '../../src/db/connection';
import { silentLogger } from '../../src/log';
import { maybeQueueAutoResponse } from '../../src/outbound/autoresponse';
import { drainOnce } from '../../src/outbound/drainer';
import { displayName, headerText, isValidAddress, safeMessageId, safeReferences, validAddress } from '../../src/outbound/headers';
import { queueMail } from '../../src/outbound/queue';
import { htmlWithImages } from '../../src/outbound/compose';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { factsFromRaw, insertCase, mail, outboundEnv, type OutboundEnv, replyInput } from './helpers';

/** Header names of a raw message's top-level header block. */
function headerNames(raw: Buffer): string[] {
  const head = raw.toString('latin1').split('\r\n\r\n')[0]!;
  return head
    .split('\r\n')
    .filter((l) => !/^[ \t]/.test(l))
    .map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
}

describe('header sanitising (unit)', () => {
  it('flattens control characters and line breaks to single spaces', () => {
    expect(headerText('Help\r\nBcc: x@evil.example\u0000\u2028now')).toBe('Help Bcc: x@evil.example now');
    expect(displayName('Eve\r\nBcc: "x" <x@evil.example>')).toBe('Eve Bcc: x x@evil.example');
    expect(displayName(' \r\n ')).toBeUndefined();
  });

  it('validates addresses strictly', () => {
    expect(validAddress(' Carla@Example.ORG ')).toBe('carla@example.org');
    for (const bad of [
      'a@b',
      'a b@example.org',
      'a@example.org\r\nBcc: x@y.z',
      '<a@example.org>',
      'a@@example.org',
      '.a@example.org',
      'a..b@example.org',
      '',
    ]) {
      expect(isValidAddress(bad), bad).toBe(false);
    }
    expect(() => validAddress('x@y\nBcc: z@w.example', 'recipient')).toThrow(/not a valid e-mail address/);
  });

  it('drops Message-IDs that are not <local@domain>', () => {
    expect(safeMessageId('<a@b.example>')).toBe('<a@b.example>');
    expect(safeMessageId('a@b.example')).toBe('<a@b.example>');
    expect(safeMessageId('<a@b>\r\nBcc: x@y.z')).toBeNull();
    expect(safeReferences(['<1@x>', 'junk', '<1@x>', '<2@x>'])).toEqual(['<1@x>', '<2@x>']);
    const many = Array.from({ length: 50 }, (_, i) => `<${i}@x>`);
    const kept = safeReferences(many);
    expect(kept).toHaveLength(20);
    expect(kept[0]).toBe('<0@x>');
    expect(kept.at(-1)).toBe('<49@x>');
  });
});

describe('the HTML alternative (unit)', () => {
  it('escapes the consultant text and the image ids, so nothing typed becomes markup', () => {
    const html = htmlWithImages('Fish & Chips <script>alert(1)</script> "quoted"', ['a"><b>@x']);
    expect(html).toContain('Fish &amp; Chips &lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot;');
    expect(html).toContain('<img src="cid:a&quot;&gt;&lt;b&gt;@x" alt="">');
    expect(html).not.toContain('<script>');
  });
});

describe('header injection through real mail', () => {
  let sink: SmtpSink;
  let env: OutboundEnv;
  beforeAll(async () => {
    sink = await startSmtpSink();
    env = await outboundEnv({ smtp: { host: sink.host, port: sink.port } });
  });
  afterAll(async () => {
    await env?.close();
    await sink?.stop();
  });

  it('keeps the auto-response headers intact when the name and subject carry CR/LF and Bcc:', async () => {
    const raw = mail({
      From: '=?UTF-8?Q?Eve=0D=0ABcc=3A_victim=40evil=2Eexample?= <eve@example.org>',
      Subject: '=?UTF-8?Q?Hello=0D=0ABcc=3A_victim=40evil=2Eexample=0D=0AX-Evil=3A_1?=',
    });
    const inbound = await factsFromRaw(raw);
    // The decoded inbound values really do contain line breaks: the attack is live.
    expect(inbound.from?.name).toContain('\n');
    expect(inbound.subject).toContain('\nBcc:');
    const box = env.config.mailboxes[0]!;
    const caseId = await insertCase(env, { customer: inbound.from!.address, customerName: inbound.from!.name!, subject: inbound.subject });
    const result = await writeTx(env.opened.db, (tx) => maybeQueueAutoResponse(tx, { config: env.config, caseId, mailbox: box, inbound, supervisors: [] }));
    expect(result.queued).toBe(true);
    await drainOnce({ config: env.config, db: env.opened.db, log: silentLogger() });

    expect(sink.messages).toHaveLength(1);
    const got = sink.messages[0]!;
    expect(got.envelope.to).toEqual(['eve@example.org']);
    const names = headerNames(got.raw);
    expect(names).not.toContain('bcc');
    expect(names).not.toContain('x-evil');
    expect(names.filter((n) => n === 'to')).toHaveLength(1);
    expect(got.parsed.bcc).toBeUndefined();
    expect(got.parsed.to && !Array.isArray(got.parsed.to) ? got.parsed.to.value.map((a) => a.address) : null).toEqual(['eve@example.org']);
    expect(got.parsed.subject).toBe(`[${caseId}] We have received your message: Hello Bcc: victim@evil.example X-Evil: 1`);
    expect(got.parsed.headers.get('x-evil')).toBeUndefined();
  });

  it('refuses a recipient address with CR/LF instead of sending anything', async () => {
    const caseId = await insertCase(env);
    await expect(
      writeTx(env.opened.db, (tx) => queueMail(tx, replyInput(env, caseId, { to: [{ address: 'eve@example.org\r\nBcc: victim@evil.example', name: 'Eve' }] }))),
    ).rejects.toMatchObject({ code: 'EBADADDRESS', kind: 'data' });
  });

  it('keeps reply headers intact when template variables carry CR/LF', async () => {
    sink.reset();
    const caseId = await insertCase(env, { subject: 'Hi\r\nBcc: victim@evil.example', customerName: 'Eve\r\nBcc: victim@evil.example' });
    await writeTx(env.opened.db, (tx) =>
      queueMail(
        tx,
        replyInput(env, caseId, {
          from: { address: 'alice@example.test', name: 'Desk\r\nBcc: victim@evil.example' },
          to: [{ address: 'eve@example.org', name: 'Eve\r\nBcc: victim@evil.example' }],
          vars: { reply: { text: 'Body lines\r\nBcc: are fine in a body.' } },
        }),
      ),
    );
    await drainOnce({ config: env.config, db: env.opened.db, log: silentLogger() });
    const got = sink.messages[0]!;
    expect(got.envelope.to).toEqual(['eve@example.org']);
    expect(headerNames(got.raw)).not.toContain('bcc');
    expect(got.parsed.subject).toBe(`[${caseId}] Re: Hi Bcc: victim@evil.example`);
    expect(got.parsed.text).toContain('Bcc: are fine in a body.');
  });
});
