// A message held in memory is parsed, and its accept transaction run, while its file is still
// being made durable (issue 18: the sender waits for the longer of the two, not their sum). The
// promise that survives: no row commits before the bytes it names are durable, and bytes that
// cannot be stored fail the delivery as a storage failure, never as a failed accept to count
// towards parking. Proven with a file writer the test holds back or fails: while it holds the
// bytes back, the accept holds the write lock and nothing is committed, and the raw file is
// not there. The compiled pipeline is used (dist/), as the daemon runs it. The write lock is
// SQLite's; the order itself is the same code on PostgreSQL.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli';
import { testBackend } from '../support/backend';
import { writeTestConfig } from '../support/config';
import { buildMail } from '../support/imap';
import { waitFor } from '../support/wait';
import { newMessageId } from './helpers';

const ALICE = 'alice@example.test';
const dist = (p: string) => import(path.join(REPO_ROOT, 'dist', p));

/** A file writer that writes (really, durably) only when the test lets it, or fails as a full disk does. */
function heldWriter(write: (root: string, sha256: string, bytes: Uint8Array) => void) {
  let release: (err?: Error) => void = () => undefined;
  const gate = new Promise<void>((resolve, reject) => (release = (err) => (err ? reject(err) : resolve())));
  let called = false;
  return {
    writer: async (root: string, sha256: string, bytes: Uint8Array) => {
      called = true;
      await gate;
      write(root, sha256, bytes);
    },
    get called() {
      return called;
    },
    release: () => release(),
    fail: (err: Error) => release(err),
  };
}

/** Whether another connection can take the write lock now (false: a transaction holds it). */
function lockFree(file: string): boolean {
  const other = new Database(file, { timeout: 0 });
  try {
    other.exec('BEGIN IMMEDIATE');
    other.exec('ROLLBACK');
    return true;
  } catch {
    return false;
  } finally {
    other.close();
  }
}

describe.skipIf(testBackend() === 'postgres')('the accept and the raw file', () => {
  async function setUp() {
    const { requireConfig } = await dist('config/load.js');
    const { openDatabase } = await dist('db/connection.js');
    const { silentLogger } = await dist('log.js');
    const { ParserPool } = await dist('ingest/parse.js');
    const { writeDurablySync, rawPath } = await dist('db/stored-files.js');
    const pipeline = await dist('ingest/pipeline.js');
    const cfg = await writeTestConfig();
    const config = requireConfig(cfg.configPath);
    const opened = await openDatabase({ dataDir: config.instance.data_dir });
    const parsers = new ParserPool({ size: 1 });
    const held = heldWriter(writeDurablySync);
    const ctx = { getConfig: () => config, db: opened.db, log: silentLogger(), parsers, fileWriter: held.writer };
    const mail = (subject: string) => Buffer.from(buildMail({ from: 'jan@customer.test', to: ALICE, subject, text: 'Hello.', messageId: newMessageId() }));
    const input = (queueId: string) => ({ mailbox: config.mailboxes[0], source: { kind: 'lmtp', queueId }, envelopeFrom: null });
    const committed = () => {
      const reader = new Database(opened.file, { readonly: true });
      try {
        return reader.prepare('select count(*) from inbound').pluck().get() as number;
      } finally {
        reader.close();
      }
    };
    const close = async () => {
      await parsers.close();
      await opened.close();
    };
    return { config, opened, held, ctx, mail, input, committed, close, pipeline, rawPath };
  }

  it('is run while the file is written, and commits only once it is durable (fails if a row commits before its bytes, or the accept waits for the file before it starts)', async () => {
    const t = await setUp();
    try {
      const prepared = await t.pipeline.prepareMessage(t.ctx, t.mail('Overlapped'));
      // Parsed, its bytes still held back.
      expect(t.held.called).toBe(true);
      expect(prepared.parsed.subject).toBe('Overlapped');
      const file = t.rawPath(t.config.instance.data_dir, prepared.sha256);
      let settled = false;
      const accepting = t.pipeline.acceptPrepared(t.ctx, prepared, t.input('held-1')).finally(() => (settled = true));
      // The accept transaction has begun: it holds the write lock, waiting for the bytes.
      await waitFor(() => !lockFree(t.opened.file), { what: 'the accept transaction to hold the write lock' });
      expect(settled).toBe(false);
      expect(fs.existsSync(file)).toBe(false);
      expect(t.committed()).toBe(0);

      t.held.release();
      const accepted = await accepting;
      expect(accepted.outcome).toBe('created');
      expect(fs.existsSync(file)).toBe(true);
      expect(t.committed()).toBe(1);
    } finally {
      await t.close();
    }
  });

  // ENOSPC is a storage failure the daemon waits out; EACCES (a data dir with the wrong owner) is
  // not transient, and an accept failure of that kind would be counted and the message parked.
  it.each(['ENOSPC', 'EACCES'])(
    'fails with the storage error (%s) when the bytes cannot be stored, commits nothing and counts no failed accept (fails if a storage failure parks mail, is retried as unparsed, or leaves a row)',
    async (code) => {
      const t = await setUp();
      try {
        const prepared = await t.pipeline.prepareMessage(t.ctx, t.mail('Disk trouble'));
        const accepting = t.pipeline.acceptPrepared(t.ctx, prepared, t.input(`trouble-${code}`));
        t.held.fail(Object.assign(new Error(`cannot write: ${code}`), { code }));
        const err = await accepting.then(
          () => null,
          (e: unknown) => e as NodeJS.ErrnoException,
        );
        expect(err?.code).toBe(code);
        expect(t.committed()).toBe(0);
        expect(await t.opened.db.selectFrom('parked').selectAll().execute()).toEqual([]);
      } finally {
        await t.close();
      }
    },
  );
});
