// Forged, altered, expired and stolen tokens in staff mail (SPEC §5A). Why: a token in a
// Message-ID is all that turns a mail into "cody's reply to the customer"; anyone who saw one
// (a forwarded notification, a guessed shape) could otherwise write to a customer in the bank's
// name. Each attack arrives as real mail through the daemon and must be quarantined with its
// reason, send the customer nothing (proven at the SMTP sink) and leave the case as it was. An
// expired token is a person's call (release relays it); a bad signature never is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../src/tokens';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
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
  messageIdWith,
  quarantineOf,
  sentTo,
  startDesk,
  tokenOf,
  type Desk,
  type NotifiedCase,
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

const CODY = `Cody Consultant <${STAFF.cody}>`;
const ANSWER = 'Dear Carla, please send your PIN to this address so we can unblock the card.';

/**
 * Delivers an answer to the notification threaded on `inReplyTo` from `from`, and checks what
 * every attack must leave: quarantined with `reason`, the case as it was, nothing to the customer.
 */
async function expectQuarantined(d: Desk, c: NotifiedCase, opts: { from: string; inReplyTo: string; envelope: string }, reason: string) {
  const before = await caseState(d, c.id);
  const customerBefore = sentTo(sink, c.customer);
  const id = newMessageId();
  await d.deliver(answerTo(c.notification, { from: opts.from, text: ANSWER, inReplyTo: opts.inReplyTo, messageId: id }), opts.envelope);
  expect(await inboundOutcome(d, id)).toBe('quarantine');
  const entry = await quarantineOf(d, id);
  expect(entry).toMatchObject({ reason, state: 'held' });
  expect(await caseState(d, c.id)).toEqual(before);
  await expectNothingMoreTo(d, c.customer, customerBefore);
  return entry;
}

/** The notification's token with its case part (`test-000001`) replaced by another case's. */
function forCase(token: string, from: string, to: string): string {
  const changed = token.replace(`.${from.toLowerCase()}.`, `.${to.toLowerCase()}.`);
  expect(changed).not.toBe(token);
  return changed;
}

describe('staff mail with a token that is not what mailwarden issued', () => {
  it('a token with one character of its MAC changed is quarantined as bad_signature (fails if an altered token is honoured)', async () => {
    const d = desk!;
    const c = await caseWithNotification(d, 'cody');
    const token = tokenOf(c.notification);
    const last = token.at(-1)!;
    const altered = `${token.slice(0, -1)}${last === 'a' ? 'b' : 'a'}`;
    const entry = await expectQuarantined(d, c, { from: CODY, inReplyTo: messageIdWith(altered), envelope: STAFF.cody }, 'bad_signature');
    expect(entry.releasable).toBe(false);
  });

  it("cody's valid token moved to another case is quarantined as bad_signature, and neither case changes (fails if the case part is not signed)", async () => {
    const d = desk!;
    const c = await caseWithNotification(d, 'cody');
    const other = await customerCase(d, 'cody', 'Where is my new card?');
    const otherBefore = await caseState(d, other.id);
    const otherCustomerBefore = sentTo(sink, other.customer);
    const moved = forCase(tokenOf(c.notification), c.id, other.id);
    const entry = await expectQuarantined(d, c, { from: CODY, inReplyTo: messageIdWith(moved), envelope: STAFF.cody }, 'bad_signature');
    expect(entry.case).toBe(other.id);
    expect(await caseState(d, other.id)).toEqual(otherBefore);
    await expectNothingMoreTo(d, other.customer, otherCustomerBefore);
  });

  it('the right token from the wrong address (eve@evil.example) is quarantined as wrong_sender (fails if the From address is not bound)', async () => {
    const d = desk!;
    const c = await caseWithNotification(d, 'cody');
    const entry = await expectQuarantined(
      d,
      c,
      { from: 'Cody Consultant <eve@evil.example>', inReplyTo: c.notification.messageId, envelope: 'eve@evil.example' },
      'wrong_sender',
    );
    expect(entry).toMatchObject({ from: 'eve@evil.example', token: { purpose: 'reply', issued_to: 'consultant:cody' } });
    expect(await d.json(['quarantine', 'show', String(entry.id)])).toMatchObject({ id: entry.id, reason: 'wrong_sender', state: 'held' });
    // A supervisor who knows eve is no alias of cody's drops it: kept, decided, never relayed.
    expect(await d.json(['quarantine', 'drop', String(entry.id), '--as', 'sam'])).toMatchObject({ id: entry.id, state: 'dropped', decided_by: 'sam' });
    expect((await d.json<any[]>(['quarantine'])).map((q) => q.id)).not.toContain(entry.id);
  });
});

describe('quarantine release: a person may override an expired token, never a forgery', () => {
  it('a token issued 31 days ago is quarantined as expired and relayed once sam releases it (fails if an expired token is honoured, or cannot be released)', async () => {
    const d = desk!;
    const c = await caseWithNotification(d, 'cody');
    const issuedAt = new Date(Date.now() - 31 * 24 * 3600_000);
    const old = issueToken(d.secret, { purpose: 'reply', caseId: c.id, ref: null, issuedAt }, { kind: 'consultant', id: 'cody' });
    const expired = await expectQuarantined(d, c, { from: CODY, inReplyTo: messageIdWith(old), envelope: STAFF.cody }, 'expired');
    expect(expired).toMatchObject({ releasable: true, case: c.id, token: { purpose: 'reply', issued_to: 'consultant:cody' } });

    const released = await d.json(['quarantine', 'release', String(expired.id), '--as', 'sam']);
    expect(released).toMatchObject({ outcome: 'staff', quarantine: { id: expired.id, state: 'released', decided_by: 'sam' } });
    const reply = await arrival(
      sink,
      (m) => m.envelope.to.includes(c.customer) && (m.parsed.text ?? '').includes('please send your PIN'),
      'the released reply',
    );
    expect(reply.parsed.inReplyTo).toBe(c.customerIds[1]);
    const shown = await d.json(['show', c.id]);
    const out = shown.messages.filter((m: any) => m.kind === 'outbound');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ author: 'cody', message_id: reply.messageId });
    expect(out[0].flags).toContain('via_mail');
    // Released once: a second release is refused.
    const again = await d.cli(['quarantine', 'release', String(expired.id), '--as', 'sam']);
    expect(again.code).not.toBe(0);
  });

  it('releasing a bad_signature is refused with one sentence on stderr and the mail stays held (fails if a forgery can be released)', async () => {
    const d = desk!;
    const c = await caseWithNotification(d, 'cody');
    const token = tokenOf(c.notification);
    const forged = `${token.slice(0, -1)}${token.at(-1) === 'q' ? 'r' : 'q'}`;
    const bad = await expectQuarantined(d, c, { from: CODY, inReplyTo: messageIdWith(forged), envelope: STAFF.cody }, 'bad_signature');
    const customerBefore = sentTo(sink, c.customer);
    const refused = await d.cli(['quarantine', 'release', String(bad.id), '--as', 'sam']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toBe('');
    const lines = refused.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^mailwarden: .*bad_signature.*may not be released/);
    expect(await quarantineOf(d, bad.message_id)).toMatchObject({ state: 'held', reason: 'bad_signature' });
    await expectNothingMoreTo(d, c.customer, customerBefore);
  });
});
