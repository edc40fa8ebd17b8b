// Absence and replacement through real mail (SPEC §5D): Dovecot in, the daemon, the SMTP sink out.
// Why here: what matters to the people involved is who gets the mail. While cody is away, a
// customer writing on his case (one that moved to vera, and a solved one that opens again) is
// told to vera and never to cody; a reminder on a case still assigned to him goes to vera; a
// trainee's approval request owed by her absent supervisor goes to the other supervisor, also the
// one already pending when the absence starts, and that supervisor's APPROVE by mail releases it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SmtpSink } from '../support/smtp-sink';
import { startSmtpSink } from '../support/smtp-sink';
import { buildMail } from '../support/imap';
import { newMessageId } from '../ingest/helpers';
import { addMs, nowIso } from '../../src/clock';
import { STAFF, answerTo, arrival, caseState, customerCase, expectNothingMoreTo, sentTo, startDesk, type CustomerCase, type Desk } from './helpers';

const VERA = 'vera@staff.test';
const GENERAL = [{ pool: 'general', priority: 1 }];
const CONSULTANTS = [
  { id: 'sam', name: 'Sam Supervisor', email: STAFF.sam, roles: ['consultant', 'supervisor'], pools: GENERAL },
  { id: 'vera', name: 'Vera Supervisor', email: VERA, roles: ['consultant', 'supervisor'], pools: GENERAL },
  { id: 'cody', name: 'Cody Consultant', email: STAFF.cody, roles: ['consultant'], replacement: 'vera', pools: GENERAL },
  { id: 'tina', name: 'Tina Trainee', email: STAFF.tina, roles: ['consultant'], trainee: true, supervisor: 'sam', pools: GENERAL },
];

let sink: SmtpSink;
let desk: Desk | undefined;

beforeAll(async () => {
  sink = await startSmtpSink();
  desk = await startDesk(sink, { consultants: CONSULTANTS });
});
afterAll(async () => {
  try {
    await desk?.stop();
  } finally {
    await sink?.stop();
  }
});

const tomorrow = () => addMs(nowIso(), 24 * 3600_000);

/** The customer of `c` writes again, threaded on their first mail. */
async function customerWritesAgain(d: Desk, c: CustomerCase, text: string): Promise<void> {
  await d.deliver(
    buildMail({
      from: `Carla Customer <${c.customer}>`,
      to: 'alice@example.test',
      subject: `Re: ${c.subject}`,
      text,
      messageId: newMessageId(),
      inReplyTo: c.customerIds[0],
      references: c.customerIds[0],
    }),
    c.customer,
  );
}

/** A staff mail about case `id` with a token of `purpose` (r: reply, a: approve) reached `address`. */
function staffMail(address: string, id: string, purpose: 'r' | 'a', what: string) {
  const marker = `mwt1.${purpose}.${id.toLowerCase()}.`;
  return arrival(sink, (m) => m.envelope.to.includes(address) && m.messageId.includes(marker), what);
}

describe('while cody is absent (his configured replacement vera stands in)', () => {
  let working: CustomerCase;
  let solved: CustomerCase;
  let codyBefore: ReturnType<typeof sentTo>;

  it('moves his open case to vera; the customer writing on it and on his solved case is told to vera, never to cody (fails if cody is notified)', async () => {
    const d = desk!;
    working = await customerCase(d, 'cody', 'Card blocked in Berlin');
    solved = await customerCase(d, 'cody', 'Statement question');
    await d.json(['reply', solved.id, '--as', 'cody', '-m', 'The statement is in your online banking.', '--status', 'solved']);

    const set = await d.json(['absence', 'cody', '--until', tomorrow(), '--as', 'cody']);
    expect(set).toMatchObject({ replacement: 'vera', moved: [{ case: working.id, to: 'vera', status: 'in_progress' }] });
    codyBefore = sentTo(sink, STAFF.cody);

    await customerWritesAgain(d, working, 'Any news on my card?\n');
    const first = await staffMail(VERA, working.id, 'r', `vera's notification on ${working.id}`);
    expect(first.parsed.text).toContain('Any news on my card?');

    // A solved case the customer opens again goes to vera as well, and she is told.
    await customerWritesAgain(d, solved, 'Sorry, I cannot find it there.\n');
    await staffMail(VERA, solved.id, 'r', `vera's notification on the reopened ${solved.id}`);
    expect(await caseState(d, solved.id)).toMatchObject({ status: 'in_progress', assignee: 'vera' });
    const history = (await d.json(['show', solved.id])).history.filter((h: any) => h.kind === 'absence');
    expect(history.map((h: any) => [h.actor, h.field, h.from, h.to])).toEqual([
      ['system', 'assignee', 'cody', 'vera'],
      ['system', null, 'cody', 'vera'],
    ]);
    await expectNothingMoreTo(d, STAFF.cody, codyBefore);
  });

  it('a reminder on a postponed case assigned to cody while he is away goes to vera (fails if it goes to cody)', async () => {
    const d = desk!;
    const c = await customerCase(d, 'sam', 'Please call me back next week');
    await d.json(['reply', c.id, '--as', 'sam', '-m', 'We will come back to you.', '--status', 'postponed', '--remind-at', addMs(nowIso(), 2 * 3600_000)]);
    await d.json(['assign', c.id, 'cody', '--as', 'sam']);
    const before = sentTo(sink, STAFF.cody);
    // Its time comes now (the daemon's clock is its own process's: the reminder is moved instead).
    await d.db.db
      .updateTable('cases')
      .set({ remind_at: addMs(nowIso(), -1000) })
      .where('id', '=', c.id)
      .execute();
    const reminder = await arrival(
      sink,
      (m) => m.envelope.to.includes(VERA) && (m.parsed.subject ?? '').includes(`[${c.id}]`) && m.messageId.includes('mwt1.r.'),
      `the reminder on ${c.id} to vera`,
    );
    expect(reminder.parsed.text).toContain(c.id);
    expect(await caseState(d, c.id)).toMatchObject({ status: 'in_progress', assignee: 'vera' });
    const kinds = await d.db.db.selectFrom('outbox').select(['kind', 'to_addresses']).where('case_id', '=', c.id).where('kind', '=', 'reminder').execute();
    expect(kinds.map((k) => JSON.parse(k.to_addresses))).toEqual([[VERA]]);
    await expectNothingMoreTo(d, STAFF.cody, before);
  });
});

describe("while tina's supervisor sam is absent", () => {
  it('the approval already pending is sent to vera, a new one goes to vera, and her APPROVE by mail releases the reply', async () => {
    const d = desk!;
    const pending = await customerCase(d, 'tina', 'Raise my limit');
    const draft = 'Your limit is raised to 5000 EUR. Kind regards, Tina';
    const held = await d.json(['reply', pending.id, '--as', 'tina', '-m', draft]);
    expect(held).toMatchObject({ state: 'held', approver: 'sam' });
    await staffMail(STAFF.sam, pending.id, 'a', `sam's approval request on ${pending.id}`);

    const set = await d.json(['absence', 'sam', '--until', tomorrow(), '--replacement', 'vera', '--as', 'sam']);
    expect(set.approvals).toEqual([{ approval: held.approvalId, case: pending.id, from: 'sam', to: 'vera' }]);
    const rerouted = await staffMail(VERA, pending.id, 'a', `vera's approval request on ${pending.id}`);
    expect(rerouted.parsed.text).toContain(draft);
    const samBefore = sentTo(sink, STAFF.sam);

    const fresh = await customerCase(d, 'tina', 'Another limit');
    const again = await d.json(['reply', fresh.id, '--as', 'tina', '-m', 'Done as asked. Tina']);
    expect(again).toMatchObject({ state: 'held', approver: 'vera' });
    await staffMail(VERA, fresh.id, 'a', `vera's approval request on ${fresh.id}`);

    // vera answers the rerouted request from her mail client: the token was issued to her.
    await d.deliver(answerTo(rerouted, { from: `Vera Supervisor <${VERA}>`, text: 'APPROVE' }), VERA);
    const released = await arrival(
      sink,
      (m) => m.envelope.to.includes(pending.customer) && m.messageId === held.messageId,
      `the approved reply to ${pending.customer}`,
    );
    expect(released.parsed.text).toContain(draft);
    await expectNothingMoreTo(d, STAFF.sam, samBefore);
  });
});
