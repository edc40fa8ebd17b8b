// The daemon as an operator meets it: a box with a wrong password or a missing folder never
// stops the others, a Dovecot restart mid-IDLE is survived, SIGHUP reloads (and refuses an
// invalid file), SIGTERM finishes the message in hand and exits 0, polling works without IDLE.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon } from '../support/cli';
import { rewriteTestConfig, writeTestConfig } from '../support/config';
import { startDovecot, type DovecotInstance } from '../support/dovecot';
import { appendMail, buildMail, withImap } from '../support/imap';
import { waitFor } from '../support/wait';
import { newMessageId, openDb, waitForInbound } from './helpers';

describe('daemon resilience', () => {
  let dovecot: DovecotInstance;

  beforeAll(async () => {
    dovecot = await startDovecot();
    for (const u of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']) await dovecot.addUser(`${u}@example.test`, 'secret');
  });
  afterAll(async () => {
    await dovecot?.stop();
  });

  const imap = () => ({ host: dovecot.host, port: dovecot.port });
  const send = async (user: string, subject: string) => {
    const messageId = newMessageId();
    await appendMail(dovecot, user, 'INBOX', buildMail({ from: `${subject.replace(/\W/g, '')}@customer.test`, to: user, subject, text: 'hello', messageId }));
    return messageId;
  };

  it('keeps ingesting a working box while another has a wrong password and a third a missing folder (fails if one box stops the rest)', async () => {
    const cfg = await writeTestConfig({
      imap: imap(),
      mailboxes: [
        { id: 'badpass', address: 'r1@example.test', pool: 'general', password: 'wrong' },
        { id: 'nofolder', address: 'r2@example.test', pool: 'general', folder: 'Missing' },
        { id: 'good', address: 'r3@example.test', pool: 'general' },
      ],
    });
    const db = await openDb(cfg);
    const daemon = await startDaemon(cfg.configPath);
    try {
      const id = await send('r3@example.test', 'Working box');
      expect((await waitForInbound(db, id, 'mail in the working box')).mailbox_id).toBe('good');
      const failures = (box: string) =>
        daemon.logs.filter((l) => l.mailbox === box && (l.event === 'mailbox.login_failed' || l.event === 'mailbox.connection_failed'));
      await waitFor(() => failures('badpass').length >= 2 && failures('nofolder').length >= 2, {
        what: 'repeated, logged failures of both broken boxes',
        timeoutMs: 15_000,
      });
      expect(failures('badpass')[0]).toMatchObject({ event: 'mailbox.login_failed' });
      const retries = failures('badpass').map((l) => l.retry_in_ms as number);
      expect(retries[1]!).toBeGreaterThan(retries[0]! / 2); // backoff grows (with jitter)
      const state = await db.db.selectFrom('mailbox_state').selectAll().where('mailbox_id', '=', 'nofolder').executeTakeFirst();
      expect(state?.last_error ?? 'no state row').toBeTruthy();
      // Still working after the failures.
      const id2 = await send('r3@example.test', 'Still working');
      await waitForInbound(db, id2, 'a second message in the working box');
      expect(await daemon.stop()).toBe(0);
    } finally {
      await daemon.kill();
      await db.close();
    }
  });

  it('reconnects after Dovecot is stopped and restarted mid-IDLE, and picks up mail that arrived meanwhile (fails if the worker stays down)', async () => {
    const cfg = await writeTestConfig({ imap: imap(), mailboxes: [{ id: 'idle', address: 'r4@example.test', pool: 'general' }] });
    const db = await openDb(cfg);
    const daemon = await startDaemon(cfg.configPath);
    try {
      const before = await send('r4@example.test', 'Before the restart');
      const first = await waitForInbound(db, before, 'mail before the restart');
      // The pass that took it is over: the worker is waiting (IDLE) when the server goes away.
      await daemon.waitForLog((l) => l.event === 'mailbox.synced' && l.mailbox === 'idle' && l.last_uid >= first.uid!, 'the worker to finish its pass');

      await dovecot.stop();
      // Mail delivered while the IMAP server is down (as an MTA writing the Maildir would).
      const meanwhile = newMessageId();
      const maildir = path.join(dovecot.baseDir, 'mail', 'r4@example.test', 'Maildir', 'new');
      const file = path.join(maildir, `${Date.now()}.M1P1.mailwarden-test`);
      fs.writeFileSync(
        file,
        buildMail({ from: 'meanwhile@customer.test', to: 'r4@example.test', subject: 'Arrived meanwhile', text: 'x', messageId: meanwhile }).replace(
          /\r\n/g,
          '\n',
        ),
      );
      if (process.getuid?.() === 0) fs.chownSync(file, 8, 8);
      await waitFor(() => daemon.logs.some((l) => l.mailbox === 'idle' && l.event === 'mailbox.connection_failed'), {
        what: 'the worker to notice the outage',
      });
      await dovecot.restart();

      expect((await waitForInbound(db, meanwhile, 'the mail that arrived meanwhile', 30_000)).outcome).toBe('case');
      const after = await send('r4@example.test', 'After the restart');
      await waitForInbound(db, after, 'mail after the restart (IDLE again)');
      expect(daemon.logs.filter((l) => l.mailbox === 'idle' && l.event === 'mailbox.connected').length).toBeGreaterThanOrEqual(2);
      expect(await daemon.stop()).toBe(0);
    } finally {
      await daemon.kill();
      await db.close();
    }
  });

  it('reloads on SIGHUP: starts an added box, stops a removed one, keeps the old config when the new one is invalid (fails on a crash or a lost box)', async () => {
    const cfg = await writeTestConfig({ imap: imap(), mailboxes: [{ id: 'one', address: 'r5@example.test', pool: 'general' }] });
    const db = await openDb(cfg);
    const daemon = await startDaemon(cfg.configPath);
    try {
      const box2 = { id: 'two', address: 'r6@example.test', pool: 'general', imap: { ...cfg.doc.mailboxes[0].imap, user: 'r6@example.test' } };
      rewriteTestConfig(cfg, (doc) => doc.mailboxes.push(box2));
      daemon.signal('SIGHUP');
      await daemon.waitForLog((l) => l.event === 'config.reloaded' && l.changes?.includes('added two'), 'the reload adding box two');
      const id2 = await send('r6@example.test', 'To the added box');
      expect((await waitForInbound(db, id2, 'mail in the added box')).mailbox_id).toBe('two');

      // An invalid file: logged, the old config stays, both boxes keep working.
      const good = fs.readFileSync(cfg.configPath, 'utf8');
      fs.writeFileSync(cfg.configPath, good.replace('response_deadline: 8h', 'response_deadline: soon'));
      daemon.signal('SIGHUP');
      const refused = await daemon.waitForLog((l) => l.event === 'config.reload_rejected', 'the invalid config to be refused');
      expect(JSON.stringify(refused.issues)).toContain('response_deadline');
      const id1 = await send('r5@example.test', 'After a bad reload');
      await waitForInbound(db, id1, 'mail in box one after the refused reload');

      fs.writeFileSync(cfg.configPath, good);
      rewriteTestConfig(cfg, (doc) => (doc.mailboxes = doc.mailboxes.filter((m: { id: string }) => m.id !== 'one')));
      daemon.signal('SIGHUP');
      await daemon.waitForLog((l) => l.event === 'config.reloaded' && l.changes?.includes('removed one'), 'the reload removing box one');
      const ignored = await send('r5@example.test', 'To the removed box');
      const id3 = await send('r6@example.test', 'Box two still works');
      await waitForInbound(db, id3, 'mail in box two after the removal');
      expect(await db.db.selectFrom('inbound').select('id').where('message_id', '=', ignored).executeTakeFirst()).toBeUndefined();
      expect(await daemon.stop()).toBe(0);
    } finally {
      await daemon.kill();
      await db.close();
    }
  });

  it('on SIGTERM finishes the message in hand, exits 0, and the next run takes the rest (fails on a half-accepted message)', async () => {
    await dovecot.addUser('term@example.test', 'secret');
    const cfg = await writeTestConfig({ imap: imap(), mailboxes: [{ id: 'term', address: 'term@example.test', pool: 'general' }] });
    const db = await openDb(cfg);
    await withImap(dovecot, 'term@example.test', async (c) => {
      for (let i = 0; i < 150; i++)
        await c.append('INBOX', buildMail({ from: `t${i}@customer.test`, to: 'term@example.test', subject: `term ${i}`, text: 'x' }));
    });
    const count = async () => (await db.db.selectFrom('inbound').select('id').execute()).length;
    try {
      let daemon = await startDaemon(cfg.configPath);
      await waitFor(async () => (await count()) > 0, { what: 'ingest to begin', intervalMs: 10 });
      expect(await daemon.stop()).toBe(0);
      const accepted = daemon.logs.filter((l) => l.event === 'ingest.accepted').length;
      const stopped = await count();
      expect(stopped).toBe(accepted);
      expect(stopped).toBeLessThan(150);
      expect(daemon.logs.some((l) => l.event === 'daemon.stopped')).toBe(true);

      daemon = await startDaemon(cfg.configPath);
      await waitFor(async () => (await count()) === 150, { what: 'the rest accepted by the next run', timeoutMs: 30_000 });
      expect(await daemon.stop()).toBe(0);
      expect(await db.db.selectFrom('cases').select('id').execute()).toHaveLength(150);
    } finally {
      await db.close();
    }
  });

  it('`run --once` takes what is in the box and exits 0, and a second run takes nothing twice (fails on a hang or a duplicate)', async () => {
    await dovecot.addUser('once@example.test', 'secret');
    const cfg = await writeTestConfig({ imap: imap(), mailboxes: [{ id: 'once', address: 'once@example.test', pool: 'general' }] });
    for (const n of [1, 2, 3]) await send('once@example.test', `Once ${n}`);
    const first = await runCli(['run', '--once', '--config', cfg.configPath]);
    expect(first.code, first.stderr).toBe(0);
    const second = await runCli(['run', '--once', '--config', cfg.configPath]);
    expect(second.code, second.stderr).toBe(0);
    const db = await openDb(cfg);
    try {
      expect(await db.db.selectFrom('cases').select('id').execute()).toHaveLength(3);
      expect(await db.db.selectFrom('inbound').select('id').execute()).toHaveLength(3);
    } finally {
      await db.close();
    }
  });

  it('polls on the interval when IDLE is off (fails if new mail waits for a restart)', async () => {
    await dovecot.addUser('poll@example.test', 'secret');
    const cfg = await writeTestConfig({
      imap: imap(),
      mailboxes: [{ id: 'poll', address: 'poll@example.test', pool: 'general' }],
      overrides: { ingest: { idle: false, poll_interval: '1s' } },
    });
    const db = await openDb(cfg);
    const daemon = await startDaemon(cfg.configPath);
    try {
      await waitFor(() => daemon.logs.some((l) => l.mailbox === 'poll' && l.event === 'mailbox.connected' && l.idle === false), {
        what: 'the worker connected without IDLE',
      });
      const id = await send('poll@example.test', 'Found by polling');
      await waitForInbound(db, id, 'mail found by polling', 10_000);
      expect(await daemon.stop()).toBe(0);
    } finally {
      await daemon.kill();
      await db.close();
    }
  });
});
