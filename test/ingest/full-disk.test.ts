// A full disk under the data dir (a small tmpfs, filled): the IMAP worker, whose failures now come
// after login, backs off as after a lost connection (capped exponential with jitter: each failure
// in a row waits at least as long as the one before), instead of logging in again every second;
// the listener logs every 451 it answers; and once space returns nothing is lost: every message
// becomes a case exactly once. Mounting needs root (CI runs as root); the tmpfs is unmounted
// whatever happens.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon } from '../support/cli';
import { writeTestConfig } from '../support/config';
import { startDovecot, type DovecotInstance } from '../support/dovecot';
import { appendMail, buildMail } from '../support/imap';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';
import { deliverLmtp, newMessageId, openDb, waitForInbound } from './helpers';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
// Mounting needs root. CI runs as root and must never skip it: there a failed mount fails the test.
const canMount = process.getuid?.() === 0 || process.env.CI === 'true';

/** A tmpfs of `size` at dir, for a disk that really fills up. */
function mountTmpfs(dir: string, size: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir]);
  } catch {
    // Something still holds a file there: detach it now, the kernel frees it once closed.
    execFileSync('umount', ['-l', dir]);
  }
}

/** Writes a file until the file system refuses (ENOSPC), to the last page; returns its path. */
function fillDisk(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = fs.openSync(file, 'w');
  try {
    for (const chunk of [Buffer.alloc(1024 * 1024), Buffer.alloc(4096), Buffer.alloc(1)]) {
      try {
        for (;;) fs.writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

describe('a full disk under the data dir', () => {
  let dovecot: DovecotInstance;
  beforeAll(async () => {
    dovecot = await startDovecot();
  });
  afterAll(async () => {
    await dovecot?.stop();
  });

  it.skipIf(!canMount)(
    'makes the IMAP worker back off after login and the listener log each 451; once space returns every message is a case exactly once (fails on a login a second)',
    async () => {
      const port = await freePort();
      const cfg = await writeTestConfig({
        imap: { host: dovecot.host, port: dovecot.port },
        listener: { port, protocol: 'lmtp' },
        mailboxes: [
          { id: 'imapbox', address: ALICE, pool: 'general' },
          { id: 'direct', address: BOB, pool: 'general' },
        ],
      });
      mountTmpfs(cfg.dataDir, '16m');
      try {
        const db = await openDb(cfg);
        const daemon = await startDaemon(cfg.configPath);
        try {
          await daemon.waitForLog((l) => l.event === 'mailbox.synced' && l.mailbox === 'imapbox', 'the IMAP box to finish its first pass');
          const filler = fillDisk(cfg.dataDir);
          const since = daemon.logs.length;

          const imapIds = [newMessageId(), newMessageId()];
          for (const [i, messageId] of imapIds.entries()) {
            await appendMail(
              dovecot,
              ALICE,
              'INBOX',
              buildMail({ from: `full${i}@customer.test`, to: ALICE, subject: `Disk full ${i}`, text: 'x', messageId }),
            );
          }
          const lmtpId = newMessageId();
          const lmtpRaw = buildMail({ from: 'lmtp@customer.test', to: BOB, subject: 'Disk full by LMTP', text: 'y', messageId: lmtpId });
          const answers = [await deliverLmtp(port, 'lmtp@customer.test', BOB, lmtpRaw), await deliverLmtp(port, 'lmtp@customer.test', BOB, lmtpRaw)];
          expect(answers.map((a) => a.code)).toEqual([451, 451]);
          const refusals = daemon.logs.slice(since).filter((l) => l.event === 'listener.delivery_failed');
          expect(refusals).toEqual([
            expect.objectContaining({ kind: 'storage', code: 'ENOSPC', recipients: [BOB] }),
            expect.objectContaining({ kind: 'storage', code: 'ENOSPC', recipients: [BOB] }),
          ]);

          // Four failures in a row after login, each counted on from the last and waiting at least as long.
          const failures = () => daemon.logs.slice(since).filter((l) => l.mailbox === 'imapbox' && l.event === 'ingest.store_failed');
          await waitFor(() => failures().length >= 4, { what: 'four failed passes of the IMAP box', timeoutMs: 60_000 });
          const seen = failures();
          expect(seen.map((l) => l.failures)).toEqual(seen.map((_, i) => i + 1));
          for (let i = 1; i < seen.length; i++) expect(seen[i]!.retry_in_ms).toBeGreaterThanOrEqual(seen[i - 1]!.retry_in_ms);
          // One login per failure, no more: the worker waited out each pause before logging in again.
          const logins = daemon.logs.slice(since).filter((l) => l.mailbox === 'imapbox' && l.event === 'mailbox.connected');
          expect(logins.length).toBeLessThanOrEqual(seen.length);

          fs.rmSync(filler);
          for (const id of imapIds) await waitForInbound(db, id, 'the IMAP mail accepted once space returned', 60_000);
          const again = await deliverLmtp(port, 'lmtp@customer.test', BOB, lmtpRaw);
          expect(again.code, again.text).toBe(250);
          for (const id of [...imapIds, lmtpId]) {
            const rows = await db.db.selectFrom('inbound').selectAll().where('message_id', '=', id).execute();
            expect(rows.map((r) => r.outcome)).toEqual(['case']);
          }
          expect(await db.db.selectFrom('cases').select('id').execute()).toHaveLength(3);
          expect(await daemon.stop()).toBe(0);
        } finally {
          await daemon.kill();
          await db.close();
        }
      } finally {
        unmount(cfg.dataDir);
      }
    },
  );
});
