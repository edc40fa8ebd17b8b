// Recording a send while the database refuses writes: another process holds the SQLite write lock
// from the moment the relay has the message until after its (slow) 250. A failure to record is not
// a failure to send: the row must never go out twice, the outcome is recorded once the lock is
// gone, and a drainer asked to stop meanwhile gives up on the write after a grace, leaving the row
// `sending` and saying so. The drainer runs in this process on its own connection with a short
// busy timeout, so each refused write fails fast and is retried by the drainer itself; the last
// test runs the daemon, with whatever busy timeout it has.
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeTx, type Opened } from '../../src/db/connection';
import { openTestDatabase, testBackend } from '../support/backend';
import { claimBatch, claimNext, type OutboxRow } from '../../src/outbound/claims';
import { OutcomeRecorder } from '../../src/outbound/record';
import { drainOnce } from '../../src/outbound/drainer';
import { queueMail } from '../../src/outbound/queue';
import { REPO_ROOT, startDaemon } from '../support/cli';
import { captureLogger, waitForLogged, type CapturedLog } from '../support/log';
import { spawnOwned, type OwnedProcess } from '../support/processes';
import { startSmtpSink, type SinkScript, type SmtpSink } from '../support/smtp-sink';
import { sleep } from '../support/wait';
import { insertCase, outboundEnv, type OutboundEnv, replyInput } from './helpers';

/**
 * A second process that takes SQLite's write lock (BEGIN IMMEDIATE) when told `lock` and lets it
 * go on `release`; it answers each command on stdout once done.
 */
const LOCK_HOLDER = `
const db = new (require('better-sqlite3'))(process.argv[1]);
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'lock') db.exec('BEGIN IMMEDIATE');
  if (line === 'release') db.exec('COMMIT');
  process.stdout.write(line + 'ed\\n');
});
`;

interface LockHolder {
  proc: OwnedProcess;
  /** Sends a command and resolves once the holder has carried it out. */
  tell(command: 'lock' | 'release'): Promise<void>;
  locked: boolean;
}

function startLockHolder(file: string): LockHolder {
  const proc = spawnOwned(process.execPath, ['-e', LOCK_HOLDER, file], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting: Array<() => void> = [];
  createInterface({ input: proc.child.stdout! }).on('line', () => waiting.shift()?.());
  const holder: LockHolder = {
    proc,
    locked: false,
    tell(command) {
      return new Promise<void>((resolve, reject) => {
        waiting.push(() => {
          holder.locked = command === 'lock';
          resolve();
        });
        void proc.exited.then((code) => reject(new Error(`the lock holder exited (${code}) before '${command}' was done`)));
        proc.child.stdin!.write(`${command}\n`);
      });
    },
  };
  return holder;
}

const SLOW_250_MS = 300;
const SHORT_BUSY_MS = 50;

// SQLite's file lock is what refuses the writes here; PostgreSQL has no such lock to hold from
// outside (its rows are claimed by compare-and-set, tested in claims.test.ts on both backends).
describe.skipIf(testBackend() === 'postgres')('recording an outcome while another process holds the database lock', () => {
  let sink: SmtpSink;
  let env: OutboundEnv;
  let drainerDb: Opened;
  let holder: LockHolder;
  let script: SinkScript | undefined;
  let logs: CapturedLog;

  beforeAll(async () => {
    sink = await startSmtpSink({ script: (c) => script?.(c) ?? null });
    env = await outboundEnv({ smtp: { host: sink.host, port: sink.port } });
    drainerDb = await openTestDatabase(env.config.instance.data_dir, { busyTimeoutMs: SHORT_BUSY_MS });
    holder = startLockHolder(env.opened.file);
  });
  afterEach(async () => {
    if (holder.locked) await holder.tell('release');
    script = undefined;
    sink.reset();
    await env.opened.db.deleteFrom('outbox').execute();
  });
  afterAll(async () => {
    await holder?.proc.kill();
    await drainerDb?.close();
    await env?.close();
    await sink?.stop();
  });

  async function queueOne() {
    const caseId = await insertCase(env);
    return writeTx(env.opened.db, (tx) => queueMail(tx, replyInput(env, caseId)));
  }

  /** The relay has the message; before its slow answer, another process takes the write lock. */
  function lockThenAnswer(reply: { code: number; message: string } | null): SinkScript {
    return () =>
      holder
        .tell('lock')
        .then(() => sleep(SLOW_250_MS))
        .then(() => reply);
  }

  function drain(shouldStop?: () => boolean) {
    logs = captureLogger();
    return drainOnce({ config: env.config, db: drainerDb.db, log: logs.log }, { shouldStop, recordGraceMs: 500 });
  }

  const outboxRow = (id: number) => env.opened.db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  /** The drainer met the lock and is retrying the write; a drainer that gave up or failed instead fails the test with why. */
  const retrying = (drained: Promise<number>) =>
    Promise.race([
      waitForLogged(logs.lines, 0, (l) => l.event === 'outbox.record_retry', 1, 'outbox.record_retry'),
      drained.then((n) => Promise.reject(new Error(`the drainer finished (${n} rows) while the lock was held`))),
    ]);

  it('a 250 whose `sent` cannot be written is recorded once the lock is gone: one copy, attempts 1', async () => {
    const q = await queueOne();
    script = lockThenAnswer(null);
    const drained = drain();
    await retrying(drained);
    // The refused write did not turn into a retry of the send: the row is still ours, and no other
    // drainer can claim it (reading works under the lock; a claim would need a due row).
    expect(await outboxRow(q.outboxId)).toMatchObject({ state: 'sending', attempts: 1 });
    expect(await claimNext(env.opened.db)).toBeNull();
    await holder.tell('release');
    expect(await drained).toBe(1);

    expect(await outboxRow(q.outboxId)).toMatchObject({ state: 'sent', attempts: 1, lease_until: null });
    expect(sink.byMessageId().get(q.messageId)).toBe(1);
    expect(sink.attempts).toBe(1);
    expect(logs.lines.filter((l) => l.event === 'outbox.record_retry')).toHaveLength(1);
    expect(logs.lines.filter((l) => l.event === 'outbox.sent').map((l) => l.message_id)).toEqual([q.messageId]);
    expect(await drain()).toBe(0);
    expect(sink.attempts).toBe(1);
  });

  it('a 421 whose retry cannot be written is recorded once the lock is gone, with no second send meanwhile', async () => {
    const q = await queueOne();
    script = lockThenAnswer({ code: 421, message: 'Try again later' });
    const drained = drain();
    await retrying(drained);
    expect(await outboxRow(q.outboxId)).toMatchObject({ state: 'sending', attempts: 1 });
    await holder.tell('release');
    expect(await drained).toBe(1);
    const row = await outboxRow(q.outboxId);
    expect(row).toMatchObject({ state: 'queued', attempts: 1 });
    expect(row.last_error).toContain('421');
    expect(sink.attempts).toBe(1);
  });

  it('a drainer asked to stop while the lock is still held gives up on the write, leaves the row `sending` and says why', async () => {
    const q = await queueOne();
    script = lockThenAnswer(null);
    let stopping = false;
    const drained = drain(() => stopping);
    await retrying(drained);
    stopping = true;
    expect(await drained).toBe(1);
    const abandoned = logs.lines.filter((l) => l.event === 'outbox.record_abandoned');
    expect(abandoned).toMatchObject([{ outbox_id: q.outboxId, outcome: 'sent', state: 'sending', message_id: q.messageId }]);
    expect(abandoned[0]!.msg).toMatch(/accepted.*stays 'sending'.*sent again/);
    await holder.tell('release');
    expect(await outboxRow(q.outboxId)).toMatchObject({ state: 'sending', attempts: 1 });
    // Still claimed by this process, which is alive: nothing sends it again while it runs.
    expect(await drain()).toBe(0);
    expect(sink.attempts).toBe(1);
  });

  // The same through the daemon, whatever its busy timeout: the write waits for the lock that long,
  // fails, and is tried again under the same claim; the duplicate came 55 s after the 250.
  it('the daemon records a 250 it could not write at first once the lock is gone, and never sends the row again', async () => {
    script = lockThenAnswer(null);
    const daemon = await startDaemon(env.cfg.configPath);
    try {
      const q = await queueOne();
      await daemon.waitForLog((l) => l.event === 'outbox.record_retry' && l.message_id === q.messageId, 'outbox.record_retry', 60_000);
      expect(await outboxRow(q.outboxId)).toMatchObject({ state: 'sending', attempts: 1 });
      await holder.tell('release');
      await daemon.waitForLog((l) => l.event === 'outbox.sent' && l.message_id === q.messageId, 'outbox.sent', 60_000);
      expect(await outboxRow(q.outboxId)).toMatchObject({ state: 'sent', attempts: 1 });
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
    expect(sink.attempts).toBe(1);
    expect(sink.messages).toHaveLength(1);
  });
});

// Outcomes that arrive together share one transaction (record.ts, OutcomeRecorder), and each row
// in it is still written only under its own claim. Both backends.
describe('recording outcomes that arrive together', () => {
  let env: OutboundEnv;

  beforeAll(async () => {
    env = await outboundEnv({});
  });
  afterAll(async () => {
    await env?.close();
  });

  async function claimThree() {
    for (let i = 0; i < 3; i++) {
      const caseId = await insertCase(env);
      await writeTx(env.opened.db, (tx) => queueMail(tx, replyInput(env, caseId)));
    }
    const rows = await claimBatch(env.opened.db, 3);
    expect(rows).toHaveLength(3);
    return rows;
  }
  const sent = (row: OutboxRow) => ({ row, outcome: { kind: 'sent' as const, response: '250 2.0.0 queued' }, fields: { outbox_id: row.id } });
  const state = (id: number) => env.opened.db.selectFrom('outbox').select(['state', 'sent_at']).where('id', '=', id).executeTakeFirstOrThrow();

  it('writes the outcomes of one turn of the event loop in one transaction, the next one in another (fails on a commit per outcome)', async () => {
    const rows = await claimThree();
    const recorder = new OutcomeRecorder(env.opened.db, captureLogger().log);
    const results = await Promise.all(rows.map((row) => recorder.record(sent(row))));
    expect(results).toEqual(['recorded', 'recorded', 'recorded']);
    expect(recorder.transactions).toBe(1);
    for (const row of rows) expect(await state(row.id)).toMatchObject({ state: 'sent' });

    const [later] = await claimThree();
    expect(await recorder.record(sent(later!))).toBe('recorded');
    expect(recorder.transactions).toBe(2);
  });

  it('writes each row of a shared transaction only under its own claim: a row another drainer took over is lost, the others recorded (fails if one lost claim sinks or overwrites the rest)', async () => {
    const rows = await claimThree();
    // Another drainer took the middle row over (its lease ran out): a claim of its own.
    await env.opened.db.updateTable('outbox').set({ claim_token: 'someone-else' }).where('id', '=', rows[1]!.id).execute();
    const recorder = new OutcomeRecorder(env.opened.db, captureLogger().log);
    const results = await Promise.all(rows.map((row) => recorder.record(sent(row))));
    expect(results).toEqual(['recorded', 'lost', 'recorded']);
    expect(recorder.transactions).toBe(1);
    expect(await state(rows[0]!.id)).toMatchObject({ state: 'sent' });
    expect(await state(rows[1]!.id)).toMatchObject({ state: 'sending', sent_at: null });
    expect(await state(rows[2]!.id)).toMatchObject({ state: 'sent' });
  });
});
