// The box's auto-response cap (SPEC §4, loop-breaker.ts) counted through box-rate-bound.ts: the
// last exact count carried forward by the outbox rows added since, exact again near the cap. Each
// test is a way the carried bound could count too few if it trusted itself too far: rows another
// process added, a second database in the same process, a clock set back. Real database (SQLite,
// or PostgreSQL under MW_TEST_BACKEND=postgres), real transactions.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { writeTx } from '../../src/db/connection';
import { setClockOffset } from '../../src/clock';
import { maybeQueueAutoResponse } from '../../src/outbound/autoresponse';
import { boxSender, queueMail } from '../../src/outbound/queue';
import { factsFromRaw, insertCase, mail, outboundEnv, replyInput, type OutboundEnv } from './helpers';

const HOUR = 3_600_000;
let customers = 0;

/** A mail from a new customer to the support box, as the accept would answer it: 'queued' or why not. */
async function answer(env: OutboundEnv): Promise<string> {
  customers += 1;
  const inbound = await factsFromRaw(mail({ From: `customer${customers}@example.org` }));
  const box = env.config.mailboxes.find((m) => m.id === 'support')!;
  const caseId = await insertCase(env, { mailbox: box.id, customer: inbound.from!.address, subject: inbound.subject });
  const result = await writeTx(env.opened.db, (tx) => maybeQueueAutoResponse(tx, { config: env.config, caseId, mailbox: box, inbound, supervisors: [] }));
  return result.queued ? 'queued' : result.reason;
}

/** Outbox rows written as another process would (its own commits, none of this process's hooks); `auto`: auto-responses of the box. */
async function addRows(env: OutboundEnv, n: number, auto: boolean): Promise<void> {
  const box = env.config.mailboxes.find((m) => m.id === 'support')!;
  const caseId = await insertCase(env, { mailbox: box.id });
  for (let i = 0; i < n; i++) {
    const over = auto ? { kind: 'auto_response' as const, from: boxSender(env.config, box), messageKind: null } : {};
    await queueMail(env.opened.db, replyInput(env, caseId, { to: [{ address: `other${i}@example.org` }], ...over }));
  }
}

const lastId = async (env: OutboundEnv) => (await env.opened.db.selectFrom('outbox').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow()).id;

const refused = (cap: number) => `box support reached its limit of ${cap} auto-responses per 1h`;

describe('the box cap, counted from the last count on', () => {
  const envs: OutboundEnv[] = [];
  const desk = async (cap: number) => {
    const env = await outboundEnv({ overrides: { auto_response: { box_cap: cap, box_window: '1h' } } });
    envs.push(env);
    return env;
  };

  afterEach(async () => {
    setClockOffset(0);
    for (const env of envs.splice(0)) await env.close();
  });
  afterAll(() => setClockOffset(0));

  it('answers up to the cap and no more, and again once the window has passed (fails if a carried count lets one past the cap)', async () => {
    const env = await desk(3);
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await answer(env));
    expect(outcomes).toEqual(['queued', 'queued', 'queued', refused(3), refused(3)]);
    setClockOffset(HOUR + 60_000);
    expect(await answer(env)).toBe('queued');
  });

  it('counts the auto-responses another process queued since (fails when only its own are counted)', async () => {
    const env = await desk(3);
    // The second answer leaves a bound (the first found no outbox row to end one on).
    expect([await answer(env), await answer(env)]).toEqual(['queued', 'queued']);
    await addRows(env, 4, false);
    await addRows(env, 1, true);
    expect(await answer(env)).toBe(refused(3));
  });

  it("does not carry one database's count into another's, even where their ids line up (fails when a bound is trusted by id alone)", async () => {
    // Desk B: two replies, then three auto-responses: at its cap.
    const b = await desk(3);
    await addRows(b, 2, false);
    await addRows(b, 3, true);
    // Desk A, the same number of rows, none an auto-response of the box; its answer leaves a bound
    // of 0 ending at the row whose id B's last auto-response has.
    const a = await desk(3);
    await addRows(a, 5, false);
    expect(await lastId(a)).toBe(await lastId(b));
    expect(await answer(a)).toBe('queued');
    expect(await answer(b)).toBe(refused(3));
  });

  it('counts again when the clock is set back (fails when a bound outlives the start of its window)', async () => {
    const env = await desk(2);
    expect([await answer(env), await answer(env), await answer(env)]).toEqual(['queued', 'queued', refused(2)]);
    // Two hours on, the first two are out of the window: counted again (none), answered.
    setClockOffset(2 * HOUR);
    expect(await answer(env)).toBe('queued');
    // Back to 30 minutes after the start: all three are in the window again (the last one ahead of
    // the clock), where the bound just taken would say one.
    setClockOffset(30 * 60_000);
    expect(await answer(env)).toBe(refused(2));
  });
});
