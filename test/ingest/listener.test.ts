// Direct delivery (SPEC §3): the daemon's LMTP/SMTP listener. The recipient picks the box, an
// unknown one is refused with 550, and 250 means the message is on disk and committed.
import fs from 'node:fs';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawPath } from '../../src/db/stored-files';
import { startDaemon, type Daemon } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { buildMail } from '../support/imap';
import { freePort } from '../support/ports';
import { newMessageId, openDb } from './helpers';

for (const protocol of ['lmtp', 'smtp'] as const) {
  describe(`the ${protocol.toUpperCase()} listener`, () => {
    let cfg: TestConfig;
    let daemon: Daemon;
    let port: number;
    let db: Awaited<ReturnType<typeof openDb>>;

    beforeAll(async () => {
      port = await freePort();
      cfg = await writeTestConfig({ listener: { port, protocol } });
      daemon = await startDaemon(cfg.configPath);
      db = await openDb(cfg);
    });
    afterAll(async () => {
      const code = await daemon?.stop();
      await db?.close();
      expect(code).toBe(0);
    });

    const transport = () => nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: protocol === 'lmtp', ignoreTLS: true, secure: false } as any);

    it('answers 250 only once the message is on disk and committed, into the box the recipient names (fails if 250 comes first)', async () => {
      expect(daemon.logs.find((l) => l.event === 'daemon.ready')?.listener).toMatchObject({ port });
      const messageId = newMessageId();
      const info = await transport().sendMail({
        envelope: { from: 'direct@customer.test', to: ['bob@example.test'] },
        raw: buildMail({ from: 'Direct <direct@customer.test>', to: 'bob@example.test', subject: 'Delivered directly', text: 'no IMAP in between', messageId }),
      });
      expect(info.accepted).toEqual(['bob@example.test']);
      // No waiting: the 250 promised it is recorded.
      const row = await db.db.selectFrom('inbound').selectAll().where('message_id', '=', messageId).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ source: protocol, mailbox_id: 'cards', outcome: 'case', uid: null });
      expect(fs.existsSync(rawPath(cfg.dataDir, row.sha256))).toBe(true);
      expect(await db.db.selectFrom('cases').selectAll().where('id', '=', row.case_id!).executeTakeFirstOrThrow()).toMatchObject({
        pool_id: 'cards',
        customer_address: 'direct@customer.test',
      });
      // The null sender (a bounce path) is recorded as such, and gets no auto-response.
      const bounceLike = newMessageId();
      await transport().sendMail({
        envelope: { from: '', to: ['alice@example.test'] },
        raw: buildMail({ from: 'someone@customer.test', to: 'alice@example.test', subject: 'From the null sender', text: 'x', messageId: bounceLike }),
      });
      const nullRow = await db.db.selectFrom('inbound').selectAll().where('message_id', '=', bounceLike).executeTakeFirstOrThrow();
      const autos = await db.db.selectFrom('outbox').select('id').where('case_id', '=', nullRow.case_id!).where('kind', '=', 'auto_response').execute();
      expect(autos).toHaveLength(0);
    });

    it('refuses an unknown recipient with 550 and still delivers to the known one (fails on accepting mail for nobody)', async () => {
      const messageId = newMessageId();
      const info = await transport().sendMail({
        envelope: { from: 'mixed@customer.test', to: ['nobody@example.test', 'alice@example.test'] },
        raw: buildMail({ from: 'mixed@customer.test', to: 'alice@example.test', subject: 'Mixed recipients', text: 'x', messageId }),
      });
      expect(info.accepted).toEqual(['alice@example.test']);
      expect(info.rejected).toEqual(['nobody@example.test']);
      expect(info.rejectedErrors?.[0]?.responseCode).toBe(550);
      const rows = await db.db.selectFrom('inbound').selectAll().where('message_id', '=', messageId).execute();
      expect(rows.map((r) => r.mailbox_id)).toEqual(['support']);
    });

    it('makes one case of one message addressed to two boxes, with one reply per recipient (fails on two cases)', async () => {
      const messageId = newMessageId();
      const info = await transport().sendMail({
        envelope: { from: 'two@customer.test', to: ['alice@example.test', 'bob@example.test'] },
        raw: buildMail({ from: 'two@customer.test', to: 'alice@example.test, bob@example.test', subject: 'To both boxes', text: 'x', messageId }),
      });
      expect([...info.accepted].sort()).toEqual(['alice@example.test', 'bob@example.test']);
      const rows = await db.db.selectFrom('inbound').selectAll().where('message_id', '=', messageId).orderBy('id').execute();
      expect(rows.map((r) => r.outcome)).toEqual(['case', 'duplicate']);
      expect(rows[1]!.case_id).toBe(rows[0]!.case_id);
    });

    it('takes a message delivered again (an MTA whose 250 was lost) as a duplicate of its case, with no second auto-response (fails on a second case or reply)', async () => {
      // The daemon cannot tell a 250 lost on the way (the daemon killed after its commit, the
      // connection cut) from the same mail sent twice: the MTA's second try is a new transaction.
      const messageId = newMessageId();
      const send = () =>
        transport().sendMail({
          envelope: { from: 'again@customer.test', to: ['bob@example.test'] },
          raw: buildMail({ from: 'again@customer.test', to: 'bob@example.test', subject: 'Sent twice', text: 'did you get this?', messageId }),
        });
      expect((await send()).accepted).toEqual(['bob@example.test']);
      expect((await send()).accepted).toEqual(['bob@example.test']);
      const rows = await db.db.selectFrom('inbound').selectAll().where('message_id', '=', messageId).orderBy('id').execute();
      expect(rows.map((r) => r.outcome)).toEqual(['case', 'duplicate']);
      expect(rows[1]!.case_id).toBe(rows[0]!.case_id);
      expect(rows[1]!.queue_id).not.toBe(rows[0]!.queue_id);
      const autos = await db.db.selectFrom('outbox').select('id').where('case_id', '=', rows[0]!.case_id!).where('kind', '=', 'auto_response').execute();
      expect(autos).toHaveLength(1);
    });
  });
}
