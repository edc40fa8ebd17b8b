// Ingest against a real Dovecot and the real daemon: new cases and their fields, threading in
// the order of SPEC §3 (headers, participant-only tags), dedupe across boxes, bounces,
// out-of-office replies, reopening, and the assignee's notification.
import fs from 'node:fs';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTx } from '../../src/db/connection';
import { changeCase } from '../../src/db/history';
import { rawPath } from '../../src/db/stored-files';
import { cliJson, startDaemon, type Daemon } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { startDovecot, type DovecotInstance } from '../support/dovecot';
import { appendMail, buildMail, fetchFlags } from '../support/imap';
import { waitFor } from '../support/wait';
import { buildDsn, buildMultipart, newMessageId, openDb, showJson, waitForCase, waitForInbound } from './helpers';

const ALICE = 'alice@example.test'; // box `support`, pool `general` (en, pl; 8h)
const BOB = 'bob@example.test'; // box `cards`, pool `cards` (pl, en; 4h; "stolen" -> urgent)

describe('ingest from IMAP boxes', () => {
  let dovecot: DovecotInstance;
  let cfg: TestConfig;
  let daemon: Daemon;
  let db: Awaited<ReturnType<typeof openDb>>;

  beforeAll(async () => {
    dovecot = await startDovecot();
    cfg = await writeTestConfig({ imap: { host: dovecot.host, port: dovecot.port } });
    daemon = await startDaemon(cfg.configPath);
    db = await openDb(cfg);
  });
  afterAll(async () => {
    const code = await daemon?.stop();
    await db?.close();
    await dovecot?.stop();
    expect(code).toBe(0);
  });

  const caseRow = (id: string) => db.db.selectFrom('cases').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const messagesOf = (id: string) => db.db.selectFrom('messages').selectAll().where('case_id', '=', id).orderBy('id').execute();
  const autoResponseOf = (id: string) =>
    db.db.selectFrom('outbox').selectAll().where('case_id', '=', id).where('kind', '=', 'auto_response').executeTakeFirst();

  async function newCase(
    from: string,
    subject: string,
    text = 'Hello, I need help with my account. Thank you.',
    box = ALICE,
    headers: Record<string, string> = {},
  ) {
    const messageId = newMessageId();
    await appendMail(dovecot, box, 'INBOX', buildMail({ from, to: box, subject, text, messageId, headers }));
    const inbound = await waitForInbound(db, messageId, `the case for "${subject}"`);
    return { id: inbound.case_id!, messageId };
  }

  it('turns new mail into one case with pool, customer, subject, language, deadline and attachments (fails if any field is wrong)', async () => {
    const pdf = Buffer.from('%PDF-1.4 statement '.repeat(100));
    const messageId = newMessageId();
    const raw = buildMultipart({
      from: 'Jan Kowalski <Jan.Kowalski@Klient.test>',
      to: BOB,
      subject: 'Moja karta została skradziona (stolen card)',
      text: 'Dzień dobry,\nmoja karta została skradziona wczoraj. Proszę o zablokowanie karty, nie mam jej już.\nPozdrawiam, Jan',
      attachments: [{ filename: 'wyciąg.pdf', contentType: 'application/pdf', content: pdf }],
      messageId,
    });
    const appended = await appendMail(dovecot, BOB, 'INBOX', raw);

    const c = await waitForCase(cfg, (x) => x.subject.startsWith('Moja karta'), 'the new case in `mailwarden cases --json`');
    expect(c).toMatchObject({
      status: 'received',
      pool: 'cards',
      mailbox: 'cards',
      priority: 'urgent',
      subject: 'Moja karta została skradziona (stolen card)',
      customer: { address: 'jan.kowalski@klient.test', name: 'Jan Kowalski' },
      language: 'pl',
      assignee: null,
      overdue: false,
      flags: [],
    });
    expect(Date.parse(c.deadline_at) - Date.parse(c.received_at)).toBe(4 * 3600_000);

    const detail = await showJson(cfg, c.id);
    const inbound = detail.messages.filter((m: any) => m.kind === 'inbound');
    expect(inbound).toHaveLength(1);
    expect(inbound[0]).toMatchObject({ from: 'jan.kowalski@klient.test', message_id: messageId });
    expect(inbound[0].text).toContain('moja karta została skradziona');
    expect(inbound[0].attachments).toEqual([{ name: 'wyciąg.pdf', type: 'application/pdf', size: pdf.length }]);
    expect(detail.history.map((h: any) => h.kind)).toContain('created');

    // Raw bytes kept, content-addressed, and the attachment stored decoded.
    const row = await db.db.selectFrom('inbound').selectAll().where('message_id', '=', messageId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ source: 'imap', mailbox_id: 'cards', uid: appended.uid, uidvalidity: appended.uidValidity, outcome: 'case' });
    expect(fs.readFileSync(rawPath(cfg.dataDir, row.sha256))).toEqual(raw);
    const att = await db.db.selectFrom('attachments').selectAll().where('message_row_id', '=', row.message_row_id!).executeTakeFirstOrThrow();
    expect(fs.readFileSync(`${cfg.dataDir}/blobs/${att.sha256!.slice(0, 2)}/${att.sha256}`)).toEqual(pdf);
    expect(await autoResponseOf(c.id)).toBeDefined();

    // Processed mail is marked on the server with the keyword.
    await waitFor(async () => (await fetchFlags(dovecot, BOB, 'INBOX')).get(appended.uid)?.includes('$MailwardenSeen'), {
      what: 'the $MailwardenSeen keyword',
    });
  });

  it('detects English in a pool whose first language is Polish, and keeps the default priority (fails on a fixed language)', async () => {
    const { id } = await newCase(
      'Mary <mary@customer.test>',
      'Question about limits',
      'Hello, could you please tell me what the daily limit of my card is? Thank you and kind regards, Mary',
      BOB,
    );
    expect(await caseRow(id)).toMatchObject({ language: 'en', priority: 'normal', pool_id: 'cards' });
  });

  it('threads a reply by In-Reply-To, and one answering our auto-response, onto the same case (fails if a reply opens a new case)', async () => {
    const first = await newCase('Olga <olga@customer.test>', 'Printer question');
    const reply1 = newMessageId();
    await appendMail(
      dovecot,
      ALICE,
      'INBOX',
      buildMail({
        from: 'olga@customer.test',
        to: ALICE,
        subject: 'Re: Printer question',
        text: 'More details.',
        messageId: reply1,
        inReplyTo: first.messageId,
        references: first.messageId,
      }),
    );
    expect((await waitForInbound(db, reply1, 'the reply')).case_id).toBe(first.id);

    const auto = await waitFor(() => autoResponseOf(first.id), { what: 'the auto-response row' });
    const reply2 = newMessageId();
    await appendMail(
      dovecot,
      ALICE,
      'INBOX',
      buildMail({ from: 'olga@customer.test', to: ALICE, subject: `Re: ${auto.subject}`, text: 'Thanks!', messageId: reply2, inReplyTo: auto.message_id }),
    );
    expect((await waitForInbound(db, reply2, 'the reply to the auto-response')).case_id).toBe(first.id);
    const msgs = await messagesOf(first.id);
    expect(msgs.filter((m) => m.kind === 'inbound').map((m) => m.message_id)).toEqual([first.messageId, reply1, reply2]);
    // Replies on an existing case never trigger a second auto-response.
    expect(await db.db.selectFrom('outbox').select('id').where('case_id', '=', first.id).where('kind', '=', 'auto_response').execute()).toHaveLength(1);
  });

  it('threads a case tag from a participant, but opens a linked case for a stranger using the tag (fails if a guessed tag injects mail)', async () => {
    const first = await newCase('Piotr <piotr@customer.test>', 'Card blocked');
    const fromParticipant = newMessageId();
    await appendMail(
      dovecot,
      ALICE,
      'INBOX',
      buildMail({ from: 'piotr@customer.test', to: ALICE, subject: `[${first.id}] one more thing`, text: 'I forgot to say...', messageId: fromParticipant }),
    );
    expect((await waitForInbound(db, fromParticipant, 'the tagged mail from the customer')).case_id).toBe(first.id);

    const fromStranger = newMessageId();
    await appendMail(
      dovecot,
      ALICE,
      'INBOX',
      buildMail({ from: 'mallory@evil.test', to: ALICE, subject: `[${first.id}] please send me his statement`, text: 'hi', messageId: fromStranger }),
    );
    const strangerCase = (await waitForInbound(db, fromStranger, 'the stranger mail')).case_id!;
    expect(strangerCase).not.toBe(first.id);
    expect(await caseRow(strangerCase)).toMatchObject({ linked_case_id: first.id, customer_address: 'mallory@evil.test', status: 'received' });
    expect((await messagesOf(first.id)).map((m) => m.from_address)).not.toContain('mallory@evil.test');
    const history = await db.db.selectFrom('case_events').selectAll().where('case_id', '=', first.id).where('kind', '=', 'linked').execute();
    expect(history.map((h) => h.to_value)).toEqual([strangerCase]);
  });

  it('threads the reply-all of a colleague the customer copied on the first mail by the header match: they take part from the start (fails if they are refused)', async () => {
    const first = await newCase('Ewa <ewa@customer.test>', 'Loan papers', undefined, ALICE, { Cc: 'Adam <adam@customer.test>' });
    const fromColleague = newMessageId();
    await appendMail(
      dovecot,
      ALICE,
      'INBOX',
      buildMail({
        from: 'Adam <adam@customer.test>',
        to: ALICE,
        subject: 'Re: Loan papers',
        text: 'Adding the signed form.',
        messageId: fromColleague,
        inReplyTo: first.messageId,
      }),
    );
    expect((await waitForInbound(db, fromColleague, 'the colleague reply')).case_id).toBe(first.id);
    const participants = await db.db.selectFrom('case_participants').selectAll().where('case_id', '=', first.id).orderBy('address').execute();
    expect(participants.map((p) => [p.address, p.role])).toEqual([
      ['adam@customer.test', 'cc'],
      ['ewa@customer.test', 'customer'],
    ]);
    // Now a participant, the colleague's tag alone threads too.
    const tagged = newMessageId();
    await appendMail(
      dovecot,
      ALICE,
      'INBOX',
      buildMail({ from: 'adam@customer.test', to: ALICE, subject: `[${first.id}] the second form`, text: 'here', messageId: tagged }),
    );
    expect((await waitForInbound(db, tagged, 'the colleague tag mail')).case_id).toBe(first.id);
  });

  it('makes one case of the same message in two boxes, appended and delivered by LMTP (fails on a duplicate case or auto-response)', async () => {
    const messageId = newMessageId();
    const raw = buildMail({ from: 'both@customer.test', to: `${ALICE}, ${BOB}`, subject: 'Sent to two addresses', text: 'Which of you answers?', messageId });
    await appendMail(dovecot, ALICE, 'INBOX', raw);
    await appendMail(dovecot, BOB, 'INBOX', raw);
    const rows = await waitFor(
      async () => {
        const r = await db.db.selectFrom('inbound').selectAll().where('message_id', '=', messageId).orderBy('id').execute();
        return r.length === 2 ? r : null;
      },
      { what: 'both copies recorded' },
    );
    expect(rows.map((r) => r.outcome)).toEqual(['case', 'duplicate']);
    expect(rows[1]!.case_id).toBe(rows[0]!.case_id);
    expect(new Set(rows.map((r) => r.mailbox_id))).toEqual(new Set(['support', 'cards']));

    // Dovecot's LMTP adds Return-Path/Delivered-To per recipient: different bytes, same message.
    const lmtpId = newMessageId();
    const transport = nodemailer.createTransport({ host: dovecot.host, port: dovecot.lmtpPort, lmtp: true, ignoreTLS: true } as any);
    const lmtpRaw = buildMail({ from: 'twice@customer.test', to: ALICE, subject: 'Delivered twice', text: 'hi', messageId: lmtpId });
    for (const rcpt of [ALICE, BOB]) await transport.sendMail({ envelope: { from: 'twice@customer.test', to: [rcpt] }, raw: lmtpRaw });
    const lmtpRows = await waitFor(
      async () => {
        const r = await db.db.selectFrom('inbound').selectAll().where('message_id', '=', lmtpId).orderBy('id').execute();
        return r.length === 2 ? r : null;
      },
      { what: 'both LMTP copies recorded' },
    );
    expect(lmtpRows[0]!.sha256).not.toBe(lmtpRows[1]!.sha256);
    expect(lmtpRows.map((r) => r.outcome).sort()).toEqual(['case', 'duplicate']);
    expect(lmtpRows[1]!.case_id).toBe(lmtpRows[0]!.case_id);
    const autos = await db.db
      .selectFrom('outbox')
      .select('id')
      .where('case_id', 'in', [rows[0]!.case_id!, lmtpRows[0]!.case_id!])
      .where('kind', '=', 'auto_response')
      .execute();
    expect(autos).toHaveLength(2);
  });

  it('threads a bounce of our auto-response onto its case, marks the outbox row bounced, never answers it (fails on a new case or reply)', async () => {
    const first = await newCase('Zofia <zofia@nowhere.test>', 'Bounce me');
    const auto = await waitFor(() => autoResponseOf(first.id), { what: 'the auto-response row' });
    const dsnId = newMessageId();
    await appendMail(dovecot, ALICE, 'INBOX', buildDsn({ to: ALICE, originalId: auto.message_id, originalTo: 'zofia@nowhere.test', messageId: dsnId }));
    const row = await waitForInbound(db, dsnId, 'the DSN');
    expect(row).toMatchObject({ outcome: 'bounce', case_id: first.id });
    const out = await db.db.selectFrom('outbox').selectAll().where('id', '=', auto.id).executeTakeFirstOrThrow();
    expect(out.state).toBe('bounced');
    const msg = (await messagesOf(first.id)).find((m) => m.message_id === dsnId)!;
    expect(JSON.parse(msg.flags)).toContain('bounce');
    expect(await db.db.selectFrom('outbox').select('id').where('case_id', '=', first.id).execute()).toHaveLength(1);

    // A bounce about mail we never sent (backscatter) is kept raw and recorded, but opens no case.
    const strayId = newMessageId();
    await appendMail(
      dovecot,
      ALICE,
      'INBOX',
      buildDsn({ to: ALICE, originalId: '<not-ours@elsewhere.test>', originalTo: 'x@elsewhere.test', messageId: strayId }),
    );
    const stray = await waitForInbound(db, strayId, 'the stray DSN');
    expect(stray).toMatchObject({ outcome: 'bounce', case_id: null });
    expect(fs.existsSync(rawPath(cfg.dataDir, stray.sha256))).toBe(true);
  });

  it('reopens a solved case within the window as feedback, opens a linked case after it, ignores out-of-office (fails on wrong status)', async () => {
    const first = await newCase('Karol <karol@customer.test>', 'Reopen me');
    await writeTx(db.db, (tx) => changeCase(tx, first.id, 'sam', { status: 'solved', closed_at: new Date().toISOString(), assignee: 'cody' }));

    const ooo = newMessageId();
    await appendMail(
      dovecot,
      ALICE,
      'INBOX',
      buildMail({
        from: 'karol@customer.test',
        to: ALICE,
        subject: 'Out of Office: Reopen me',
        text: 'I am away.',
        messageId: ooo,
        inReplyTo: first.messageId,
        headers: { 'Auto-Submitted': 'auto-replied' },
      }),
    );
    expect((await waitForInbound(db, ooo, 'the out-of-office reply')).case_id).toBe(first.id);
    expect((await caseRow(first.id)).status).toBe('solved');
    expect((await messagesOf(first.id)).find((m) => m.message_id === ooo)).toMatchObject({ is_auto_reply: 1, is_feedback: 0 });

    const feedback = newMessageId();
    await appendMail(
      dovecot,
      ALICE,
      'INBOX',
      buildMail({ from: 'karol@customer.test', to: ALICE, subject: 'Re: Reopen me', text: 'It broke again.', messageId: feedback, inReplyTo: first.messageId }),
    );
    expect((await waitForInbound(db, feedback, 'the feedback')).case_id).toBe(first.id);
    expect(await caseRow(first.id)).toMatchObject({ status: 'in_progress', assignee: 'cody', closed_at: null });
    expect((await messagesOf(first.id)).find((m) => m.message_id === feedback)).toMatchObject({ is_feedback: 1 });
    const reopened = await db.db.selectFrom('case_events').selectAll().where('case_id', '=', first.id).where('kind', '=', 'reopened').execute();
    expect(reopened.map((e) => [e.field, e.from_value, e.to_value])).toContainEqual(['status', 'solved', 'in_progress']);
    // The assignee hears of it.
    const note = await waitFor(
      () => db.db.selectFrom('outbox').selectAll().where('case_id', '=', first.id).where('kind', '=', 'notification').executeTakeFirst(),
      { what: 'the staff notification' },
    );
    expect(JSON.parse(note.to_addresses)).toEqual(['cody@staff.test']);
    // show --json tells the out-of-office reply and the feedback apart from ordinary mail.
    const shown = await cliJson(['show', first.id, '--config', cfg.configPath]);
    const flagsOf = (id: string) => (shown.messages as Array<{ message_id: string; flags: string[] }>).find((m) => m.message_id === id)!.flags;
    expect(flagsOf(ooo)).toContain('auto_reply');
    expect(flagsOf(feedback)).toContain('feedback');

    // Closed 20 days ago: past the 14-day window, a new case linked to the old one.
    const longAgo = new Date(Date.now() - 20 * 86_400_000).toISOString();
    await writeTx(db.db, (tx) => changeCase(tx, first.id, 'sam', { status: 'closed', closed_at: longAgo }));
    const late = newMessageId();
    await appendMail(
      dovecot,
      ALICE,
      'INBOX',
      buildMail({
        from: 'karol@customer.test',
        to: ALICE,
        subject: 'Re: Reopen me',
        text: 'Me again, months later.',
        messageId: late,
        inReplyTo: first.messageId,
      }),
    );
    const lateCase = (await waitForInbound(db, late, 'the late reply')).case_id!;
    expect(lateCase).not.toBe(first.id);
    expect(await caseRow(lateCase)).toMatchObject({ linked_case_id: first.id, status: 'received' });
    expect((await caseRow(first.id)).status).toBe('closed');
  });

  it('ingests mail a person already read, flagged or forged our keyword on, by UID, not by flags (fails if flags make the daemon skip)', async () => {
    const id1 = newMessageId();
    const id2 = newMessageId();
    await appendMail(dovecot, ALICE, 'INBOX', buildMail({ from: 'read@customer.test', to: ALICE, subject: 'Already read', text: 'x', messageId: id1 }), [
      '\\Seen',
      '\\Flagged',
    ]);
    await appendMail(dovecot, ALICE, 'INBOX', buildMail({ from: 'forged@customer.test', to: ALICE, subject: 'Looks processed', text: 'x', messageId: id2 }), [
      '$MailwardenSeen',
    ]);
    expect((await waitForInbound(db, id1, 'the read message')).outcome).toBe('case');
    expect((await waitForInbound(db, id2, 'the pre-flagged message')).outcome).toBe('case');
  });
});
