// Commits the daemon answers for are durable before it answers (src/db/commit-sync.ts). The
// daemon's connection commits without an fsync of its own (synchronous = NORMAL), which a power
// loss may undo; a command's connection fsyncs every commit (FULL). So before the 250 of an LMTP
// delivery the daemon fsyncs the WAL, and a sync that fails answers 451 instead: the MTA delivers
// again and the dedupe takes the second delivery as the first. Syncs asked for while one runs
// share the next (group commit). A power loss cannot be provoked in a test; what is proven here is
// the order: with a syncer the test holds back, the accept is committed and the sender still has
// no answer, and the IMAP message is still where it was; a failed sync leaves it there unmarked
// (catchUpMarks marks it later). The compiled modules are used (dist/), as the daemon runs them.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli';
import { testBackend } from '../support/backend';
import { writeTestConfig } from '../support/config';
import { startDovecot } from '../support/dovecot';
import { appendMail, buildMail, listUids, withImap } from '../support/imap';
import { makeTempDir, removeTempDir } from '../support/tmp';
import { waitFor } from '../support/wait';
import { diskError, heldSyncer } from '../support/held';
import { deliverLmtp, newMessageId } from './helpers';

const ALICE = 'alice@example.test';
const dist = (p: string) => import(path.join(REPO_ROOT, 'dist', p));

/** The test's held syncer, fsyncing as the daemon's file thread does (the compiled module). */
async function heldFileSyncer() {
  const { fsyncFileSync } = await dist('db/commit-sync.js');
  return heldSyncer(fsyncFileSync);
}

/** A whole LMTP exchange (greeting, LHLO, QUIT) on a connection of its own: the listener's event loop has turned meanwhile. */
function roundTrip(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let seen = '';
    let greeted = false;
    socket.on('data', (d) => {
      seen += d.toString();
      if (!greeted && /^220 /m.test(seen)) {
        greeted = true;
        seen = '';
        socket.write('LHLO probe.test\r\n');
      } else if (greeted && /^250 /m.test(seen)) {
        socket.end('QUIT\r\n');
        resolve();
      }
    });
    socket.on('error', reject);
  });
}

describe.skipIf(testBackend() === 'postgres')('commits the daemon answers for', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('mw-commit-sync-');
  });
  afterAll(async () => {
    await removeTempDir(dir);
  });

  it('are fsynced each by a command, and left to syncCommits by the daemon (fails if a command commits without fsync)', async () => {
    const { openDatabase } = await dist('db/connection.js');
    const command = await openDatabase({ dataDir: path.join(dir, 'pragma') });
    const daemon = await openDatabase({ dataDir: path.join(dir, 'pragma'), deferCommitSync: true });
    try {
      // SQLite: 2 = FULL (each commit fsyncs the WAL), 1 = NORMAL.
      expect(command.sqlite.pragma('synchronous', { simple: true })).toBe(2);
      expect(daemon.sqlite.pragma('synchronous', { simple: true })).toBe(1);
    } finally {
      await command.close();
      await daemon.close();
    }
  });

  it('share one fsync among the commits it covers, take none when nothing is new, and a failed fsync fails only its own waiters (fails if a waiter is answered by a sync that began before its commit)', async () => {
    const { openDatabase } = await dist('db/connection.js');
    const { syncCommits } = await dist('db/commit-sync.js');
    const opened = await openDatabase({ dataDir: path.join(dir, 'group'), deferCommitSync: true });
    const held = await heldFileSyncer();
    const commit = (id: string) =>
      opened.db.insertInto('mailbox_state').values({ mailbox_id: id, uidvalidity: 1, last_uid: 1, last_sync_at: null, last_error: null }).execute();
    try {
      await commit('a');
      const settled: string[] = [];
      const first = syncCommits(opened.db, held.syncer).then(() => settled.push('first'));
      await waitFor(() => held.waiting === 1, { what: 'the first fsync to start' });
      // Nothing committed since it started: the running fsync covers this one too.
      const sharing = syncCommits(opened.db, held.syncer).then(() => settled.push('sharing'));
      // A commit while it runs: both waits after it need one more, which starts once the first ends.
      await commit('b');
      const second = syncCommits(opened.db, held.syncer).then(() => settled.push('second'));
      const third = syncCommits(opened.db, held.syncer).then(() => settled.push('third'));
      expect(held.calls).toHaveLength(1);
      held.release();
      await Promise.all([first, sharing]);
      await waitFor(() => held.waiting === 1, { what: 'the shared second fsync to start' });
      expect(settled).toEqual(['first', 'sharing']);
      held.release();
      await Promise.all([second, third]);
      expect(held.calls).toEqual([`${opened.file}-wal`, `${opened.file}-wal`]);
      // Nothing committed since the last fsync: no fsync at all.
      await syncCommits(opened.db, held.syncer);
      expect(held.calls).toHaveLength(2);

      await commit('c');
      const failing = syncCommits(opened.db, held.syncer);
      await waitFor(() => held.waiting === 1, { what: 'the fsync that fails to start' });
      held.fail(diskError());
      await expect(failing).rejects.toMatchObject({ code: 'EIO' });
      // The failed one made nothing durable: the next wait fsyncs again.
      const after = syncCommits(opened.db, held.syncer);
      await held.letThrough(after, 'a new fsync after the failed one');
      expect(held.calls).toHaveLength(4);
    } finally {
      held.release();
      await opened.close();
    }
  });

  it('take a transaction open when an fsync starts as not covered by it (fails if its commit is answered by an fsync that began before it)', async () => {
    const { openDatabase, writeTx } = await dist('db/connection.js');
    const { syncCommits } = await dist('db/commit-sync.js');
    const opened = await openDatabase({ dataDir: path.join(dir, 'open-tx'), deferCommitSync: true });
    const held = await heldFileSyncer();
    try {
      let letCommit = () => {};
      const gate = new Promise<void>((resolve) => (letCommit = resolve));
      const tx = writeTx(opened.db, async (t: typeof opened.db) => {
        await t.insertInto('mailbox_state').values({ mailbox_id: 'open', uidvalidity: 1, last_uid: 1, last_sync_at: null, last_error: null }).execute();
        await gate;
      });
      await waitFor(() => opened.sqlite.inTransaction, { what: 'the transaction to hold its change' });
      const during = syncCommits(opened.db, held.syncer);
      await held.letThrough(during, 'an fsync to start inside the transaction');
      letCommit();
      await tx;
      const after = syncCommits(opened.db, held.syncer);
      await held.letThrough(after, 'an fsync for the commit made after the last one began');
      expect(held.calls).toHaveLength(2);
    } finally {
      held.release();
      await opened.close();
    }
  });

  it('have nothing to sync on a connection that fsyncs each commit itself (fails if a command pays a second fsync)', async () => {
    const { openDatabase } = await dist('db/connection.js');
    const { syncCommits } = await dist('db/commit-sync.js');
    const opened = await openDatabase({ dataDir: path.join(dir, 'full') });
    const held = await heldFileSyncer();
    try {
      await syncCommits(opened.db, held.syncer);
      expect(held.calls).toEqual([]);
    } finally {
      await opened.close();
    }
  });

  it('are fsynced on the file thread, a WAL not made yet being nothing to sync, and a path it cannot open fails with its code (fails if a sync error is lost)', async () => {
    const { FileThread } = await dist('db/file-thread.js');
    const files = new FileThread();
    try {
      const file = path.join(dir, 'some-wal');
      fs.writeFileSync(file, 'frames');
      await files.sync(file);
      expect(files.running).toBe(true);
      await files.sync(path.join(dir, 'no-such-wal'));
      fs.writeFileSync(path.join(dir, 'a-file'), 'not a directory');
      await expect(files.sync(path.join(dir, 'a-file', 'wal'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    } finally {
      await files.close();
    }
  });

  describe('an LMTP delivery', () => {
    async function setUp() {
      const { requireConfig } = await dist('config/load.js');
      const { openDatabase } = await dist('db/connection.js');
      const { silentLogger } = await dist('log.js');
      const { ParserPool } = await dist('ingest/parse.js');
      const { ListenerService } = await dist('daemon/listener-service.js');
      const cfg = await writeTestConfig({ listener: { port: 0 } });
      const config = requireConfig(cfg.configPath);
      const opened = await openDatabase({ dataDir: config.instance.data_dir, deferCommitSync: true });
      const parsers = new ParserPool({ size: 1 });
      const held = await heldFileSyncer();
      const ctx = { getConfig: () => config, db: opened.db, log: silentLogger(), parsers, fileSync: held.syncer };
      const listener = new ListenerService(ctx, { ...config.ingest.listener, host: '127.0.0.1', port: 0, protocol: 'lmtp' });
      await listener.start();
      const count = (table: string) => {
        const reader = new Database(opened.file, { readonly: true });
        try {
          return reader.prepare(`select count(*) from ${table}`).pluck().get() as number;
        } finally {
          reader.close();
        }
      };
      const close = async () => {
        held.release();
        await listener.stop();
        await parsers.close();
        await opened.close();
      };
      return { port: listener.bound!.port as number, held, count, close };
    }

    it('is answered 250 only once its accept is fsynced (fails if the 250 goes out while the commit may still be undone)', async () => {
      const t = await setUp();
      try {
        const raw = buildMail({ from: 'jan@customer.test', to: ALICE, subject: 'Held', text: 'Hello.', messageId: newMessageId() });
        let answered = false;
        const delivery = deliverLmtp(t.port, 'jan@customer.test', ALICE, raw).finally(() => (answered = true));
        await waitFor(() => t.held.waiting === 1, { what: 'the delivery to ask for the fsync' });
        // Committed, and the sender still waits: a whole exchange on another connection later, too.
        expect(t.count('inbound')).toBe(1);
        await roundTrip(t.port);
        expect(answered).toBe(false);
        t.held.release();
        const reply = await delivery;
        expect(reply.code).toBe(250);
        expect(reply.text).toMatch(/accepted as TEST-\d{6}/);
      } finally {
        await t.close();
      }
    });

    it('is answered 451 when the fsync fails, and the MTA retry is taken as the same message (fails if it is answered 250 or opens a second case)', async () => {
      const t = await setUp();
      try {
        const raw = buildMail({ from: 'ewa@customer.test', to: ALICE, subject: 'Disk trouble', text: 'Hello.', messageId: newMessageId() });
        const first = deliverLmtp(t.port, 'ewa@customer.test', ALICE, raw);
        await waitFor(() => t.held.waiting === 1, { what: 'the delivery to ask for the fsync' });
        t.held.fail(diskError());
        expect((await first).code).toBe(451);

        const again = deliverLmtp(t.port, 'ewa@customer.test', ALICE, raw);
        await waitFor(() => t.held.waiting === 1, { what: 'the retry to ask for the fsync' });
        t.held.release();
        expect((await again).code).toBe(250);
        expect(t.count('cases')).toBe(1);
      } finally {
        await t.close();
      }
    });
  });

  it('move a fetched IMAP message out of its folder only once its accept is fsynced, and leave it there when the fsync fails (fails if a message is moved while its rows may still be undone)', async () => {
    const { requireConfig } = await dist('config/load.js');
    const { openDatabase } = await dist('db/connection.js');
    const { silentLogger } = await dist('log.js');
    const { ParserPool } = await dist('ingest/parse.js');
    const sync = await dist('ingest/mailbox-sync.js');
    const dovecot = await startDovecot();
    const user = 'mover@example.test';
    await dovecot.addUser(user, 'secret');
    const cfg = await writeTestConfig({
      imap: { host: dovecot.host, port: dovecot.port },
      mailboxes: [{ id: 'desk', address: user, pool: 'general' }],
      overrides: { ingest: { mark: { mode: 'move', folder: 'Done' } } },
    });
    const config = requireConfig(cfg.configPath);
    const opened = await openDatabase({ dataDir: config.instance.data_dir, deferCommitSync: true });
    const parsers = new ParserPool({ size: 1 });
    const held = await heldFileSyncer();
    const ctx = { getConfig: () => config, db: opened.db, log: silentLogger(), parsers, fileSync: held.syncer };
    const box = config.mailboxes[0];
    const fetchOnce = () =>
      withImap(dovecot, user, async (client) => {
        const folder = await client.mailboxOpen('INBOX');
        await sync.checkUidValidity(ctx, box, Number(folder.uidValidity));
        await sync.prepareMarking(client, ctx);
        await sync.syncMailbox(client, ctx, box, Number(folder.uidValidity), () => false);
      });
    try {
      const mail = (subject: string) => buildMail({ from: 'jan@customer.test', to: user, subject, text: 'Hello.', messageId: newMessageId() });
      await appendMail(dovecot, user, 'INBOX', mail('Held'));
      const first = fetchOnce();
      await waitFor(() => held.waiting === 1, { what: 'the box to ask for the fsync before it moves the message' });
      expect((await opened.db.selectFrom('inbound').select('id').execute()).length).toBe(1);
      expect(await listUids(dovecot, user, 'INBOX')).toEqual([1]);
      expect(await listUids(dovecot, user, 'Done')).toEqual([]);
      held.release();
      await first;
      expect(await listUids(dovecot, user, 'INBOX')).toEqual([]);
      expect(await listUids(dovecot, user, 'Done')).toEqual([1]);

      await appendMail(dovecot, user, 'INBOX', mail('Disk trouble'));
      const second = fetchOnce();
      await waitFor(() => held.waiting === 1, { what: 'the box to ask for the fsync again' });
      held.fail(diskError());
      await second;
      // Accepted (the high-water mark is past it), not moved: a mark that could not wait is not made.
      expect((await opened.db.selectFrom('inbound').select('id').execute()).length).toBe(2);
      expect(await listUids(dovecot, user, 'INBOX')).toEqual([2]);
    } finally {
      held.release();
      await parsers.close();
      await opened.close();
      await dovecot.stop();
    }
  });
});
