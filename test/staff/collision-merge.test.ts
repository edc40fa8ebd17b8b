// The collision warning and merge of SPEC §5 through real mail (Dovecot in, the daemon, the SMTP
// sink out): a consultant who viewed a case is stopped from replying on a stale picture after the
// customer wrote or a colleague commented, and goes ahead with --force; a merged case's old ID
// keeps threading (by its tag and by In-Reply-To naming its mail) into the case it went into.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { buildMail } from '../support/imap';
import { newMessageId } from '../ingest/helpers';
import { arrival, BOX, customerCase, jsonError, sentTo, startDesk, type Desk } from './helpers';

describe('collision warning and merge by mail', () => {
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

  const replies = async (id: string) =>
    (await desk.db.db.selectFrom('outbox').select('id').where('case_id', '=', id).where('kind', '=', 'reply').execute()).length;

  it('refuses a reply after the customer wrote since the last view, naming what changed; --force sends it', async () => {
    const c = await customerCase(desk, 'cody');
    await desk.json(['show', c.id, '--as', 'cody']);
    const again = newMessageId();
    await desk.deliver(
      buildMail({
        from: c.customer,
        to: BOX,
        subject: `Re: [${c.id}] ${c.subject}`,
        text: 'It still does not work.\n',
        messageId: again,
        inReplyTo: c.customerIds[0],
      }),
      c.customer,
    );

    const refused = await desk.cli(['reply', c.id, '--as', 'cody', '-m', 'We unblocked it.', '--json']);
    expect(refused.code).toBe(64);
    const err = jsonError(refused);
    expect(err.code).toBe('ECOLLISION');
    expect(err.message).toMatch(
      new RegExp(
        `^Case ${c.id} changed since you last viewed it at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d: the customer wrote at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\. Look again with`,
      ),
    );
    expect(err.message).toContain('or use --force.');
    expect(await replies(c.id)).toBe(0);

    const forced = await desk.json<any>(['reply', c.id, '--as', 'cody', '-m', 'We unblocked it.', '--force']);
    expect(forced.state).toBe('queued');
    const sent = await arrival(sink, (m) => m.envelope.to.includes(c.customer) && m.messageId === forced.messageId, 'the forced reply');
    expect(sent.parsed.text).toContain('We unblocked it.');
  });

  it('lets a reply through when nothing changed since the view, and refuses after a colleague commented', async () => {
    const c = await customerCase(desk, 'cody');
    await desk.json(['show', c.id, '--as', 'cody']);
    const first = await desk.json<any>(['reply', c.id, '--as', 'cody', '-m', 'Looking into it.']);
    expect(first.state).toBe('queued');
    // Their own reply is no change they missed; a supervisor's comment is.
    await desk.json(['comment', c.id, '--as', 'sam', '-m', 'Check the limit first.']);
    const refused = await desk.cli(['reply', c.id, '--as', 'cody', '-m', 'Done.', '--json']);
    expect(jsonError(refused).message).toContain(': sam commented at ');
    await desk.json(['show', c.id, '--as', 'cody']);
    expect((await desk.json<any>(['reply', c.id, '--as', 'cody', '-m', 'Done.'])).state).toBe('queued');
    expect(await replies(c.id)).toBe(2);
  });

  it('merges a case into another; both old-ID tag and In-Reply-To naming its mail thread into the merged case', async () => {
    const into = await customerCase(desk, 'cody', 'Card blocked in Lisbon');
    const from = await customerCase(desk, 'cody', 'Card still blocked');
    const autoResponse = await arrival(sink, (m) => m.envelope.to.includes(from.customer), `the auto-response on ${from.id}`);

    const self = await desk.cli(['merge', into.id, into.id, '--as', 'cody', '--json']);
    expect(jsonError(self)).toMatchObject({ code: 'EMERGE', message: `Case ${into.id} cannot be merged into itself.` });
    const forbidden = await desk.cli(['merge', from.id, into.id, '--as', 'tina', '--json']);
    expect(jsonError(forbidden).code).toBe('EFORBIDDEN');

    const merged = await desk.json<any>(['merge', from.id, into.id, '--as', 'cody']);
    expect(merged).toEqual({ from: from.id, into: into.id, messages: 2 });
    const again = await desk.cli(['merge', from.id, into.id, '--as', 'cody', '--json']);
    expect(jsonError(again)).toMatchObject({ code: 'EMERGE', message: `Case ${from.id} was already merged into ${into.id}.` });
    const onto = await desk.cli(['merge', into.id, from.id, '--as', 'cody', '--json']);
    expect(jsonError(onto)).toMatchObject({ code: 'EMERGE', message: `Case ${from.id} was already merged into ${into.id}; merge into that case instead.` });

    const old = await desk.json<any>(['show', from.id]);
    expect(old.case.status).toBe('closed');
    expect(old.messages).toEqual([]);
    expect(old.links).toEqual([{ relation: 'merged_into', case: into.id, status: 'in_progress', subject: into.subject }]);
    expect(old.history.at(-1)).toMatchObject({ kind: 'merged', field: 'merged_into', to: into.id });

    const byTag = newMessageId();
    await desk.deliver(
      buildMail({ from: from.customer, to: BOX, subject: `Re: [${from.id}] ${from.subject}`, text: 'Tagged with the old ID.\n', messageId: byTag }),
      from.customer,
    );
    const byHeader = newMessageId();
    await desk.deliver(
      buildMail({
        from: from.customer,
        to: BOX,
        subject: 'Re: my card',
        text: 'Answering your acknowledgement.\n',
        messageId: byHeader,
        inReplyTo: autoResponse.messageId,
      }),
      from.customer,
    );
    const byOwnMail = newMessageId();
    await desk.deliver(
      buildMail({
        from: from.customer,
        to: BOX,
        subject: 'one more',
        text: 'Answering my own first mail.\n',
        messageId: byOwnMail,
        inReplyTo: from.customerIds[0],
      }),
      from.customer,
    );
    for (const id of [byTag, byHeader, byOwnMail]) {
      const row = await desk.db.db.selectFrom('inbound').select('case_id').where('message_id', '=', id).executeTakeFirstOrThrow();
      expect(row.case_id, id).toBe(into.id);
    }

    const shown = await desk.json<any>(['show', into.id]);
    const ids = shown.messages.map((m: any) => m.message_id);
    expect(ids).toEqual(expect.arrayContaining([into.customerIds[0], from.customerIds[0], autoResponse.messageId, byTag, byHeader, byOwnMail]));
    expect(shown.links).toEqual([{ relation: 'merged_from', case: from.id, status: 'closed', subject: from.subject }]);
    expect(shown.history.some((h: any) => h.kind === 'merged' && h.to === from.id)).toBe(true);
    // The old case's customer is a participant of the merged case: their mail is theirs, not a stranger's.
    expect(shown.messages.find((m: any) => m.message_id === byTag).role).toBe('customer');
    expect((await desk.json<any[]>(['cases', '--all'])).some((c) => c.id === from.id && c.status !== 'closed')).toBe(false);
    expect(sentTo(sink, from.customer).length).toBeGreaterThan(0);
  });
});
