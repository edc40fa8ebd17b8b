// The operator's MTA vouches for staff mail (SPEC §5A, `ingest.authentication_results`). Why: a
// token in a notification is only as secret as the mailbox it went to; someone who read it (a
// forwarded mail, a shared inbox) can forge cody's From address. With the MTA's authserv-id
// configured, only the topmost Authentication-Results it wrote counts: a DMARC fail there, or a
// "pass" written by anyone else (the forger adds their own headers before the mail reaches the
// MTA), is quarantined as authentication_failed; a genuine pass is relayed (positive control).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { newMessageId } from '../ingest/helpers';
import {
  STAFF,
  answerTo,
  arrival,
  caseState,
  caseWithNotification,
  expectNothingMoreTo,
  inboundOutcome,
  quarantineOf,
  sentTo,
  startDesk,
  type Desk,
} from './helpers';

const TRUSTED = 'mx.test.example';
let sink: SmtpSink;
let desk: Desk | undefined;

beforeAll(async () => {
  sink = await startSmtpSink();
  desk = await startDesk(sink, { ingest: { authentication_results: TRUSTED } });
});
afterAll(async () => {
  try {
    await desk?.stop();
  } finally {
    await sink?.stop();
  }
});

const CODY = `Cody Consultant <${STAFF.cody}>`;

/** cody's right token from cody's address, with the given Authentication-Results headers (topmost first). */
async function codyAnswers(d: Desk, results: string[], text: string) {
  const c = await caseWithNotification(d, 'cody');
  const before = await caseState(d, c.id);
  const customerBefore = sentTo(sink, c.customer);
  const id = newMessageId();
  const raw = answerTo(c.notification, { from: CODY, text, messageId: id });
  // The MTA prepends its headers: they stand above the ones the mail arrived with.
  const headers = results.map((r) => `Authentication-Results: ${r}\r\n`).join('');
  await d.deliver(`${headers}${raw}`, STAFF.cody);
  return { c, id, before, customerBefore };
}

describe('staff mail whose sender the trusted MTA does not vouch for', () => {
  it('a dmarc=fail from the trusted authserv-id is quarantined as authentication_failed, even with a forged trusted "pass" below it (fails if a later header can outvote the topmost)', async () => {
    const d = desk!;
    const { c, id, before, customerBefore } = await codyAnswers(
      d,
      [
        `${TRUSTED}; dkim=none; spf=fail smtp.mailfrom=cody@staff.test; dmarc=fail (p=reject) header.from=staff.test`,
        `${TRUSTED}; dkim=pass header.d=staff.test; spf=pass smtp.mailfrom=cody@staff.test; dmarc=pass header.from=staff.test`,
      ],
      'Dear Carla, your card is unblocked. Please confirm your PIN by return mail.',
    );
    expect(await inboundOutcome(d, id)).toBe('quarantine');
    const entry = await quarantineOf(d, id);
    expect(entry).toMatchObject({ reason: 'authentication_failed', releasable: false, case: c.id, token: { issued_to: 'consultant:cody' } });
    expect(entry.detail).toContain('dmarc=fail');
    expect(await caseState(d, c.id)).toEqual(before);
    await expectNothingMoreTo(d, c.customer, customerBefore);
  });

  it('a forged "Authentication-Results: evil.example; dmarc=pass" alone is quarantined as authentication_failed (fails if an untrusted authserv-id is believed)', async () => {
    const d = desk!;
    const { c, id, before, customerBefore } = await codyAnswers(
      d,
      [`evil.example; dkim=pass header.d=staff.test; spf=pass smtp.mailfrom=cody@staff.test; dmarc=pass header.from=staff.test`],
      'Dear Carla, your card is unblocked. Please confirm your PIN by return mail.',
    );
    expect(await inboundOutcome(d, id)).toBe('quarantine');
    const entry = await quarantineOf(d, id);
    expect(entry).toMatchObject({ reason: 'authentication_failed', releasable: false, case: c.id });
    expect(entry.detail).toContain(`no Authentication-Results header from ${TRUSTED}`);
    expect(await caseState(d, c.id)).toEqual(before);
    await expectNothingMoreTo(d, c.customer, customerBefore);
  });
});

describe('staff mail the trusted MTA vouches for (positive control)', () => {
  it('dmarc=pass from the trusted authserv-id is relayed to the customer as cody’s reply (fails if the check refuses genuine staff mail)', async () => {
    const d = desk!;
    const { c, id } = await codyAnswers(
      d,
      [`${TRUSTED}; dkim=pass header.d=staff.test; spf=pass smtp.mailfrom=cody@staff.test; dmarc=pass (p=reject) header.from=staff.test`],
      'Dear Carla, your card works again. Kind regards.',
    );
    expect(await inboundOutcome(d, id)).toBe('staff');
    const reply = await arrival(sink, (m) => m.envelope.to.includes(c.customer) && (m.parsed.text ?? '').includes('your card works again'), 'cody’s reply');
    expect(reply.parsed.inReplyTo).toBe(c.customerIds[1]);
    const shown = await d.json(['show', c.id]);
    expect(shown.quarantined).toEqual([]);
    const out = shown.messages.filter((m: any) => m.kind === 'outbound');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ author: 'cody', message_id: reply.messageId });
  });
});
