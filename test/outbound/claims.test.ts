// Claims that hold without SQLite's single writer (graphile-worker's way): each one a conditional
// UPDATE whose row count says who won. Run in-process against the real SQLite file, with the
// races forced by hand instead of hoped for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { writeTx, type Opened } from '../../src/db/connection';
import { openTestDatabase, testBackend } from '../support/backend';
import { claimBatch, claimNext, LEASE_MS, nextDueAt } from '../../src/outbound/claims';
import { currentClaimer } from '../../src/outbound/claimer';
import { queueMail } from '../../src/outbound/queue';
import { listOutbox } from '../../src/outbound/outbox';
import { setStatus } from '../../src/cases/status';
import { addMs, nowIso, setClockOffset } from '../../src/clock';
import { spawnOwned } from '../support/processes';
import { insertCase, outboundEnv, replyInput, type OutboundEnv } from './helpers';

describe('compare-and-set claims', () => {
  let env: OutboundEnv;
  beforeAll(async () => {
    env = await outboundEnv();
  });
  afterAll(async () => {
    setClockOffset(0);
    await env?.close();
  });

  const queueOne = async (caseId: string, noticeKey?: string) =>
    writeTx(env.opened.db, (tx) => queueMail(tx, { ...replyInput(env, caseId), ...(noticeKey ? { noticeKey } : {}) }));

  // SQLite's write lock; PostgreSQL has none for an idle drainer to take.
  it.skipIf(testBackend() === 'postgres')('an idle drainer takes no write lock: it finds nothing while another process holds the lock', async () => {
    await env.opened.db.deleteFrom('outbox').execute();
    const other = new Database(env.opened.file, { timeout: 100 });
    try {
      other.exec('BEGIN IMMEDIATE');
      // Would wait for the lock (and fail after the busy timeout) if it tried to write.
      expect(await claimNext(env.opened.db)).toBeNull();
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
  });

  it('a row is claimed once; a drainer whose lease ran out cannot record its outcome after a new claim', async () => {
    const caseId = await insertCase(env);
    const queued = await queueOne(caseId);
    const first = (await claimNext(env.opened.db))!;
    expect(first).toMatchObject({ id: queued.outboxId, state: 'sending', attempts: 1 });
    expect(first.claim_token).toMatch(/^[0-9a-f-]{36}$/);
    expect(await claimNext(env.opened.db)).toBeNull(); // claimed, lease running

    setClockOffset(LEASE_MS + 60_000); // the first drainer hangs past its lease
    const second = (await claimNext(env.opened.db))!;
    setClockOffset(0);
    expect(second).toMatchObject({ id: first.id, attempts: 2 });
    expect(second.claim_token).not.toBe(first.claim_token);
    // The first drainer's conditional update matches nothing: its claim is gone.
    const stale = await env.opened.db
      .updateTable('outbox')
      .set({ state: 'sent' })
      .where('id', '=', first.id)
      .where('claim_token', '=', first.claim_token)
      .executeTakeFirst();
    expect(Number(stale.numUpdatedRows)).toBe(0);
  });

  it('claims up to a batch of due rows with one update, in due order, under one token; the next claim gets the rest (fails if a row is claimed twice or skipped)', async () => {
    await env.opened.db.deleteFrom('outbox').execute();
    const caseId = await insertCase(env);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await queueOne(caseId)).outboxId);
    const first = await claimBatch(env.opened.db, 3);
    expect(first.map((r) => r.id)).toEqual(ids.slice(0, 3));
    for (const r of first) expect(r).toMatchObject({ state: 'sending', attempts: 1, claimed_by: currentClaimer(), claim_token: first[0]!.claim_token });
    const rest = await claimBatch(env.opened.db, 8);
    expect(rest.map((r) => r.id)).toEqual(ids.slice(3));
    expect(rest[0]!.claim_token).not.toBe(first[0]!.claim_token);
    expect(await claimBatch(env.opened.db, 8)).toEqual([]);
    await env.opened.db.deleteFrom('outbox').execute();
  });

  it('the next due time is the next attempt of a queued row, or the lease end of a row being sent', async () => {
    await env.opened.db.deleteFrom('outbox').execute();
    expect(await nextDueAt(env.opened.db)).toBeNull();
    const caseId = await insertCase(env);
    const queued = await queueOne(caseId);
    const row = await env.opened.db.selectFrom('outbox').select('next_attempt_at').where('id', '=', queued.outboxId).executeTakeFirstOrThrow();
    expect(await nextDueAt(env.opened.db)).toBe(row.next_attempt_at);
    const claimed = (await claimNext(env.opened.db))!;
    expect(await nextDueAt(env.opened.db)).toBe(claimed.lease_until);
  });

  it('a status move decided on an old version of the case changes nothing and says so', async () => {
    const caseId = await insertCase(env);
    const read = await env.opened.db.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirstOrThrow();
    // Another consultant takes the case between our read and our write.
    await writeTx(env.opened.db, (tx) => setStatus(tx, read, 'cody', { status: 'in_progress', assignee: 'cody' }));
    await expect(writeTx(env.opened.db, (tx) => setStatus(tx, read, 'tina', { status: 'in_progress', assignee: 'tina' }))).rejects.toMatchObject({
      code: 'ECONFLICT',
    });
    const now = await env.opened.db.selectFrom('cases').select(['assignee', 'version']).where('id', '=', caseId).executeTakeFirstOrThrow();
    expect(now).toEqual({ assignee: 'cody', version: read.version + 1 });
    const events = await env.opened.db.selectFrom('case_events').select('actor').where('case_id', '=', caseId).where('field', '=', 'assignee').execute();
    expect(events).toEqual([{ actor: 'cody' }]);
  });

  it('a scheduled notice is queued once per key: the database refuses the second', async () => {
    const caseId = await insertCase(env);
    await queueOne(caseId, `case_overdue:${caseId}:2026-01-01T00:00:00.000Z`);
    await expect(queueOne(caseId, `case_overdue:${caseId}:2026-01-01T00:00:00.000Z`)).rejects.toThrow(/UNIQUE|unique constraint/);
    await queueOne(caseId, `case_overdue:${caseId}:2026-02-01T00:00:00.000Z`); // a new deadline is a new notice
    const keys = await env.opened.db.selectFrom('outbox').select('notice_key').where('case_id', '=', caseId).execute();
    expect(keys).toHaveLength(2);
  });

  it('lists the outbox by a known kind only: an unknown kind is refused, naming the known ones', async () => {
    await expect(listOutbox(env.opened.db, { kind: 'newsletter' })).rejects.toMatchObject({
      code: 'EBADKIND',
      message: expect.stringContaining('known: auto_response, reply,'),
    });
    expect((await listOutbox(env.opened.db, { kind: 'reply' })).every((e) => e.kind === 'reply')).toBe(true);
  });
});

// A drainer killed on this machine leaves its row `sending`; the next drainer takes it over at
// once when the claimer is provably gone, and only then. The claimer is `<pid>/<start>@<scope>`
// (src/outbound/claimer.ts): the tests write rows as other drainers would have claimed them.
describe('taking over the row of a dead drainer', () => {
  let env: OutboundEnv;
  let second: Opened;
  let deadPid: number;
  const scope = () => currentClaimer().slice(currentClaimer().indexOf('@') + 1);

  beforeAll(async () => {
    env = await outboundEnv();
    second = await openTestDatabase(env.config.instance.data_dir);
    const gone = spawnOwned(process.execPath, ['-e', '']);
    await gone.exited; // exited and reaped by Node: the pid names no process now
    deadPid = gone.pgid;
  });
  afterAll(async () => {
    setClockOffset(0);
    await second?.close();
    await env?.close();
  });

  /** A row another drainer claimed and never finished. */
  async function orphanedRow(claimedBy: string): Promise<number> {
    await env.opened.db.deleteFrom('outbox').execute();
    const caseId = await insertCase(env);
    const q = await writeTx(env.opened.db, (tx) => queueMail(tx, replyInput(env, caseId)));
    await env.opened.db
      .updateTable('outbox')
      .set({ state: 'sending', attempts: 1, claim_token: 'the-old-claim', claimed_by: claimedBy, lease_until: addMs(nowIso(), LEASE_MS) })
      .where('id', '=', q.outboxId)
      .execute();
    return q.outboxId;
  }

  it('claims at once a row whose drainer on this machine is gone, as one more attempt under a new claim', async () => {
    const id = await orphanedRow(`${deadPid}/@${scope()}`);
    expect(await nextDueAt(env.opened.db)).not.toBe(null);
    const row = await claimNext(env.opened.db);
    expect(row).toMatchObject({ id, state: 'sending', attempts: 2, claimed_by: currentClaimer() });
    expect(row!.claim_token).not.toBe('the-old-claim');
    expect(await claimNext(env.opened.db)).toBeNull(); // now ours, and we are alive
  });

  it('claims a row whose pid now belongs to a process that started at another time (pid reuse)', async () => {
    const id = await orphanedRow(`${process.pid}/1@${scope()}`);
    expect(await claimNext(env.opened.db)).toMatchObject({ id, attempts: 2 });
  });

  it('leaves alone a row whose drainer is alive until its lease runs out', async () => {
    const id = await orphanedRow(currentClaimer());
    expect(await claimNext(env.opened.db)).toBeNull();
    setClockOffset(LEASE_MS + 60_000);
    expect(await claimNext(env.opened.db)).toMatchObject({ id, attempts: 2 });
    setClockOffset(0);
  });

  it('leaves alone a row claimed on another machine until its lease runs out, whatever its pid says here', async () => {
    const id = await orphanedRow(`${deadPid}/@elsewhere.example/other-boot/4026531836`);
    expect(await claimNext(env.opened.db)).toBeNull();
    expect(await claimNext(env.opened.db)).toBeNull();
    setClockOffset(LEASE_MS + 60_000);
    expect(await claimNext(env.opened.db)).toMatchObject({ id, attempts: 2 });
    setClockOffset(0);
  });

  it('of two drainers that find the same orphan, exactly one takes it over', async () => {
    const id = await orphanedRow(`${deadPid}/@${scope()}`);
    const [a, b] = await Promise.all([claimNext(env.opened.db), claimNext(second.db)]);
    expect([a, b].filter((r) => r !== null).map((r) => [r.id, r.attempts])).toEqual([[id, 2]]);
  });
});
