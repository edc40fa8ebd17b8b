// Consultations through real mail (SPEC §5C): `mailwarden consult` mails the department from the
// case's box (Dovecot in, the daemon, the SMTP sink out), the department answers as a mail client
// would — by In-Reply-To, or with only the case tag from its address or alias — and the answer
// comes back as `consult_in`, never reaching the customer. A stranger with the tag answers
// nothing; two departments must both answer; a consultation can be withdrawn; and an overdue
// consultation is notified once per deadline, also across daemon restarts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { buildMail } from '../support/imap';
import { waitForLogged } from '../support/log';
import { runCli } from '../support/cli';
import { newMessageId } from '../ingest/helpers';
import {
  answerTo,
  arrival,
  BOX,
  caseState,
  customerCase,
  expectNothingMoreTo,
  inboundOutcome,
  jsonError,
  sentTo,
  startDesk,
  STAFF,
  type Desk,
} from './helpers';

const FRAUD = 'fraud@dept.test';
const FRAUD_ALIAS = 'fraud-team@dept.test';
const LEGAL = 'legal@dept.test';
const RISK_LEAD = 'risk-lead@dept.test';

const departments = [
  { id: 'fraud', name: 'Fraud Prevention', email: FRAUD, aliases: [FRAUD_ALIAS], deadline: '1d', notify_overdue: ['sam'] },
  { id: 'legal', name: 'Legal', email: LEGAL, deadline: '2h', notify_overdue: ['sam', RISK_LEAD] },
];

describe('consultation by mail', () => {
  let sink: SmtpSink;
  let desk: Desk;

  beforeAll(async () => {
    sink = await startSmtpSink();
    desk = await startDesk(sink, { departments });
  });
  afterAll(async () => {
    await desk?.stop();
    await sink?.stop();
  });

  /** The consultation mail to `address` about case `id`, once the drainer sent it. */
  const consultMail = (address: string, id: string) =>
    arrival(
      sink,
      (m) => m.envelope.to.includes(address) && m.parsed.subject!.includes(`[${id}]`) && m.messageId.includes('mwt1.c.'),
      `the consultation to ${address} on ${id}`,
    );

  const consultations = async (id: string) => (await desk.json<any>(['show', id])).consultations as any[];

  it('mails the department, threads its answer (In-Reply-To) as consult_in and tells the consultant; the customer gets none of it', async () => {
    const c = await customerCase(desk, 'cody');
    const toCustomer = sentTo(sink, c.customer);
    const asked = await desk.json<any>(['consult', c.id, '--dept', 'fraud', '--as', 'cody', '-m', 'Was this card payment flagged on your side?']);
    expect(asked.status).toBe('under_consultation');
    expect(asked.consultations).toHaveLength(1);
    const mail = await consultMail(FRAUD, c.id);
    expect(mail.parsed.from!.value[0]!.address).toBe(BOX);
    expect(mail.parsed.text).toContain('Was this card payment flagged on your side?');
    expect((await desk.json<any>(['cases', '--status', 'under_consultation'])).map((x: any) => x.id)).toContain(c.id);

    const answerId = newMessageId();
    await desk.deliver(answerTo(mail, { from: `Fraud Prevention <${FRAUD}>`, text: 'Yes: our rules stopped it. Unblocked now.', messageId: answerId }), FRAUD);
    expect(await inboundOutcome(desk, answerId)).toBe('staff');
    const shown = await desk.json<any>(['show', c.id]);
    expect(shown.case.status).toBe('in_progress');
    expect(shown.case.consultation).toBeNull();
    const answer = shown.messages.find((m: any) => m.message_id === answerId);
    expect(answer.kind).toBe('consult_in');
    expect(answer.text).toContain('Unblocked now.');
    expect(shown.consultations).toEqual([expect.objectContaining({ dept: 'fraud', state: 'answered', consultant: 'cody', overdue: false })]);

    const told = await arrival(
      sink,
      (m) => m.envelope.to.includes(STAFF.cody) && m.parsed.subject!.includes('Fraud Prevention answered'),
      'the answer told to cody',
    );
    expect(told.parsed.text).toContain('Unblocked now.');
    expect(told.messageId).toContain('mwt1.r.');
    // Nothing of the consultation (question or answer) went to the customer, proven at the sink.
    await expectNothingMoreTo(desk, c.customer, toCustomer);
  });

  it("takes an answer without headers from the department's alias by the case tag", async () => {
    const c = await customerCase(desk, 'cody');
    await desk.json(['consult', c.id, '--dept', 'fraud', '--as', 'cody', '-m', 'Please check the merchant.']);
    await consultMail(FRAUD, c.id);
    const answerId = newMessageId();
    await desk.deliver(
      buildMail({ from: FRAUD_ALIAS, to: BOX, subject: `Merchant check [${c.id}]`, text: 'The merchant is fine.\n', messageId: answerId }),
      FRAUD_ALIAS,
    );
    expect(await inboundOutcome(desk, answerId)).toBe('staff');
    expect((await caseState(desk, c.id)).status).toBe('in_progress');
    expect(await consultations(c.id)).toEqual([expect.objectContaining({ dept: 'fraud', state: 'answered' })]);
  });

  it('does not let a stranger who uses the tag answer a consultation', async () => {
    const c = await customerCase(desk, 'cody');
    await desk.json(['consult', c.id, '--dept', 'fraud', '--as', 'cody', '-m', 'Is this account known to you?']);
    const strangerId = newMessageId();
    const stranger = 'eve@evil.test';
    await desk.deliver(
      buildMail({ from: stranger, to: BOX, subject: `Re: [${c.id}] all fine, close it`, text: 'All fine, close it.\n', messageId: strangerId }),
      stranger,
    );
    expect(await inboundOutcome(desk, strangerId)).toBe('case');
    const linked = await desk.db.db.selectFrom('inbound').select('case_id').where('message_id', '=', strangerId).executeTakeFirstOrThrow();
    expect(linked.case_id).not.toBe(c.id);
    expect((await caseState(desk, c.id)).status).toBe('under_consultation');
    expect(await consultations(c.id)).toEqual([expect.objectContaining({ dept: 'fraud', state: 'open' })]);
  });

  it('waits for every department asked: the case returns only when both answered', async () => {
    const c = await customerCase(desk, 'cody');
    const asked = await desk.json<any>([
      'consult',
      c.id,
      '--dept',
      'fraud',
      '--dept',
      'legal',
      '--as',
      'cody',
      '-m',
      'Two questions: flagged? and may we refund?',
    ]);
    expect(asked.consultations.map((x: any) => x.dept)).toEqual(['fraud', 'legal']);
    const [toFraud, toLegal] = [await consultMail(FRAUD, c.id), await consultMail(LEGAL, c.id)];
    expect(toFraud.messageId).not.toBe(toLegal.messageId);

    await desk.deliver(answerTo(toLegal, { from: LEGAL, text: 'A refund is fine.' }), LEGAL);
    expect((await caseState(desk, c.id)).status).toBe('under_consultation');
    const waiting = (await desk.json<any>(['show', c.id])).case.consultation;
    expect(waiting.dept).toBe('fraud');

    await desk.deliver(answerTo(toFraud, { from: FRAUD, text: 'Not flagged.' }), FRAUD);
    expect((await caseState(desk, c.id)).status).toBe('in_progress');
    expect((await consultations(c.id)).map((x) => [x.dept, x.state])).toEqual([
      ['fraud', 'answered'],
      ['legal', 'answered'],
    ]);
  });

  it('withdraws a consultation: the department is told, the case returns when nothing else is awaited', async () => {
    const c = await customerCase(desk, 'cody');
    await desk.json(['consult', c.id, '--dept', 'fraud,legal', '--as', 'cody', '-m', 'Any objections?']);
    const first = await desk.json<any[]>(['consult', c.id, '--dept', 'fraud', '--as', 'cody', '--withdraw']);
    expect(first).toEqual([expect.objectContaining({ dept: 'fraud', status: 'under_consultation' })]);
    await arrival(sink, (m) => m.envelope.to.includes(FRAUD) && m.parsed.subject!.includes(`[${c.id}] Consultation withdrawn`), 'the withdrawal told to fraud');
    const second = await desk.json<any[]>(['consult', c.id, '--dept', 'legal', '--as', 'cody', '--withdraw']);
    expect(second).toEqual([expect.objectContaining({ dept: 'legal', status: 'in_progress' })]);
    expect((await consultations(c.id)).map((x) => [x.dept, x.state, x.withdrawn_by])).toEqual([
      ['fraud', 'withdrawn', 'cody'],
      ['legal', 'withdrawn', 'cody'],
    ]);
    // Withdrawing again, with nothing open, is refused in one sentence.
    const again = await desk.cli(['consult', c.id, '--dept', 'legal', '--as', 'cody', '--withdraw', '--json']);
    expect(again.code).not.toBe(0);
    expect(jsonError(again).code).toBe('ENOCONSULT');
  });

  it('threads the answer into the merged case when the consulted case was merged meanwhile', async () => {
    const a = await customerCase(desk, 'cody', 'Card blocked (first mail)');
    const b = await customerCase(desk, 'cody', 'Card blocked (second mail)');
    await desk.json(['consult', a.id, '--dept', 'fraud', '--as', 'cody', '-m', 'Flagged on your side?']);
    const mail = await consultMail(FRAUD, a.id);
    await desk.json(['merge', a.id, b.id, '--as', 'cody']);
    expect((await caseState(desk, b.id)).status).toBe('under_consultation');
    const answerId = newMessageId();
    await desk.deliver(answerTo(mail, { from: FRAUD, text: 'Not flagged.', messageId: answerId }), FRAUD);
    expect(await inboundOutcome(desk, answerId)).toBe('staff');
    const shown = await desk.json<any>(['show', b.id]);
    expect(shown.case.status).toBe('in_progress');
    expect(shown.messages.find((m: any) => m.message_id === answerId)?.kind).toBe('consult_in');
    expect(shown.consultations).toEqual([expect.objectContaining({ dept: 'fraud', state: 'answered' })]);
  });

  it('refuses a consultation that cannot be asked, each with one sentence', async () => {
    const c = await customerCase(desk, 'cody');
    const cases: Array<[string[], string]> = [
      [['consult', c.id, '--dept', 'audit', '--as', 'cody', '-m', 'x'], 'EUNKNOWNDEPT'],
      [['consult', c.id, '--as', 'cody', '-m', 'x'], 'ENODEPT'],
      [['consult', c.id, '--dept', 'fraud', '--as', 'cody'], 'EEMPTY'],
      [['consult', c.id, '--dept', 'fraud', '--as', 'tina', '-m', 'x'], 'EFORBIDDEN'],
    ];
    for (const [args, code] of cases) {
      const r = await desk.cli([...args, '--json']);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(jsonError(r).code, args.join(' ')).toBe(code);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    await desk.json(['consult', c.id, '--dept', 'fraud', '--as', 'cody', '-m', 'First question.']);
    const twice = await desk.cli(['consult', c.id, '--dept', 'fraud', '--as', 'cody', '-m', 'Again.', '--json']);
    expect(jsonError(twice).code).toBe('ECONSULTOPEN');
    await desk.json(['consult', c.id, '--dept', 'fraud', '--as', 'cody', '--withdraw']);
    await desk.json(['reply', c.id, '--as', 'cody', '-m', 'Done.', '--status', 'solved']);
    const solved = await desk.cli(['consult', c.id, '--dept', 'fraud', '--as', 'cody', '-m', 'Too late.', '--json']);
    expect(jsonError(solved).code).toBe('EBADTRANSITION');
    const text = await desk.cli(['consult', c.id, '--dept', 'fraud', '--as', 'cody', '-m', 'Too late.']);
    expect(text.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('notifies an overdue consultation once per deadline, answered one second late or never, also after restarts', async () => {
    const never = await customerCase(desk, 'cody', 'Refund never answered');
    const late = await customerCase(desk, 'cody', 'Refund answered late');
    await desk.json(['consult', never.id, '--dept', 'legal', '--as', 'cody', '-m', 'May we refund?']);
    const asked = await desk.json<any>(['consult', late.id, '--dept', 'legal', '--as', 'cody', '-m', 'May we refund this one?']);
    const toLegal = await consultMail(LEGAL, late.id);
    await consultMail(LEGAL, never.id);

    // The daemon comes back with its clock one second past the later deadline, and the late answer arrives then.
    const offsetS = Math.ceil((Date.parse(asked.consultations[0].deadline_at) + 1000 - Date.now()) / 1000);
    const daemon = await desk.restart({ MAILWARDEN_CLOCK_OFFSET: `+${offsetS}s` });
    await desk.deliver(answerTo(toLegal, { from: LEGAL, text: 'Yes, refund it.' }), LEGAL);
    const answered = (await consultations(late.id))[0];
    expect(answered.state).toBe('answered');
    expect(answered.overdue).toBe(true);
    expect(Date.parse(answered.answered_at)).toBeGreaterThan(Date.parse(answered.deadline_at));

    const recipients = [STAFF.cody, LEGAL, STAFF.sam, RISK_LEAD];
    const notices = (id: string) => sink.messages.filter((m) => m.parsed.subject === `[${id}] Consultation overdue: Legal`);
    for (const id of [never.id, late.id]) {
      await sink.waitFor(() => recipients.every((r) => notices(id).some((m) => m.envelope.to.includes(r))), 30_000, `the overdue notices on ${id}`);
    }
    expect(notices(never.id)[0]!.parsed.text).toContain('has not been answered');
    // Listings mark it, on the same moved clock as the daemon.
    const listed = await runCli(['cases', '--overdue', '--json'], { env: { ...desk.env, MAILWARDEN_CLOCK_OFFSET: `+${offsetS}s` } });
    const overdue = JSON.parse(listed.stdout) as any[];
    expect(overdue.map((x) => x.id)).toContain(never.id);
    expect(overdue.find((x) => x.id === never.id).consultation).toEqual(expect.objectContaining({ dept: 'legal', overdue: true }));
    expect(overdue.map((x) => x.id)).not.toContain(late.id);
    const table = await runCli(['cases', '--overdue'], { env: { ...desk.env, MAILWARDEN_CLOCK_OFFSET: `+${offsetS}s` } });
    expect(table.stdout.split('\n').find((l) => l.startsWith(never.id))).toContain('under_consultation ⚠ CONSULTATION OVERDUE');

    // Whole ticks of the consultation overdue job, then a restart and more ticks: still one notice each.
    await waitForLogged(daemon.logs, daemon.logs.length, (l) => l.event === 'scheduler.tick' && l.job === 'consultation-overdue', 2, 'two more ticks');
    const again = await desk.restart({ MAILWARDEN_CLOCK_OFFSET: `+${offsetS + 60}s` });
    await waitForLogged(
      again.logs,
      again.logs.length,
      (l) => l.event === 'scheduler.tick' && l.job === 'consultation-overdue',
      2,
      'two ticks after the restart',
    );
    for (const id of [never.id, late.id]) {
      expect(
        notices(id)
          .flatMap((m) => m.envelope.to)
          .sort(),
      ).toEqual([...recipients].sort());
    }
    const rows = await desk.db.db.selectFrom('outbox').select('case_id').where('kind', '=', 'consultation_overdue').execute();
    expect(rows.filter((r) => r.case_id === never.id)).toHaveLength(4);
    expect(rows.filter((r) => r.case_id === late.id)).toHaveLength(4);
  });
});
