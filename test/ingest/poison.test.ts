// No poison message (SPEC §3): a message whose accept keeps failing for a reason that is not
// transient is tried `ingest.max_attempts` times, then parked: kept raw, listed by `mailwarden
// parked`, mailed once to the supervisors, and the box goes on with the next message.
// `reprocess --parked` takes it up again once the cause is mended. A broken template cannot do it
// any more (the auto-response and staff notices are suppressed and recorded instead), so the
// fault stands in for a bug: a trigger in the real database refuses one sender's message rows,
// deterministically, in every attempt, and in the degraded (unparsed) attempt too.
import path from 'node:path';
import Database from 'better-sqlite3';
import nodemailer from 'nodemailer';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, cliJson, runCli, startDaemon } from '../support/cli';
import { testBackend } from '../support/backend';
import { writeTestConfig } from '../support/config';
import { startDovecot, type DovecotInstance } from '../support/dovecot';
import { appendMail, buildMail } from '../support/imap';
import { freePort } from '../support/ports';
import { newMessageId, openDb, waitForInbound } from './helpers';

const ALICE = 'alice@example.test';
const POISON_SENDER = 'poison@customer.test';

/** The fault: the database refuses this sender's message rows, as a bug in the accept would fail it. */
async function injectFault(db: Awaited<ReturnType<typeof openDb>>): Promise<void> {
  if (testBackend() === 'postgres') {
    await sql
      .raw(
        `CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
          `RAISE EXCEPTION 'injected fault: no message rows from ${POISON_SENDER}'; END $$`,
      )
      .execute(db.db);
    await sql
      .raw(
        `CREATE TRIGGER injected_fault BEFORE INSERT ON messages FOR EACH ROW WHEN (NEW.from_address = '${POISON_SENDER}') EXECUTE FUNCTION injected_fault()`,
      )
      .execute(db.db);
    return;
  }
  await sql
    .raw(
      `CREATE TRIGGER injected_fault BEFORE INSERT ON messages WHEN NEW.from_address = '${POISON_SENDER}' ` +
        `BEGIN SELECT RAISE(ABORT, 'injected fault: no message rows from ${POISON_SENDER}'); END`,
    )
    .execute(db.db);
}

async function mendFault(db: Awaited<ReturnType<typeof openDb>>): Promise<void> {
  await sql.raw(testBackend() === 'postgres' ? 'DROP TRIGGER injected_fault ON messages' : 'DROP TRIGGER injected_fault').execute(db.db);
}

async function parkedNotices(db: Awaited<ReturnType<typeof openDb>>) {
  return db.db.selectFrom('outbox').select(['to_addresses', 'subject', 'mime']).where('kind', '=', 'parked_notice').execute();
}

describe('a message whose accept keeps failing, over IMAP', () => {
  let dovecot: DovecotInstance;
  beforeAll(async () => {
    dovecot = await startDovecot();
  });
  afterAll(async () => {
    await dovecot?.stop();
  });

  it('is tried 3 times, parked, mailed once to the supervisors, and the box goes on; reprocess --parked takes it in once mended (fails if the worker refetches it forever)', async () => {
    const cfg = await writeTestConfig({ imap: { host: dovecot.host, port: dovecot.port }, mailboxes: [{ id: 'support', address: ALICE, pool: 'general' }] });
    const db = await openDb(cfg);
    await injectFault(db);
    const daemon = await startDaemon(cfg.configPath);
    try {
      const poisonId = newMessageId();
      const goodId = newMessageId();
      const poison = await appendMail(
        dovecot,
        ALICE,
        'INBOX',
        buildMail({ from: `Pat Poison <${POISON_SENDER}>`, to: ALICE, subject: 'My card', text: 'Please help.', messageId: poisonId }),
      );
      const good = await appendMail(
        dovecot,
        ALICE,
        'INBOX',
        buildMail({ from: 'good@customer.test', to: ALICE, subject: 'Another question', text: 'Hello.', messageId: goodId }),
      );

      // The box goes on: the message behind the poisoned one becomes a case.
      const goodRow = await waitForInbound(db, goodId, 'the message behind the parked one accepted', 60_000);
      expect(goodRow.outcome).toBe('case');
      const parkedLine = await daemon.waitForLog((l) => l.event === 'ingest.parked', 'the message parked');
      expect(parkedLine).toMatchObject({ mailbox: 'support', message_id: poisonId, attempt: 3, of: 3 });
      const failures = daemon.logs.filter((l) => l.event === 'ingest.accept_failed');
      expect(failures.map((l) => [l.attempt, l.kind])).toEqual([
        [1, 'internal'],
        [2, 'internal'],
      ]);
      expect(failures[0].err).toContain('injected fault');
      // Logged as what it is: never as a connection failure.
      expect(daemon.logs.filter((l) => l.event === 'mailbox.connection_failed')).toEqual([]);

      // The high-water mark is past both: no sync takes the parked message again.
      const state = await db.db.selectFrom('mailbox_state').selectAll().where('mailbox_id', '=', 'support').executeTakeFirstOrThrow();
      expect(state.last_uid).toBeGreaterThanOrEqual(good.uid);
      expect(await db.db.selectFrom('inbound').select('id').where('message_id', '=', poisonId).execute()).toEqual([]);

      const parked = await cliJson(['parked', '--config', cfg.configPath]);
      expect(parked).toEqual([
        expect.objectContaining({ state: 'parked', mailbox: 'support', source: 'imap', uid: poison.uid, from: POISON_SENDER, subject: 'My card', attempts: 3 }),
      ]);
      expect(parked[0].error).toContain('injected fault');
      const table = await runCli(['parked', '--config', cfg.configPath]);
      expect(table.stdout).toMatch(/ID\s+STATE\s+PARKED\s+BOX/);
      expect(table.stdout).toContain(POISON_SENDER);

      const notices = await parkedNotices(db);
      expect(notices).toHaveLength(1);
      expect(JSON.parse(notices[0]!.to_addresses)).toEqual(['sam@staff.test']);
      expect(notices[0]!.mime.toString()).toContain(poisonId);

      // Mended: the message becomes a case, and is answered.
      await mendFault(db);
      const again = await cliJson(['reprocess', '--parked', '--config', cfg.configPath]);
      expect(again).toEqual([expect.objectContaining({ parked: parked[0].id, mailbox: 'support', outcome: 'created' })]);
      const caseId = again[0].case as string;
      const row = await db.db.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ customer_address: POISON_SENDER, subject: 'My card', mailbox_id: 'support' });
      const autos = await db.db.selectFrom('outbox').select('id').where('case_id', '=', caseId).where('kind', '=', 'auto_response').execute();
      expect(autos).toHaveLength(1);
      expect(await cliJson(['parked', '--config', cfg.configPath])).toEqual([]);
      expect(await cliJson(['parked', '--all', '--config', cfg.configPath])).toEqual([expect.objectContaining({ state: 'reprocessed', case: caseId })]);
      const none = await runCli(['reprocess', '--parked', '--config', cfg.configPath]);
      expect([none.code, none.stdout.trim()]).toEqual([0, 'No message is parked.']);
      expect(await parkedNotices(db)).toHaveLength(1);
      expect(await daemon.stop()).toBe(0);
    } finally {
      await daemon.kill();
      await db.close();
    }
  });
});

describe('a message whose accept keeps failing, by LMTP', () => {
  it('gets 451 twice, then 250 parked; a fourth delivery of it is parked with it and mails nobody again; a reprocess that fails again exits 70 and keeps it parked', async () => {
    const port = await freePort();
    const cfg = await writeTestConfig({ listener: { port, protocol: 'lmtp' }, mailboxes: [{ id: 'support', address: ALICE, pool: 'general' }] });
    const db = await openDb(cfg);
    await injectFault(db);
    const daemon = await startDaemon(cfg.configPath);
    try {
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true, secure: false } as any);
      const messageId = newMessageId();
      const raw = buildMail({ from: POISON_SENDER, to: ALICE, subject: 'By LMTP', text: 'Please help.', messageId });
      // LMTP answers each recipient on its own: nodemailer reports a 451 as a rejected recipient.
      const deliver = async () => {
        const info = await transport.sendMail({ envelope: { from: POISON_SENDER, to: [ALICE] }, raw });
        const refused = (info as { rejectedErrors?: Array<{ responseCode?: number; response?: string }> }).rejectedErrors?.[0];
        return refused ? { code: refused.responseCode ?? 0, text: String(refused.response) } : { code: 250, text: String(info.response) };
      };
      const answers = [await deliver(), await deliver(), await deliver(), await deliver()];
      expect(answers.map((a) => a.code)).toEqual([451, 451, 250, 250]);
      expect(answers[2]!.text).toContain('parked');
      expect(daemon.logs.filter((l) => l.event === 'ingest.parked')).toHaveLength(1);
      expect(daemon.logs.filter((l) => l.event === 'listener.delivery_failed').map((l) => l.kind)).toEqual(['accept', 'accept']);
      expect(await parkedNotices(db)).toHaveLength(1);

      // Not mended yet: the reprocess fails again, says so in one line, and the message stays parked.
      const failed = await runCli(['reprocess', '--parked', '--json', '--config', cfg.configPath]);
      expect(failed.code).toBe(70);
      expect(JSON.parse(failed.stdout)).toEqual([expect.objectContaining({ outcome: 'failed', case: null, error: expect.stringContaining('injected fault') })]);
      expect(failed.stderr.trim().split('\n')).toEqual([expect.stringContaining('1 of 1 parked message(s) failed again and stay parked')]);
      const still = await cliJson(['parked', '--config', cfg.configPath]);
      expect(still).toEqual([expect.objectContaining({ state: 'parked', source: 'lmtp', attempts: 5 })]);

      await mendFault(db);
      const ok = await cliJson(['reprocess', '--parked', '--config', cfg.configPath]);
      expect(ok).toEqual([expect.objectContaining({ outcome: 'created' })]);
      const inbound = await db.db.selectFrom('inbound').selectAll().where('message_id', '=', messageId).execute();
      expect(inbound).toEqual([expect.objectContaining({ source: 'lmtp', outcome: 'case', case_id: ok[0].case })]);
      expect(await parkedNotices(db)).toHaveLength(1);
      expect(await daemon.stop()).toBe(0);
    } finally {
      await daemon.kill();
      await db.close();
    }
  });
});

// A lock held on SQLite's file is what makes the failure transient here; PostgreSQL has no such
// file lock (its transient failures, deadlocks and lost connections, are retried by writeTx).
describe.skipIf(testBackend() === 'postgres')('a transient failure', () => {
  it('is not counted: a message met by a locked database is tried again as often as it takes and never parked (fails if a lock counts as poison)', async () => {
    const dist = (p: string) => import(path.join(REPO_ROOT, 'dist', p));
    const { requireConfig } = await dist('config/load.js');
    const { openDatabase } = await dist('db/connection.js');
    const { silentLogger } = await dist('log.js');
    const { ParserPool } = await dist('ingest/parse.js');
    const { prepareMessage, acceptPrepared } = await dist('ingest/pipeline.js');
    const { isTransientFailure } = await dist('db/errors.js');
    const cfg = await writeTestConfig({ overrides: { ingest: { max_attempts: 2 } } });
    const config = requireConfig(cfg.configPath);
    const opened = await openDatabase({ dataDir: config.instance.data_dir, busyTimeoutMs: 20 });
    const parsers = new ParserPool({ size: 1 });
    const ctx = { getConfig: () => config, db: opened.db, log: silentLogger(), parsers };
    const other = new Database(opened.file, { timeout: 100 });
    try {
      const messageId = newMessageId();
      const prepared = await prepareMessage(
        ctx,
        Buffer.from(buildMail({ from: 'locked@customer.test', to: ALICE, subject: 'Locked out', text: 'x', messageId })),
      );
      const input = { mailbox: config.mailboxes[0], source: { kind: 'lmtp', queueId: 'locked-1' }, envelopeFrom: null };
      other.exec('BEGIN IMMEDIATE');
      for (let i = 0; i < 3; i++) {
        const err = await acceptPrepared(ctx, prepared, input).then(
          () => null,
          (e: unknown) => e,
        );
        expect(isTransientFailure(err), String(err)).toBe(true);
      }
      other.exec('ROLLBACK');
      expect(await opened.db.selectFrom('parked').selectAll().execute()).toEqual([]);
      const accepted = await acceptPrepared(ctx, prepared, input);
      expect(accepted.outcome).toBe('created');
    } finally {
      other.close();
      await parsers.close();
      await opened.close();
    }
  });
});
