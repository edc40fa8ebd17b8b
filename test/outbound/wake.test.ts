// Issue 18: a commit in this process that queued mail wakes the outbox drainer, so the mail leaves
// at once instead of at the next poll. Proved by structure, not by timing: the poll is an hour
// away in every test here, so mail that arrives at the sink within the tests' bounds was sent on
// a wake. And the wake comes only after the commit: never for a transaction that rolled back, and
// by the time it comes the row can be read from another connection.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseFile, writeTx } from '../../src/db/connection';
import { createDrainerService } from '../../src/daemon/drainer';
import { onMailQueued } from '../../src/outbound/outbox-wake';
import { queueMail } from '../../src/outbound/queue';
import { openTestDatabase } from '../support/backend';
import { startDaemon, type Daemon } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { buildMail } from '../support/imap';
import { captureLogger, waitForLogged } from '../support/log';
import { freePort } from '../support/ports';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { sleep, waitFor } from '../support/wait';
import { deliverLmtp, newMessageId } from '../ingest/helpers';
import { insertCase, outboundEnv, replyInput, type OutboundEnv } from './helpers';

const HOUR_MS = 3_600_000;

describe('the outbox wake', () => {
  let sink: SmtpSink;
  let env: OutboundEnv;
  beforeAll(async () => {
    sink = await startSmtpSink();
    env = await outboundEnv({ smtp: { host: sink.host, port: sink.port } });
  });
  afterAll(async () => {
    await env?.close();
    await sink?.stop();
  });

  it('comes after the commit that queued mail, with the row readable elsewhere, and never for a rollback (fails if it is signalled inside the transaction)', async () => {
    const caseId = await insertCase(env);
    const other = await openTestDatabase(env.config.instance.data_dir);
    const file = databaseFile(env.opened.db);
    const reader = file ? new Database(file, { readonly: true }) : null;
    const seen: Array<Promise<number>> = [];
    const named: Array<readonly number[]> = [];
    // At the wake, count the queued rows from a second connection: synchronously on SQLite (the very moment), else at once.
    const countNow = (): Promise<number> =>
      reader
        ? Promise.resolve((reader.prepare("select count(*) as n from outbox where state = 'queued'").get() as { n: number }).n)
        : other.db
            .selectFrom('outbox')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('state', '=', 'queued')
            .executeTakeFirstOrThrow()
            .then((r) => Number(r.n));
    const stop = onMailQueued((ids) => {
      seen.push(countNow());
      named.push(ids);
    });
    try {
      await expect(
        writeTx(env.opened.db, async (tx) => {
          await queueMail(tx, replyInput(env, caseId));
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(seen).toHaveLength(0);

      // A held row (a trainee's reply) is not due: no wake either.
      await writeTx(env.opened.db, (tx) => queueMail(tx, replyInput(env, caseId, { state: 'held' })));
      expect(seen).toHaveLength(0);

      const queued = await writeTx(env.opened.db, (tx) => queueMail(tx, replyInput(env, caseId)));
      expect(seen).toHaveLength(1);
      expect(await seen[0]).toBe(1);
      // It names the row, which the drainer claims by id.
      expect(named).toEqual([[queued.outboxId]]);
    } finally {
      stop();
      reader?.close();
      await other.close();
    }
  });

  const stateOf = async (outboxId: number) =>
    (await env.opened.db.selectFrom('outbox').select('state').where('id', '=', outboxId).executeTakeFirstOrThrow()).state;
  // A row queued with no wake, as by another process (the CLI): queueMail outside writeTx registers none.
  const queueUnannounced = (caseId: string, text: string) => queueMail(env.opened.db, replyInput(env, caseId, { vars: { reply: { text } } }));
  const queueAnnounced = (caseId: string, text: string) =>
    writeTx(env.opened.db, (tx) => queueMail(tx, replyInput(env, caseId, { vars: { reply: { text } } })));
  const sent = (messageId: string) => sink.messages.some((m) => m.messageId === messageId);

  /**
   * A drainer service with this poll, once the round that sent a first mail has ended: from then
   * on only a wake or the poll starts a round. Rows earlier tests left queued go in that first round.
   */
  async function drainerAtRest(caseId: string, pollMs: number) {
    const config = { ...env.config, smtp: { ...env.config.smtp, poll_interval: pollMs } };
    const { log, lines } = captureLogger();
    const service = createDrainerService({ config, db: env.opened.db, log });
    await service.start();
    try {
      const first = await queueAnnounced(caseId, 'First.');
      await sink.waitFor((m) => m.some((x) => x.messageId === first.messageId), 15_000, 'the first mail');
      await waitForLogged(lines, 0, (l) => l.event === 'outbox.round_done', 1, 'the round that sent the first mail to end', 15_000);
    } catch (err) {
      await service.stop();
      throw err;
    }
    return { service, lines };
  }

  it('sends mail queued in this process at once while the poll is an hour away (fails if the drainer only polls)', async () => {
    const caseId = await insertCase(env);
    const { service, lines } = await drainerAtRest(caseId, HOUR_MS);
    try {
      const since = lines.length;
      const second = await queueAnnounced(caseId, 'Second.');
      await sink.waitFor((m) => m.some((x) => x.messageId === second.messageId), 15_000, 'the second mail, sent on the wake');
      await waitForLogged(lines, since, (l) => l.event === 'outbox.round_done', 1, 'the round that sent the second mail to end', 15_000);
    } finally {
      await service.stop();
    }
    expect(sink.byMessageId().size).toBe(sink.messages.length);
  });

  it('a wake claims the rows its commit queued and looks for nothing else: a row queued elsewhere waits for the poll (fails if every wake searches)', async () => {
    const caseId = await insertCase(env);
    const { service, lines } = await drainerAtRest(caseId, HOUR_MS);
    try {
      const elsewhere = await queueUnannounced(caseId, 'Queued elsewhere.');
      const since = lines.length;
      const second = await queueAnnounced(caseId, 'Second.');
      await sink.waitFor((m) => m.some((x) => x.messageId === second.messageId), 15_000, 'the second mail, sent on the wake');
      // The round the wake started is over, and it claimed only the row it was woken for.
      await waitForLogged(lines, since, (l) => l.event === 'outbox.round_done', 1, 'the round that sent the second mail to end', 15_000);
      expect(await stateOf(elsewhere.outboxId)).toBe('queued');
      expect(sent(elsewhere.messageId)).toBe(false);
    } finally {
      await service.stop();
    }
  });

  it('searches at every poll also while wakes keep coming (fails if a wake puts the search off)', async () => {
    const caseId = await insertCase(env);
    // The row the test above left queued goes in the first round: the search at start.
    const { service } = await drainerAtRest(caseId, 300);
    try {
      const elsewhere = await queueUnannounced(caseId, 'Queued elsewhere, during the stream.');
      // A wake every 50 ms, far more often than the poll, until the row queued elsewhere has gone out.
      let wakes = 0;
      while (!sent(elsewhere.messageId) && wakes < 200) {
        await queueAnnounced(caseId, `Stream ${++wakes}.`);
        await sleep(50);
      }
      expect(sent(elsewhere.messageId)).toBe(true);
      expect(wakes).toBeLessThan(200);
    } finally {
      await service.stop();
    }
    expect(sink.byMessageId().size).toBe(sink.messages.length);
  });
});

describe('the daemon: an LMTP delivery to the auto-response, with the outbox poll an hour away', () => {
  let sink: SmtpSink;
  let cfg: TestConfig;
  let daemon: Daemon;
  let port: number;
  beforeAll(async () => {
    sink = await startSmtpSink();
    port = await freePort();
    cfg = await writeTestConfig({ listener: { port }, smtp: { host: sink.host, port: sink.port }, overrides: { smtp: { poll_interval: '1h' } } });
    daemon = await startDaemon(cfg.configPath);
  });
  afterAll(async () => {
    const code = await daemon?.stop();
    await sink?.stop();
    expect(code).toBe(0);
  });

  async function deliver(customer: string): Promise<void> {
    const raw = buildMail({ from: `Customer <${customer}>`, to: 'bob@example.test', subject: 'Card blocked', text: 'Please help.', messageId: newMessageId() });
    expect((await deliverLmtp(port, customer, 'bob@example.test', raw)).code).toBe(250);
  }

  it("sends each auto-response on its commit's wake (fails if the drainer waits for its poll)", async () => {
    await deliver('first@customer.test');
    await sink.waitFor((m) => m.some((x) => x.envelope.to.includes('first@customer.test')), 15_000, 'the first auto-response');
    // Once the round that sent it has ended, only a wake (or an hour) starts the next one.
    await daemon.waitForLog((l) => l.event === 'outbox.round_done', 'the round that sent the first auto-response to end', 15_000);
    const since = daemon.logs.length;
    await deliver('second@customer.test');
    await sink.waitFor((m) => m.some((x) => x.envelope.to.includes('second@customer.test')), 15_000, 'the second auto-response, sent on the wake');
    const auto = sink.messages.find((x) => x.envelope.to.includes('second@customer.test'))!;
    expect(auto.envelope.from).toBe('');
    expect(auto.parsed.headers.get('auto-submitted')).toBe('auto-replied');
    // The drainer records it as sent (its log line may come a moment after the sink has the mail).
    await waitFor(() => daemon.logs.slice(since).some((l) => l.event === 'outbox.sent'), { what: 'the send to be recorded', timeoutMs: 15_000 });
  });
});
