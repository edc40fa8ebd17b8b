// A truthful `show` (SPEC §5 Viewing) through real mail: every message's role told apart — the
// customer, a copied colleague, an out-of-office, a delivery report and a bounce about our own
// auto-response, the notification to the consultant, the consultant's reply, the department's
// answer — and each outgoing mail's state read from the outbox (a bounced auto-response says
// `bounced`, not `sent`), in `show --json` and in the text; a stranger's tag links the cases both ways.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { buildMail } from '../support/imap';
import { waitFor } from '../support/wait';
import { buildDsn, newMessageId } from '../ingest/helpers';
import { answerTo, arrival, BOX, caseWithNotification, startDesk, type Desk } from './helpers';

const FRAUD = 'fraud@dept.test';
const COLLEAGUE = 'colin@customer.test';

describe('show tells every message apart', () => {
  let sink: SmtpSink;
  let desk: Desk;

  beforeAll(async () => {
    sink = await startSmtpSink();
    desk = await startDesk(sink);
  });
  afterAll(async () => {
    await desk?.stop();
    await sink?.stop();
  });

  it('names each role and the outbox state of each outgoing mail, in JSON and text', async () => {
    const c = await caseWithNotification(desk, 'cody');
    const ack = await arrival(sink, (m) => m.envelope.to.includes(c.customer) && m.parsed.subject!.includes(`[${c.id}]`), 'the auto-response');
    // A colleague the customer forwarded our acknowledgement to answers it: a copied participant.
    const fromColleague = newMessageId();
    await desk.deliver(
      buildMail({
        from: `Colin <${COLLEAGUE}>`,
        to: BOX,
        subject: `Re: [${c.id}] ack`,
        text: 'I am her colleague.\n',
        messageId: fromColleague,
        inReplyTo: ack.messageId,
      }),
      COLLEAGUE,
    );
    const outOfOffice = newMessageId();
    await desk.deliver(
      buildMail({
        from: c.customer,
        to: BOX,
        subject: `Automatic reply: [${c.id}] ack`,
        text: 'I am away until Monday.\n',
        messageId: outOfOffice,
        inReplyTo: ack.messageId,
        headers: { 'Auto-Submitted': 'auto-replied' },
      }),
      c.customer,
    );
    const delayed = newMessageId();
    await desk.deliver(
      buildDsn({ to: BOX, originalId: ack.messageId, originalTo: c.customer, messageId: delayed }).replace('Action: failed', 'Action: delayed'),
    );
    const bounced = newMessageId();
    await desk.deliver(buildDsn({ to: BOX, originalId: ack.messageId, originalTo: c.customer, messageId: bounced }));

    const consult = await desk.json<any>(['consult', c.id, '--dept', 'fraud', '--as', 'cody', '-m', 'Was it flagged?']);
    expect(consult.status).toBe('under_consultation');
    const asked = await arrival(sink, (m) => m.envelope.to.includes(FRAUD) && m.parsed.subject!.includes(`[${c.id}]`), 'the consultation');
    const answer = newMessageId();
    await desk.deliver(answerTo(asked, { from: `Fraud Prevention <${FRAUD}>`, text: 'Not flagged.', messageId: answer }), FRAUD);
    const reply = await desk.json<any>(['reply', c.id, '--as', 'cody', '-m', 'All is well again.']);
    await arrival(sink, (m) => m.messageId === reply.messageId, 'the reply');

    // The drainer marks a mail sent after the sink has it: wait for the outbox to say so.
    const shown = await waitFor(
      async () => {
        const s = await desk.json<any>(['show', c.id]);
        return s.messages.find((m: any) => m.message_id === reply.messageId)?.state === 'sent' ? s : null;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the reply marked sent in the outbox' },
    );
    const byId = (id: string) => shown.messages.find((m: any) => m.message_id === id);
    expect(byId(c.customerIds[0]!).role).toBe('customer');
    expect(byId(fromColleague)).toMatchObject({ kind: 'inbound', role: 'cc', from: COLLEAGUE });
    expect(byId(outOfOffice)).toMatchObject({ kind: 'inbound', role: 'automatic_reply' });
    expect(byId(delayed).role).toBe('delivery_report');
    expect(byId(bounced).role).toBe('bounce');
    expect(byId(ack.messageId)).toMatchObject({ kind: 'auto_response', role: 'auto_response', state: 'bounced' });
    expect(shown.messages.find((m: any) => m.kind === 'notification')).toMatchObject({ role: 'notification', state: 'sent' });
    expect(byId(answer)).toMatchObject({ kind: 'consult_in', role: 'department', department: 'fraud' });
    expect(byId(reply.messageId)).toMatchObject({ kind: 'outbound', role: 'consultant', author: 'cody', state: 'sent' });
    expect(shown.messages.find((m: any) => m.kind === 'consult_out')).toMatchObject({ role: 'consultant', author: 'cody' });
    // Every existing field stays.
    expect(Object.keys(byId(reply.messageId))).toEqual(
      expect.arrayContaining(['id', 'kind', 'from', 'to', 'subject', 'at', 'text', 'message_id', 'state', 'author', 'flags', 'attachments']),
    );

    const text = (await desk.cli(['show', c.id])).stdout;
    const heads = text.split('\n').filter((l) => l.startsWith('── '));
    expect(heads.find((l) => l.includes(COLLEAGUE))).toMatch(/^── copied participant {2}colin@customer\.test/);
    expect(heads.filter((l) => l.startsWith('── customer')).every((l) => !/mailer-daemon/i.test(l))).toBe(true);
    expect(heads.some((l) => /^── bounce {2}mailer-daemon@mx\.customer\.test/i.test(l))).toBe(true);
    expect(heads.some((l) => /^── delivery report {2}mailer-daemon/i.test(l))).toBe(true);
    expect(heads.some((l) => l.startsWith(`── automatic reply  ${c.customer}`))).toBe(true);
    expect(heads.find((l) => l.startsWith('── auto-response'))).toMatch(/\[bounced\]$/);
    expect(heads.find((l) => l.startsWith('── reply by Cody'))).toMatch(/\[sent\]$/);
  });

  it('lists linked cases from both sides', async () => {
    const c = await caseWithNotification(desk, 'cody', 'Linked one');
    const stranger = newMessageId();
    await desk.deliver(
      buildMail({ from: 'stan@elsewhere.test', to: BOX, subject: `About [${c.id}]`, text: 'Me too.\n', messageId: stranger }),
      'stan@elsewhere.test',
    );
    const row = await desk.db.db.selectFrom('inbound').select('case_id').where('message_id', '=', stranger).executeTakeFirstOrThrow();
    expect(row.case_id).not.toBe(c.id);
    const other = row.case_id!;
    expect((await desk.json<any>(['show', c.id])).links).toMatchObject([{ relation: 'linked_from', case: other, status: 'received' }]);
    const theirs = await desk.json<any>(['show', other]);
    expect(theirs.links).toEqual([{ relation: 'linked_to', case: c.id, status: 'in_progress', subject: 'Linked one' }]);
    expect(theirs.answers).toEqual([]);
    expect((await desk.cli(['show', other])).stdout).toContain(`Links:\n  linked to    ${c.id}  in_progress  Linked one`);
  });
});
