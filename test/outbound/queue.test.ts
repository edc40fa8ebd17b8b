// queueMail: the frozen message in the outbox is complete and correct before any sender sees it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { writeTx } from '../../src/db/connection';
import { queueMail } from '../../src/outbound/queue';
import { MailwardenError } from '../../src/errors';
import { insertCase, outboundEnv, writeTemplate, type OutboundEnv, replyInput } from './helpers';

describe('queueMail', () => {
  let env: OutboundEnv;
  beforeAll(async () => {
    env = await outboundEnv();
  });
  afterAll(async () => {
    await env?.close();
  });

  async function outboxRow(id: number) {
    return env.opened.db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  }

  it('freezes a tagged, threaded reply with a random Message-ID and a messages row', async () => {
    const caseId = await insertCase(env, { subject: 'Card blocked', messageId: '<c1@example.org>' });
    const q = await writeTx(env.opened.db, (tx) =>
      queueMail(
        tx,
        replyInput(env, caseId, {
          scope: { pool: 'general', mailbox: 'support' },
          from: { address: 'alice@example.test', name: 'Test Desk' },
          to: [{ address: 'customer@example.org', name: 'Carla Customer' }],
          inReplyTo: '<c1@example.org>',
          references: ['<root@example.org>'],
          vars: { reply: { text: 'Your card works again & fine.' }, consultant: { footer_text: 'Sam' } },
          author: 'sam',
        }),
      ),
    );
    expect(q.messageId).toMatch(/^<mw\.[0-9a-f]{32}@example\.test>$/);
    expect(q.subject).toBe(`[${caseId}] Re: Card blocked`);
    const row = await outboxRow(q.outboxId);
    expect(row.state).toBe('queued');
    expect(JSON.parse(row.to_addresses)).toEqual(['customer@example.org']);
    const parsed = await simpleParser(row.mime);
    expect(parsed.messageId).toBe(q.messageId);
    expect(parsed.subject).toBe(`[${caseId}] Re: Card blocked`);
    expect(parsed.inReplyTo).toBe('<c1@example.org>');
    expect(parsed.references).toEqual(['<root@example.org>', '<c1@example.org>']);
    expect(parsed.from?.value[0]?.address).toBe('alice@example.test');
    expect(parsed.headers.get('x-mailwarden-instance')).toBe('TEST');
    expect(parsed.headers.get('auto-submitted')).toBeUndefined();
    // Plain-text templates are not HTML-escaped.
    expect(parsed.text).toContain('Your card works again & fine.');
    expect(parsed.text).toContain('Sam');
    const msg = await env.opened.db.selectFrom('messages').selectAll().where('id', '=', q.messageRowId!).executeTakeFirstOrThrow();
    expect(msg).toMatchObject({ kind: 'outbound', state: 'queued', message_id: q.messageId, author: 'sam', case_id: caseId });
  });

  it('adds the case tag even when an override template forgets it, and picks a translation by case language', async () => {
    writeTemplate(env, 'pools/general/reply.pl.hbs', 'Subject: Odp: {{case.subject}}\n\nDzień dobry, {{reply.text}}\n');
    const caseId = await insertCase(env, { subject: 'Karta', language: 'pl' });
    const q = await writeTx(env.opened.db, (tx) =>
      queueMail(
        tx,
        replyInput(env, caseId, {
          scope: { pool: 'general', mailbox: 'support' },
          vars: { reply: { text: 'gotowe.' } },
        }),
      ),
    );
    expect(q.subject).toBe(`[${caseId}] Odp: Karta`);
    expect(q.text).toBe('Dzień dobry, gotowe.\n');
  });

  it('puts an inline JPEG in a related HTML part when an attachment has a cid', async () => {
    const caseId = await insertCase(env);
    const jpeg = Buffer.from(
      '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=',
      'base64',
    );
    const q = await writeTx(env.opened.db, (tx) =>
      queueMail(
        tx,
        replyInput(env, caseId, {
          vars: { reply: { text: 'See <below>' } },
          attachments: [{ filename: 'footer.jpg', content: jpeg, contentType: 'image/jpeg', cid: 'footer@mailwarden' }],
        }),
      ),
    );
    const row = await outboxRow(q.outboxId);
    expect(row.mime.toString()).toMatch(/multipart\/related/);
    const parsed = await simpleParser(row.mime);
    expect(parsed.html).toContain('See &lt;below&gt;');
    expect(row.mime.toString()).toContain('cid:footer@mailwarden');
    // mailparser resolves a cid that points at a related part into a data: URI.
    expect(parsed.html).toContain('src="data:image/jpeg;base64,');
    expect(parsed.attachments[0]).toMatchObject({ contentType: 'image/jpeg', cid: 'footer@mailwarden', related: true });
  });

  it('refuses an invalid recipient with a data error and writes nothing', async () => {
    const caseId = await insertCase(env);
    const before = await env.opened.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const attempt = writeTx(env.opened.db, (tx) =>
      queueMail(tx, replyInput(env, caseId, { to: [{ address: 'victim@example.org\r\nBcc: everyone@example.org' }] })),
    );
    await expect(attempt).rejects.toBeInstanceOf(MailwardenError);
    await expect(attempt).rejects.toMatchObject({ kind: 'data', code: 'EBADADDRESS' });
    const after = await env.opened.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });
});
