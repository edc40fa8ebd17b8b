// A database lock held by another process (a long `sqlite3` session, a stuck command). The daemon
// waits for it on the event loop, never inside SQLite: an LMTP delivery is answered 451 once
// `ingest.listener.lock_wait` has passed (and the refusal logged), the other box goes on fetching
// meanwhile, and after the release the same message, delivered again, lands once. A CLI write that
// meets the lock past its busy timeout says "busy, try again" and exits 75, not 70.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawPath } from '../../src/db/stored-files';
import { cliJson, runCli, startDaemon } from '../support/cli';
import { writeTestConfig } from '../support/config';
import { startDovecot, type DovecotInstance } from '../support/dovecot';
import { appendMail, buildMail } from '../support/imap';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';
import { testBackend } from '../support/backend';
import { deliverLmtp, holdWriteLock, newMessageId, openDb, waitForInbound, type HeldLock } from './helpers';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

const sha256 = (raw: string) => crypto.createHash('sha256').update(raw).digest('hex');

// SQLite's single write lock, held from outside; PostgreSQL has no database-wide lock to hold.
describe.skipIf(testBackend() === 'postgres')('a database lock held by another process', () => {
  let dovecot: DovecotInstance;
  beforeAll(async () => {
    dovecot = await startDovecot();
  });
  afterAll(async () => {
    await dovecot?.stop();
  });
  const imap = () => ({ host: dovecot.host, port: dovecot.port });

  it('answers an LMTP delivery 451 past lock_wait and logs it, serving other sessions and boxes while it waits; released, the message delivered again lands once (fails if the daemon waits inside SQLite)', async () => {
    const port = await freePort();
    const cfg = await writeTestConfig({
      imap: imap(),
      listener: { port, protocol: 'lmtp' },
      mailboxes: [
        { id: 'direct', address: ALICE, pool: 'general' },
        { id: 'other', address: BOB, pool: 'general' },
      ],
      overrides: { ingest: { listener: { lock_wait: '5s' } } },
    });
    const db = await openDb(cfg);
    const daemon = await startDaemon(cfg.configPath);
    let lock: HeldLock | null = null;
    try {
      for (const box of ['direct', 'other']) {
        await daemon.waitForLog((l) => l.event === 'mailbox.synced' && l.mailbox === box, `box ${box} to finish its first pass`);
      }
      lock = await holdWriteLock(db.file);

      // Mail for the other box arrives while the lock is held: fetched and stored (its accept waits).
      const imapId = newMessageId();
      const imapRaw = buildMail({ from: 'imap@customer.test', to: BOB, subject: 'Through IMAP', text: 'x', messageId: imapId });
      await appendMail(dovecot, BOB, 'INBOX', imapRaw);
      await waitFor(() => fs.existsSync(rawPath(cfg.dataDir, sha256(imapRaw))), { what: 'the other box to store its new mail while the lock is held' });

      const lmtpId = newMessageId();
      const lmtpRaw = buildMail({ from: 'lmtp@customer.test', to: ALICE, subject: 'Through LMTP', text: 'y', messageId: lmtpId });
      let settled = false;
      const delivering = deliverLmtp(port, 'lmtp@customer.test', ALICE, lmtpRaw).finally(() => (settled = true));
      // While that delivery waits for the lock, the daemon serves another session: a daemon asleep
      // inside SQLite would answer this only after the waiting delivery.
      await daemon.waitForLog((l) => l.event === 'ingest.lock_wait' && l.mailbox === 'direct' && l.source === 'lmtp', 'the delivery to wait for the lock');
      const unknown = await deliverLmtp(port, 'lmtp@customer.test', 'nobody@example.test', lmtpRaw);
      expect(unknown.code, unknown.text).toBe(550);
      expect(settled).toBe(false);

      const first = await delivering;
      expect(first.code, first.text).toBe(451);
      const refusal = await daemon.waitForLog((l) => l.event === 'listener.delivery_failed', 'the refusal in the log');
      expect(refusal).toMatchObject({ mailbox: 'direct', recipients: [ALICE], kind: 'database', code: expect.stringMatching(/^SQLITE_BUSY/) });

      // Still locked: the first box goes on polling, the listener refuses again (and logs it), a
      // read-only command answers.
      const since = daemon.logs.indexOf(refusal);
      await waitFor(() => daemon.logs.slice(since).some((l) => l.event === 'mailbox.synced' && l.mailbox === 'direct'), {
        what: 'the first box to finish a pass while the lock is held',
      });
      const second = await deliverLmtp(port, 'lmtp@customer.test', ALICE, lmtpRaw);
      expect(second.code, second.text).toBe(451);
      expect(await cliJson(['cases', '--config', cfg.configPath])).toEqual([]);
      expect(lock.held()).toBe(true);
      expect(daemon.logs.filter((l) => l.event === 'listener.delivery_failed')).toHaveLength(2);

      await lock.release();
      const third = await deliverLmtp(port, 'lmtp@customer.test', ALICE, lmtpRaw);
      expect(third.code, third.text).toBe(250);
      await waitForInbound(db, imapId, 'the other box’s mail accepted after the release');
      for (const id of [lmtpId, imapId]) {
        const rows = await db.db.selectFrom('inbound').selectAll().where('message_id', '=', id).execute();
        expect(rows.map((r) => r.outcome)).toEqual(['case']);
      }
      expect(await db.db.selectFrom('cases').select('id').execute()).toHaveLength(2);
      // The drainer went on too: both auto-responses went out, and it logged no error meanwhile.
      await waitFor(() => daemon.logs.filter((l) => l.event === 'outbox.sent').length >= 2, { what: 'both auto-responses sent' });
      expect(daemon.logs.filter((l) => l.event === 'outbox.drainer_error')).toEqual([]);
      expect(await daemon.stop()).toBe(0);
    } finally {
      await lock?.release();
      await daemon.kill();
      await db.close();
    }
  });

  it('makes a CLI write that meets the lock past its busy timeout exit 75 with one sentence, and EBUSY under --json (fails on 70 "unexpected error")', async () => {
    const cfg = await writeTestConfig({ imap: imap(), mailboxes: [{ id: 'direct', address: ALICE, pool: 'general' }] });
    await appendMail(dovecot, ALICE, 'INBOX', buildMail({ from: 'waiting@customer.test', to: ALICE, subject: 'Waiting', text: 'z' }));
    const once = await runCli(['run', '--once', '--config', cfg.configPath]);
    expect(once.code, once.stderr).toBe(0);
    const lock = await holdWriteLock(path.join(cfg.dataDir, 'mailwarden.sqlite'));
    try {
      // Both wait out the same busy timeout side by side.
      const [plain, json] = await Promise.all([
        runCli(['next', '--as', 'sam', '--config', cfg.configPath]),
        runCli(['next', '--as', 'sam', '--json', '--config', cfg.configPath]),
      ]);
      expect(lock.held()).toBe(true);
      expect(plain.code, plain.stderr).toBe(75);
      expect(plain.stderr.trim().split('\n')).toEqual(['mailwarden: The database is busy: another process holds its lock; try again in a moment.']);
      expect(json.code, json.stderr).toBe(75);
      expect(JSON.parse(json.stderr)).toEqual({
        error: { code: 'EBUSY', message: 'The database is busy: another process holds its lock; try again in a moment.', exit: 75 },
      });
    } finally {
      await lock.release();
    }
    // Nothing was half done: the case is still waiting, and is taken now.
    const taken = await cliJson(['next', '--as', 'sam', '--config', cfg.configPath]);
    expect(taken.case).toMatchObject({ subject: 'Waiting', assignee: 'sam' });
  });
});
