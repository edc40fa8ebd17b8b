// Hostile senders (issue 11, SPEC §3, §4): an auto-responder that answers from a new address
// every time, a mail that reuses one of our Message-IDs, a stranger who guesses a customer's
// Message-ID. Each runs against the real daemon: mail in by LMTP (its 250 means the accept has
// committed), auto-responses out through the outbox to a real SMTP sink.
import nodemailer from 'nodemailer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliJson, startDaemon, type Daemon } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { buildMail } from '../support/imap';
import { freePort } from '../support/ports';
import { startSmtpSink, type RecordedMail, type SmtpSink } from '../support/smtp-sink';
import { newMessageId, openDb } from './helpers';

const ALICE = 'alice@example.test';
const SUPERVISOR = 'sam@staff.test';

interface Desk {
  cfg: TestConfig;
  daemon: Daemon;
  db: Awaited<ReturnType<typeof openDb>>;
  deliver(raw: string, from: string): Promise<void>;
}

let sink: SmtpSink;
let desk: Desk | null = null;

beforeAll(async () => {
  sink = await startSmtpSink();
});
afterEach(async () => {
  await desk?.daemon.stop();
  await desk?.db.close();
  desk = null;
  sink.reset();
});
afterAll(async () => {
  await sink?.stop();
});

async function startDesk(overrides: Record<string, unknown> = {}): Promise<Desk> {
  const port = await freePort();
  const cfg = await writeTestConfig({
    listener: { port, protocol: 'lmtp' },
    smtp: { host: sink.host, port: sink.port },
    mailboxes: [{ id: 'support', address: ALICE, pool: 'general' }],
    overrides,
  });
  const daemon = await startDaemon(cfg.configPath);
  const db = await openDb(cfg);
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true, secure: false } as any);
  const deliver = async (raw: string, from: string) => {
    const info = await transport.sendMail({ envelope: { from, to: [ALICE] }, raw });
    if ((info.rejected ?? []).length > 0) throw new Error(`LMTP refused the mail: ${JSON.stringify(info)}`);
  };
  desk = { cfg, daemon, db, deliver };
  return desk;
}

/** The auto-response that answers this message, if one was queued (the accept has committed when LMTP said 250). */
async function autoResponseFor(d: Desk, messageId: string): Promise<string | null> {
  const row = await d.db.db
    .selectFrom('messages')
    .select('message_id')
    .where('kind', '=', 'auto_response')
    .where('in_reply_to', '=', messageId)
    .executeTakeFirst();
  return row?.message_id ?? null;
}

async function arrived(messageId: string): Promise<RecordedMail> {
  await sink.waitFor((all) => all.some((m) => m.messageId === messageId), 30_000, `auto-response ${messageId} at the sink`);
  return sink.messages.find((m) => m.messageId === messageId)!;
}

type Responder = (answered: RecordedMail, round: number) => { from: string; subject: string; inReplyTo?: string };

/**
 * Plays an auto-responder that answers every mail it gets from a new address, for as long as
 * mail keeps coming (at most `maxRounds`). Returns how many auto-responses reached the sink.
 */
async function playLoop(d: Desk, customer: string, respond: Responder, maxRounds = 40): Promise<number> {
  const firstId = newMessageId();
  await d.deliver(buildMail({ from: customer, to: ALICE, subject: 'Help with my card', text: 'Hello.', messageId: firstId }), customer);
  let pending = await autoResponseFor(d, firstId);
  let sent = 0;
  for (let round = 1; pending !== null; round++) {
    if (round > maxRounds) throw new Error(`the loop was still going after ${maxRounds} rounds`);
    const answered = await arrived(pending);
    sent += 1;
    const reply = respond(answered, round);
    const id = newMessageId();
    await d.deliver(buildMail({ ...reply, to: ALICE, text: 'I am away. This is an automatic answer.', messageId: id }), reply.from);
    pending = await autoResponseFor(d, id);
  }
  return sent;
}

describe('an auto-responder that answers from a new address every time', () => {
  it('is answered once when it keeps our tag, once when it names our mail, and at most box_cap times when it hides both; the supervisors hear once (fails on a loop)', async () => {
    const d = await startDesk({ auto_response: { box_cap: 5, box_window: '1h' } });
    const keepsTag = await playLoop(d, 'one@customer.test', (m, n) => ({ from: `responder${n}@tagged.test`, subject: `Re: ${m.parsed.subject}` }));
    const namesOurs = await playLoop(d, 'two@customer.test', (m, n) => ({
      from: `responder${n}@threaded.test`,
      subject: 'Automatic answer',
      inReplyTo: m.messageId,
    }));
    const hidesBoth = await playLoop(d, 'three@customer.test', (_m, n) => ({ from: `responder${n}@rotating.test`, subject: `Out of touch ${n}` }));
    console.log(`auto-responses sent: keeps the tag ${keepsTag}, names our mail ${namesOurs}, hides both ${hidesBoth} (box_cap 5)`);
    expect(keepsTag).toBe(1);
    expect(namesOurs).toBe(1);
    // 2 already went out in this window, so the box answers 3 more and then stops.
    expect(hidesBoth).toBe(3);

    const suppressed = d.daemon.logs
      .filter((l) => l.event === 'ingest.accepted' && l.auto_response && l.auto_response !== 'queued')
      .map((l) => l.auto_response);
    expect(suppressed).toEqual(expect.arrayContaining([expect.stringContaining('carries our case tag'), expect.stringContaining('reached its limit of 5')]));
    const alerts = await d.db.db.selectFrom('outbox').select(['to_addresses', 'subject']).where('kind', '=', 'supervisor_alert').execute();
    expect(alerts).toEqual([expect.objectContaining({ to_addresses: JSON.stringify([SUPERVISOR]) })]);
    expect(alerts[0]!.subject).toContain('5 per 1h');
    await sink.waitFor((all) => all.some((m) => m.envelope.to.includes(SUPERVISOR)), 30_000, 'the alert at the sink');
  });
});

describe('a mail that carries one of our Message-IDs', () => {
  it('is folded only when it is a copy of what we sent; with other content it lands on a case (fails if the mail vanishes)', async () => {
    const d = await startDesk();
    const env = { MAILWARDEN_CONFIG: d.cfg.configPath };
    const firstId = newMessageId();
    await d.deliver(buildMail({ from: 'carla@customer.test', to: ALICE, subject: 'My card', text: 'Hello.', messageId: firstId }), 'carla@customer.test');
    const ours = await arrived((await autoResponseFor(d, firstId))!);

    // The copy comes back with header fields a relay adds on top: folded, no case.
    await d.deliver(`Received: from relay.test by mx.test;\r\nX-Spam-Score: 0.1\r\n${ours.raw.toString('latin1')}`, 'bounces@relay.test');
    // Someone else's mail with the same Message-ID: a case of its own.
    const forged = buildMail({ from: 'mallory@elsewhere.test', to: ALICE, subject: 'Urgent: my account', text: 'Please call me.', messageId: ours.messageId });
    await d.deliver(forged, 'mallory@elsewhere.test');

    const inbound = await d.db.db.selectFrom('inbound').select(['outcome', 'case_id']).where('message_id', '=', ours.messageId).orderBy('id').execute();
    expect(inbound.map((r) => r.outcome)).toEqual(['duplicate', 'case']);
    const cases = await cliJson<any[]>(['cases'], { env });
    const mallory = cases.find((c) => c.customer.address === 'mallory@elsewhere.test');
    expect(mallory).toMatchObject({ subject: 'Urgent: my account', status: 'received' });
    const shown = await cliJson(['show', mallory.id], { env });
    expect(shown.messages.map((m: any) => m.text.trim())).toContain('Please call me.');
    // It names our mail, so it is not answered automatically (loop breaker).
    expect(await autoResponseFor(d, ours.messageId)).toBeNull();
  });
});

describe('a stranger who names a customer’s Message-ID', () => {
  it('opens a new case linked to the solved one, which stays solved with no feedback; a stranger naming our reply threads but reopens nothing (fails on a reopened case)', async () => {
    const d = await startDesk();
    const env = { MAILWARDEN_CONFIG: d.cfg.configPath };
    // A predictable customer Message-ID (a counter and a timestamp), as many mailers make them.
    const customerId = '<20261201.0001@customer.test>';
    await d.deliver(buildMail({ from: 'carla@customer.test', to: ALICE, subject: 'My card', text: 'Hello.', messageId: customerId }), 'carla@customer.test');
    const [c] = await cliJson<any[]>(['cases'], { env });
    await cliJson(['reply', c.id, '--as', 'sam', '-m', 'Done, your card works again.', '--status', 'solved'], { env });
    expect((await cliJson(['show', c.id], { env })).case.status).toBe('solved');

    const forgedId = newMessageId();
    await d.deliver(
      buildMail({
        from: 'eve@attacker.test',
        to: ALICE,
        subject: 'Re: My card',
        text: 'Actually send the new card to me.',
        messageId: forgedId,
        inReplyTo: customerId,
      }),
      'eve@attacker.test',
    );
    const after = await cliJson(['show', c.id], { env });
    expect(after.case.status).toBe('solved');
    expect(after.messages.map((m: any) => m.message_id)).not.toContain(forgedId);
    const eve = (await cliJson<any[]>(['cases'], { env })).find((x) => x.customer.address === 'eve@attacker.test');
    expect(eve).toBeDefined();
    const eveRow = await d.db.db.selectFrom('cases').select(['linked_case_id']).where('id', '=', eve.id).executeTakeFirstOrThrow();
    expect(eveRow.linked_case_id).toBe(c.id);

    // Our reply's Message-ID cannot be guessed: whoever names it has seen it (the customer
    // forwarded it), so the mail threads, but a newcomer reopens nothing and is no feedback.
    const ourReply = await d.db.db.selectFrom('outbox').select('message_id').where('kind', '=', 'reply').where('case_id', '=', c.id).executeTakeFirstOrThrow();
    const colleagueId = newMessageId();
    await d.deliver(
      buildMail({
        from: 'dan@customer.test',
        to: ALICE,
        subject: 'Re: My card',
        text: 'Thanks from Carla’s colleague.',
        messageId: colleagueId,
        inReplyTo: ourReply.message_id,
      }),
      'dan@customer.test',
    );
    const threaded = await cliJson(['show', c.id], { env });
    expect(threaded.case.status).toBe('solved');
    expect(threaded.messages.map((m: any) => m.message_id)).toContain(colleagueId);
    const feedback = await d.db.db.selectFrom('messages').select('id').where('case_id', '=', c.id).where('is_feedback', '=', 1).execute();
    expect(feedback).toEqual([]);

    // The customer herself, within the reopen window, still reopens it as feedback.
    await d.deliver(
      buildMail({ from: 'carla@customer.test', to: ALICE, subject: 'Re: My card', text: 'It broke again.', messageId: newMessageId(), inReplyTo: customerId }),
      'carla@customer.test',
    );
    expect((await cliJson(['show', c.id], { env })).case.status).toBe('in_progress');
  });
});
