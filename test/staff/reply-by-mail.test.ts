// A consultant answers from his own mail client (SPEC §5A, reply purpose). Why: that answer is
// mail from a staff address threading onto a customer's case, exactly what the customer-side
// rules would treat as a copied colleague (participant, auto-response, notification, reopen). It
// must instead reach the customer as cody's reply, the way `mailwarden reply` sends it, with the
// quoted notification (which quotes the customer) cut off; `#comment` must keep it internal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { newMessageId } from '../ingest/helpers';
import {
  CODY_FOOTER,
  BOX,
  STAFF,
  answerTo,
  arrival,
  caseState,
  caseWithNotification,
  expectNothingMoreTo,
  inboundOutcome,
  outboxTo,
  sentTo,
  startDesk,
  type Desk,
} from './helpers';

let sink: SmtpSink;
let desk: Desk | undefined;

beforeAll(async () => {
  sink = await startSmtpSink();
  desk = await startDesk(sink);
});
afterAll(async () => {
  try {
    await desk?.stop();
  } finally {
    await sink?.stop();
  }
});

describe('cody answers the "customer wrote again" notification from his mail client', () => {
  it('reaches the customer as his reply (box From, threaded, footer, no quote), not as a copied colleague (fails if the staff mail is taken for customer mail)', async () => {
    const d = desk!;
    const c = await caseWithNotification(d, 'cody');
    const answerId = newMessageId();
    await d.deliver(
      answerTo(c.notification, {
        from: `Cody Consultant <${STAFF.cody}>`,
        text: 'Dear Carla,\n\nwe have unblocked your card; it works again from now on.',
        messageId: answerId,
      }),
      STAFF.cody,
    );
    expect(await inboundOutcome(d, answerId)).toBe('staff');

    const reply = await arrival(
      sink,
      (m) => m.envelope.to.includes(c.customer) && (m.parsed.text ?? '').includes('we have unblocked your card'),
      `cody's reply at the sink for ${c.customer}`,
    );
    expect(reply.parsed.from?.value[0]?.address).toBe(BOX);
    expect(reply.parsed.to && !Array.isArray(reply.parsed.to) ? reply.parsed.to.value.map((a) => a.address) : []).toEqual([c.customer]);
    expect(reply.parsed.inReplyTo).toBe(c.customerIds[1]);
    expect(reply.parsed.subject).toContain(`[${c.id}]`);
    const text = (reply.parsed.text ?? '').replace(/\r\n/g, '\n');
    expect(text).toContain(CODY_FOOTER);
    // Nothing of the quoted notification: its quote header, its text, the customer's words in it.
    expect(text).not.toMatch(/wrote:/);
    expect(text).not.toContain('New message from');
    expect(text).not.toContain('Any news?');
    expect(text).not.toMatch(/^>/m);
    expect(reply.parsed.attachments.map((a) => a.contentType)).toContain('image/jpeg');

    const shown = await d.json(['show', c.id]);
    const ours = shown.messages.filter((m: any) => m.kind === 'outbound');
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatchObject({ author: 'cody', message_id: reply.messageId });
    expect(ours[0].flags).toContain('via_mail');
    expect(shown.messages.map((m: any) => m.message_id)).not.toContain(answerId);
    expect(shown.case).toMatchObject({ status: 'in_progress', assignee: 'cody' });
    expect(shown.quarantined).toEqual([]);

    // Not a customer, not a colleague: no participant, no auto-response, no notice of his own mail.
    const participants = await d.db.db.selectFrom('case_participants').select('address').where('case_id', '=', c.id).execute();
    expect(participants.map((p) => p.address)).not.toContain(STAFF.cody);
    const toCody = await outboxTo(d, STAFF.cody);
    expect(toCody.map((r) => r.kind)).toEqual(['notification']);
    await expectNothingMoreTo(d, STAFF.cody, [c.notification]);
  });

  it('with "#comment" as the first line becomes an internal comment and sends the customer nothing (fails if a comment leaks to the customer)', async () => {
    const d = desk!;
    const c = await caseWithNotification(d, 'cody');
    const before = await caseState(d, c.id);
    const customerBefore = sentTo(sink, c.customer);
    const answerId = newMessageId();
    await d.deliver(
      answerTo(c.notification, {
        from: `Cody Consultant <${STAFF.cody}>`,
        text: '#comment\nCalled the card processor: the block came from their fraud filter. Do not tell the customer yet.',
        messageId: answerId,
      }),
      STAFF.cody,
    );
    expect(await inboundOutcome(d, answerId)).toBe('staff');

    const shown = await d.json(['show', c.id]);
    const comments = shown.messages.filter((m: any) => m.kind === 'comment');
    expect(comments).toHaveLength(1);
    expect(comments[0]).toMatchObject({ author: 'cody' });
    expect(comments[0].text).toContain('the block came from their fraud filter');
    expect(comments[0].text).not.toContain('#comment');
    expect(comments[0].text).not.toMatch(/wrote:|Any news\?/);
    expect(shown.messages.filter((m: any) => m.kind === 'outbound')).toEqual([]);
    expect(shown.case.status).toBe(before.status);
    expect(shown.messages).toHaveLength(before.messages + 1);
    await expectNothingMoreTo(d, c.customer, customerBefore);
  });

  it('with "#status solved" alone solves the case without mailing the customer (fails if a bare command is relayed as text)', async () => {
    const d = desk!;
    const c = await caseWithNotification(d, 'cody');
    const customerBefore = sentTo(sink, c.customer);
    const answerId = newMessageId();
    await d.deliver(answerTo(c.notification, { from: `Cody Consultant <${STAFF.cody}>`, text: '#status solved', messageId: answerId }), STAFF.cody);
    expect(await inboundOutcome(d, answerId)).toBe('staff');
    const shown = await d.json(['show', c.id]);
    expect(shown.case.status).toBe('solved');
    expect(shown.history).toEqual(expect.arrayContaining([expect.objectContaining({ actor: 'cody', field: 'status', to: 'solved' })]));
    expect(shown.messages.filter((m: any) => m.kind === 'outbound')).toEqual([]);
    await expectNothingMoreTo(d, c.customer, customerBefore);
  });
});
