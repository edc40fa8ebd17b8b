// Auto-responses: what arrives at the customer (through the drainer and a real SMTP sink), which
// template wins, and every case where RFC 3834 or the rate limits say no.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeTx } from '../../src/db/connection';
import { setClockOffset } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { maybeQueueAutoResponse } from '../../src/outbound/autoresponse';
import { autoResponseRefusal } from '../../src/outbound/rfc3834';
import { drainOnce } from '../../src/outbound/drainer';
import { queueMail } from '../../src/outbound/queue';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { factsFromRaw, insertCase, mail, outboundEnv, writeTemplate, type OutboundEnv, replyInput } from './helpers';

const SISIMAI = path.resolve(__dirname, '../../../shared/corpus/sisimai-set-of-emails');
const hasCorpus = fs.existsSync(SISIMAI);

let counter = 0;
function uniqueCustomer(): string {
  counter += 1;
  return `customer${counter}@example.org`;
}

async function respond(
  env: OutboundEnv,
  raw: string | Buffer,
  opts: { mailbox?: string; envelopeFrom?: string | null; customer?: string; language?: string } = {},
) {
  const inbound = await factsFromRaw(raw, opts.envelopeFrom);
  const box = env.config.mailboxes.find((m) => m.id === (opts.mailbox ?? 'support'))!;
  const caseId = await insertCase(env, {
    mailbox: box.id,
    customer: inbound.from?.address ?? opts.customer ?? 'unknown@example.org',
    subject: inbound.subject,
    ...(opts.language ? { language: opts.language } : {}),
  });
  const result = await writeTx(env.opened.db, (tx) => maybeQueueAutoResponse(tx, { config: env.config, caseId, mailbox: box, inbound, supervisors: [] }));
  return { caseId, result, inbound };
}

function ctx(env: OutboundEnv) {
  return { config: env.config, db: env.opened.db, log: silentLogger() };
}

describe('auto-responses', () => {
  let sink: SmtpSink;
  let env: OutboundEnv;

  beforeAll(async () => {
    sink = await startSmtpSink();
    env = await outboundEnv({ smtp: { host: sink.host, port: sink.port } });
  });
  afterEach(() => {
    setClockOffset(0);
    sink.reset();
  });
  afterAll(async () => {
    await env?.close();
    await sink?.stop();
  });

  it('arrives with the case tag, the customer thread, Auto-Submitted, the box as From, and no quoted text', async () => {
    const customer = uniqueCustomer();
    const raw = mail(
      {
        From: `Carla Customer <${customer}>`,
        'Message-ID': '<first@example.org>',
        References: '<root@example.org> <prev@example.org>',
        Subject: 'Card swallowed by ATM',
      },
      'SECRET-CUSTOMER-TEXT: my PIN is 1234\n',
    );
    const { caseId, result } = await respond(env, raw);
    expect(result).toMatchObject({ queued: true });
    await drainOnce(ctx(env));
    expect(sink.messages).toHaveLength(1);
    const got = sink.messages[0]!;
    expect(got.envelope.to).toEqual([customer]);
    expect(got.parsed.subject).toBe(`[${caseId}] We have received your message: Card swallowed by ATM`);
    expect(got.parsed.inReplyTo).toBe('<first@example.org>');
    expect(got.parsed.references).toEqual(['<root@example.org>', '<prev@example.org>', '<first@example.org>']);
    expect(got.parsed.headers.get('auto-submitted')).toBe('auto-replied');
    expect(got.parsed.headers.get('x-mailwarden-instance')).toBe('TEST');
    expect(got.parsed.from?.value[0]?.address).toBe('alice@example.test');
    expect(got.parsed.text).toContain(caseId);
    expect(got.raw.toString()).not.toContain('SECRET-CUSTOMER-TEXT');
    expect(got.raw.toString()).not.toContain('1234');

    const events = await env.opened.db.selectFrom('case_events').selectAll().where('case_id', '=', caseId).where('kind', '=', 'auto_response').execute();
    expect(events.map((e) => e.to_value)).toEqual(['queued']);
    const msg = await env.opened.db
      .selectFrom('messages')
      .selectAll()
      .where('case_id', '=', caseId)
      .where('kind', '=', 'auto_response')
      .executeTakeFirstOrThrow();
    expect(msg).toMatchObject({ state: 'sent', message_id: got.messageId, is_auto_reply: 1 });
  });

  it('takes the pool override over the default, and the mailbox override over the pool', async () => {
    const send = async (mailbox: string) => {
      sink.reset();
      const { result } = await respond(env, mail({ From: uniqueCustomer() }), { mailbox });
      expect(result.queued).toBe(true);
      await drainOnce(ctx(env));
      expect(sink.messages).toHaveLength(1);
      return sink.messages[0]!.parsed;
    };
    // cards box (pool cards) before any override: the default template.
    expect((await send('cards')).text).toContain('thank you for writing to Test Desk');

    writeTemplate(
      env,
      'pools/cards/auto-response.hbs',
      'Subject: Cards got it: {{case.subject}}\n\nPOOL-OVERRIDE for {{case.pool.name}} via {{mailbox.address}}\n',
    );
    const pooled = await send('cards');
    expect(pooled.text).toContain('POOL-OVERRIDE for Payment cards via bob@example.test');
    expect(pooled.subject).toMatch(/^\[TEST-\d{6}\] Cards got it: /);

    writeTemplate(env, 'mailboxes/cards/auto-response.hbs', 'Subject: {{case.tag}} Box got it\n\nMAILBOX-OVERRIDE\n');
    expect((await send('cards')).text).toContain('MAILBOX-OVERRIDE');
    // The other pool's box is untouched by both overrides.
    expect((await send('support')).text).toContain('thank you for writing to Test Desk');
  });

  it('answers a Polish case with the Polish translation of the template', async () => {
    const { caseId, result } = await respond(env, mail({ From: uniqueCustomer(), Subject: 'Zablokowana karta' }), { language: 'pl' });
    expect(result.queued).toBe(true);
    await drainOnce(ctx(env));
    const got = sink.messages[0]!;
    expect(got.parsed.subject).toBe(`[${caseId}] Otrzymaliśmy Państwa wiadomość: Zablokowana karta`);
    expect(got.parsed.text).toContain(`Zarejestrowaliśmy ją jako sprawę\n${caseId}`);
  });

  const refusals: Array<[string, () => { raw: string | Buffer; envelopeFrom?: string | null }, RegExp]> = [
    ['Auto-Submitted: auto-replied', () => ({ raw: mail({ From: uniqueCustomer(), 'Auto-Submitted': 'auto-replied' }) }), /Auto-Submitted: auto-replied/],
    ['Auto-Submitted: auto-generated', () => ({ raw: mail({ From: uniqueCustomer(), 'Auto-Submitted': 'auto-generated; reason=x' }) }), /Auto-Submitted/],
    ['the null sender from an MTA (MAIL FROM:<>)', () => ({ raw: mail({ From: uniqueCustomer() }), envelopeFrom: '' }), /null sender/],
    ['the null sender in Return-Path: <>', () => ({ raw: mail({ 'Return-Path': '<>', From: uniqueCustomer() }) }), /null sender/],
    ['List-Id', () => ({ raw: mail({ From: uniqueCustomer(), 'List-Id': '<news.example.org>' }) }), /list mail \(list-id\)/],
    ['Precedence: bulk', () => ({ raw: mail({ From: uniqueCustomer(), Precedence: 'bulk' }) }), /Precedence: bulk/],
    ['Precedence: junk', () => ({ raw: mail({ From: uniqueCustomer(), Precedence: 'junk' }) }), /Precedence: junk/],
    ['noreply@', () => ({ raw: mail({ From: 'Shop <noreply@shop.example>' }) }), /machine address noreply@shop.example/],
    ['no-reply-style local parts', () => ({ raw: mail({ From: 'notifications-no-reply@bank.example' }) }), /machine address/],
    ['MAILER-DAEMON', () => ({ raw: mail({ From: 'MAILER-DAEMON@mx.example.org' }) }), /machine address/],
    [
      'a multipart/report DSN',
      () => ({
        raw: mail(
          { From: uniqueCustomer(), 'Content-Type': 'multipart/report; report-type=delivery-status; boundary="b"' },
          '--b\nContent-Type: text/plain\n\nfailed\n--b--\n',
        ),
      }),
      /delivery or disposition report/,
    ],
    ['one of our own mailboxes', () => ({ raw: mail({ From: 'bob@example.test' }) }), /our own mailbox/],
    ['another mailwarden instance', () => ({ raw: mail({ From: uniqueCustomer(), 'X-Mailwarden-Instance': 'OTHER' }) }), /mailwarden instance/],
  ];

  for (const [name, make, reason] of refusals) {
    it(`sends none to ${name}`, async () => {
      const { raw, envelopeFrom } = make();
      const { caseId, result } = await respond(env, raw, { envelopeFrom });
      expect(result.queued).toBe(false);
      expect(result.reason).toMatch(reason);
      const events = await env.opened.db.selectFrom('case_events').selectAll().where('case_id', '=', caseId).where('kind', '=', 'auto_response').execute();
      expect(events.map((e) => [e.to_value, JSON.parse(e.data!).reason])).toEqual([['suppressed', result.reason]]);
      expect(await env.opened.db.selectFrom('outbox').select('id').where('case_id', '=', caseId).execute()).toEqual([]);
      await drainOnce(ctx(env));
      expect(sink.messages).toEqual([]);
    });
  }

  it('sends none to mailwarden’s own mail (a message it composed itself)', async () => {
    const caseId = await insertCase(env, { customer: uniqueCustomer() });
    const own = await writeTx(env.opened.db, (tx) =>
      queueMail(
        tx,
        replyInput(env, caseId, {
          from: { address: 'carol@example.test' },
          to: [{ address: 'alice@example.test' }],
          messageKind: null,
        }),
      ),
    );
    const row = await env.opened.db.selectFrom('outbox').select('mime').where('id', '=', own.outboxId).executeTakeFirstOrThrow();
    await env.opened.db.deleteFrom('outbox').where('id', '=', own.outboxId).execute();
    const { result } = await respond(env, row.mime);
    expect(result).toEqual({ queued: false, reason: 'mail from a mailwarden instance' });
  });

  it.skipIf(!hasCorpus)('sends none to a real Postfix bounce, even stripped of its other machine signs', async () => {
    const bounce = fs.readFileSync(path.join(SISIMAI, 'maildir__bsd__lhost-postfix-01.eml'), 'utf8');
    expect((await respond(env, bounce)).result.queued).toBe(false);
    const disguised = bounce
      .replace(/^Return-Path: <>\n/m, '')
      .replace(/^Auto-Submitted: .*\n/m, '')
      .replace(/^From: MAILER-DAEMON.*$/m, `From: ${uniqueCustomer()}`);
    const { result } = await respond(env, disguised);
    expect(result).toEqual({ queued: false, reason: 'delivery or disposition report' });
  });

  it.skipIf(!hasCorpus)('refuses every bounce of the sisimai corpus except a human forwarding one', async () => {
    const files = fs.readdirSync(SISIMAI).filter((f) => /^maildir__bsd__(lhost|rfc3464|rfc3834)-/.test(f));
    expect(files.length).toBeGreaterThan(300);
    const answered: string[] = [];
    for (const f of files) {
      const facts = await factsFromRaw(fs.readFileSync(path.join(SISIMAI, f)));
      if (autoResponseRefusal(facts) === null) answered.push(f);
    }
    // sendmail-14 is a person forwarding a bounce with "Fwd:"; answering them is right.
    expect(answered).toEqual(['maildir__bsd__lhost-sendmail-14.eml']);
  });

  it('answers only one of five mails from one sender within the window, and again after it', async () => {
    const customer = uniqueCustomer();
    const results = [];
    for (let i = 0; i < 5; i++) results.push((await respond(env, mail({ From: customer, Subject: `Question ${i}` }))).result);
    expect(results.map((r) => r.queued)).toEqual([true, false, false, false, false]);
    expect(results[1]!.reason).toBe(`already answered ${customer} within the window`);
    await drainOnce(ctx(env));
    expect(sink.messages.filter((m) => m.envelope.to.includes(customer))).toHaveLength(1);

    setClockOffset(env.config.auto_response.window + 60_000);
    expect((await respond(env, mail({ From: customer.toUpperCase() }))).result.queued).toBe(true);
  });
});

describe('auto-response configuration', () => {
  let env: OutboundEnv;
  beforeAll(async () => {
    env = await outboundEnv({
      mailboxes: [
        { id: 'support', address: 'alice@example.test', pool: 'general', auto_response: false },
        { id: 'cards', address: 'bob@example.test', pool: 'cards', auto_response: 'cards-special' },
      ],
      overrides: { auto_response: { window: '1s', daily_cap: 3 } },
      templates: { 'cards-special.hbs': 'Subject: Special\n\nSPECIAL {{case.id}}\n' },
    });
  });
  afterAll(async () => {
    setClockOffset(0);
    await env?.close();
  });

  it('sends none from a box configured with auto_response: false', async () => {
    const { result } = await respond(env, mail({ From: uniqueCustomer() }), { mailbox: 'support' });
    expect(result).toEqual({ queued: false, reason: 'no auto-response configured for this mailbox' });
  });

  it('uses the template a box names, and stops at the daily cap per recipient', async () => {
    const customer = uniqueCustomer();
    const outcomes = [];
    for (let i = 0; i < 4; i++) {
      setClockOffset(i * 60_000); // past the 1 s window each time, within one day
      const { result } = await respond(env, mail({ From: customer }), { mailbox: 'cards' });
      outcomes.push(result.queued ? 'queued' : result.reason);
    }
    expect(outcomes).toEqual(['queued', 'queued', 'queued', `daily cap of 3 reached for ${customer}`]);
    const texts = await env.opened.db.selectFrom('messages').select('text').where('kind', '=', 'auto_response').execute();
    expect(texts[0]!.text).toMatch(/^SPECIAL TEST-\d{6}/);
  });
});
