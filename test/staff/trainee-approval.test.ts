// Four eyes (SPEC §5B). Why: a trainee's reply must not reach the customer before a supervisor
// approved it, whichever way it was written (CLI or her mail client) and however the decision
// comes (CLI or an APPROVE mail). "Held" is proven at the SMTP sink: sam's approval request,
// queued in the same transaction, arrives and the customer gets nothing. The status the reply
// asked for waits for the approval too; the author cannot approve herself; a rejection tells
// her why and keeps the draft; a second decision is refused, by CLI and by mail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedMail, SmtpSink } from '../support/smtp-sink';
import { startSmtpSink } from '../support/smtp-sink';
import { newMessageId } from '../ingest/helpers';
import {
  STAFF,
  answerTo,
  arrival,
  caseState,
  caseWithNotification,
  customerCase,
  expectNothingMoreTo,
  inboundOutcome,
  jsonError,
  outboxTo,
  quarantineOf,
  sentTo,
  startDesk,
  type CustomerCase,
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

const SAM = `Sam Supervisor <${STAFF.sam}>`;

/** sam's approval request for a reply on case `c`, as the sink got it. */
function approvalRequest(c: CustomerCase, text: string): Promise<RecordedMail> {
  const marker = `mwt1.a.${c.id.toLowerCase()}.`;
  return arrival(
    sink,
    (m) => m.envelope.to.includes(STAFF.sam) && m.messageId.includes(marker) && (m.parsed.text ?? '').includes(text),
    `sam's approval request on ${c.id}`,
  );
}

/** tina replies by CLI asking to solve the case; checks it is held (nothing to the customer, status unchanged). */
async function heldReply(d: Desk, draft: string) {
  const c = await customerCase(d, 'tina');
  const customerBefore = sentTo(sink, c.customer);
  const r = await d.json(['reply', c.id, '--as', 'tina', '-m', draft, '--status', 'solved']);
  expect(r).toMatchObject({ state: 'held', approvalId: expect.any(Number) });
  const request = await approvalRequest(c, draft);
  await expectNothingMoreTo(d, c.customer, customerBefore);
  expect((await outboxTo(d, c.customer)).filter((o) => o.kind === 'reply')).toEqual([expect.objectContaining({ state: 'held', message_id: r.messageId })]);
  expect((await caseState(d, c.id)).status).toBe('in_progress');
  return { c, approvalId: r.approvalId as number, heldId: r.messageId as string, request, customerBefore };
}

/** The held reply reached the customer unchanged (same Message-ID, same text), threaded on the customer's mail. */
async function expectDelivered(c: CustomerCase, heldId: string, draft: string) {
  const mail = await arrival(sink, (m) => m.envelope.to.includes(c.customer) && m.messageId === heldId, `the approved reply to ${c.customer}`);
  expect(mail.parsed.text).toContain(draft);
  expect(mail.parsed.inReplyTo).toBe(c.customerIds.at(-1));
}

describe("a trainee's reply by CLI", () => {
  it('is held until sam answers the approval request with APPROVE; only then it reaches the customer and solves the case (fails if a held reply leaks or its status applies early)', async () => {
    const d = desk!;
    const draft = 'Dear Carla, your card is unblocked again. Kind regards, Tina';
    const { c, approvalId, heldId, request } = await heldReply(d, draft);
    const pending = await d.json<any[]>(['approvals']);
    expect(pending).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: approvalId, case: c.id, state: 'pending', trainee: 'tina', approver: 'sam', status: 'solved' })]),
    );

    const answerId = newMessageId();
    await d.deliver(answerTo(request, { from: SAM, text: 'APPROVE', messageId: answerId }), STAFF.sam);
    expect(await inboundOutcome(d, answerId)).toBe('staff');
    await expectDelivered(c, heldId, draft);
    const shown = await d.json(['show', c.id]);
    expect(shown.case.status).toBe('solved');
    expect(shown.history).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'status', to: 'solved', actor: 'tina' })]));
    const decided = (await d.json<any[]>(['approvals', '--all'])).find((a) => a.id === approvalId);
    expect(decided).toMatchObject({ state: 'approved', decided_by: 'sam' });
  });

  it('cannot be approved by its author (EFORBIDDEN) nor by a consultant; `approve --as sam` sends it (fails if a trainee can approve herself)', async () => {
    const d = desk!;
    const draft = 'Dear Carla, I have ordered a replacement card for you. Tina';
    const { c, approvalId, heldId, customerBefore } = await heldReply(d, draft);
    for (const who of ['tina', 'cody']) {
      const r = await d.cli(['approve', String(approvalId), '--as', who, '--json']);
      expect(r.code, `approve --as ${who}`).not.toBe(0);
      expect(jsonError(r).code).toBe('EFORBIDDEN');
    }
    expect((await d.json<any[]>(['approvals'])).find((a) => a.id === approvalId)).toMatchObject({ state: 'pending' });
    await expectNothingMoreTo(d, c.customer, customerBefore);

    const ok = await d.json(['approve', String(approvalId), '--as', 'sam']);
    expect(ok).toMatchObject({ approvalId, caseId: c.id, state: 'approved', status: 'solved' });
    await expectDelivered(c, heldId, draft);
    expect((await d.json(['show', c.id])).case.status).toBe('solved');
  });

  it('rejected by sam: tina is mailed the reason, the customer gets nothing, the draft stays in the case as rejected (fails if a rejected draft is sent or lost)', async () => {
    const d = desk!;
    const draft = 'Dear Carla, your full card number is 4111 1111 1111 1111. Tina';
    const reason = 'Never write the full card number; quote the last four digits only.';
    const { c, approvalId, customerBefore } = await heldReply(d, draft);
    const rejected = await d.json(['reject', String(approvalId), '--as', 'sam', '--reason', reason]);
    expect(rejected).toMatchObject({ approvalId, state: 'rejected' });
    const notice = await arrival(sink, (m) => m.envelope.to.includes(STAFF.tina) && (m.parsed.text ?? '').includes(reason), 'the rejection mailed to tina');
    expect(notice.parsed.text).toContain(draft);
    await expectNothingMoreTo(d, c.customer, customerBefore);
    const shown = await d.json(['show', c.id]);
    expect(shown.case.status).toBe('in_progress');
    const drafts = shown.messages.filter((m: any) => m.kind === 'outbound');
    expect(drafts).toHaveLength(1);
    expect(drafts[0]).toMatchObject({ author: 'tina', state: 'rejected' });
    expect(drafts[0].text).toContain(draft);
  });

  it('a second decision after a rejection is refused: `approve` exits with EDECIDED, an APPROVE mail is quarantined as refused and sam is told (fails on a double decision)', async () => {
    const d = desk!;
    const draft = 'Dear Carla, we will call you tomorrow at 9. Tina';
    const { c, approvalId, request, customerBefore } = await heldReply(d, draft);
    await d.json(['reject', String(approvalId), '--as', 'sam', '--reason', 'We do not promise calls.']);

    const again = await d.cli(['approve', String(approvalId), '--as', 'sam', '--json']);
    expect(again.code).not.toBe(0);
    expect(jsonError(again).code).toBe('EDECIDED');

    const answerId = newMessageId();
    await d.deliver(answerTo(request, { from: SAM, text: 'APPROVE', messageId: answerId }), STAFF.sam);
    expect(await inboundOutcome(d, answerId)).toBe('quarantine');
    expect(await quarantineOf(d, answerId)).toMatchObject({ reason: 'refused', case: c.id, token: { purpose: 'approve', ref: approvalId } });
    // The refusal (template staff-mail-refused); sam may also get the daily quarantine notice.
    const isRefusal = (m: RecordedMail) => m.envelope.to.includes(STAFF.sam) && (m.parsed.subject ?? '').includes(`[${c.id}] Not done`);
    const refusal = await arrival(sink, isRefusal, 'the refusal mailed to sam');
    expect(refusal.parsed.text).toMatch(/was not applied/);
    expect(refusal.parsed.text).toContain(`Approval ${approvalId} was already rejected by sam`);
    expect(sink.messages.filter(isRefusal)).toHaveLength(1);
    await expectNothingMoreTo(d, c.customer, customerBefore);
    expect(await caseState(d, c.id)).toMatchObject({ status: 'in_progress' });
  });
});

describe("a trainee's reply from her mail client", () => {
  it('tina answering her notification is held the same way: approval request to sam, nothing to the customer, status only on approval (fails if mail bypasses four eyes)', async () => {
    const d = desk!;
    const c = await caseWithNotification(d, 'tina');
    const customerBefore = sentTo(sink, c.customer);
    const draft = 'Dear Carla, the shop terminal blocked your card by mistake; it works again.';
    const answerId = newMessageId();
    await d.deliver(answerTo(c.notification, { from: `Tina Trainee <${STAFF.tina}>`, text: `#status solved\n${draft}`, messageId: answerId }), STAFF.tina);
    expect(await inboundOutcome(d, answerId)).toBe('staff');

    const request = await approvalRequest(c, draft);
    expect(request.parsed.text).not.toContain('Any news?');
    await expectNothingMoreTo(d, c.customer, customerBefore);
    const pending = (await d.json<any[]>(['approvals'])).find((a) => a.case === c.id);
    expect(pending).toMatchObject({ state: 'pending', trainee: 'tina', approver: 'sam', status: 'solved' });
    const shown = await d.json(['show', c.id]);
    expect(shown.case.status).toBe('in_progress');
    const held = shown.messages.filter((m: any) => m.kind === 'outbound');
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ author: 'tina', state: 'held' });
    expect(held[0].flags).toContain('via_mail');

    await d.json(['approve', String(pending.id), '--as', 'sam']);
    await expectDelivered(c, held[0].message_id, draft);
    expect((await d.json(['show', c.id])).case.status).toBe('solved');
  });
});
