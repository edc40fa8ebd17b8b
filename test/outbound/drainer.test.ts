// The drainer against a real SMTP server (the sink): delivery, retry of transient failures,
// permanent failures, the file transport, and the claim/lease rules.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeTx } from '../../src/db/connection';
import { setClockOffset } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { queueMail } from '../../src/outbound/queue';
import { claimNext, LEASE_MS } from '../../src/outbound/claims';
import { backoffMs, drainOnce } from '../../src/outbound/drainer';
import { SEND_CONCURRENCY } from '../../src/outbound/sender';
import { rejectHeld, releaseHeld } from '../../src/outbound/outbox';
import { startSmtpSink, type SinkScript, type SmtpSink } from '../support/smtp-sink';
import { freePort } from '../support/ports';
import { insertCase, outboundEnv, type OutboundEnv, replyInput } from './helpers';

let script: SinkScript | undefined;

async function queueReply(env: OutboundEnv, caseId: string, kind = 'reply', state: 'queued' | 'held' = 'queued') {
  return writeTx(env.opened.db, (tx) =>
    queueMail(
      tx,
      replyInput(env, caseId, {
        kind,
        from: { address: 'alice@example.test', name: 'Test Desk' },
        vars: { reply: { text: 'Answer.' } },
        author: 'sam',
        state,
        ...(kind === 'auto_response' ? { autoSubmitted: 'auto-replied' as const } : {}),
      }),
    ),
  );
}

function ctx(env: OutboundEnv) {
  return { config: env.config, db: env.opened.db, log: silentLogger() };
}

async function outboxRow(env: OutboundEnv, id: number) {
  return env.opened.db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function messageState(env: OutboundEnv, id: number | null) {
  const row = await env.opened.db.selectFrom('messages').select('state').where('id', '=', id!).executeTakeFirstOrThrow();
  return row.state;
}

describe('outbox drainer over SMTP', () => {
  let sink: SmtpSink;
  let env: OutboundEnv;

  beforeAll(async () => {
    sink = await startSmtpSink({ script: (c) => script?.(c) ?? null });
    env = await outboundEnv({ smtp: { host: sink.host, port: sink.port } });
  });
  afterEach(() => {
    script = undefined;
    setClockOffset(0);
    sink.reset();
  });
  afterAll(async () => {
    await env?.close();
    await sink?.stop();
  });

  it('delivers a queued row once, records the server reply, and marks the message sent', async () => {
    const caseId = await insertCase(env);
    const q = await queueReply(env, caseId);
    expect(await drainOnce(ctx(env))).toBe(1);
    expect(sink.messages).toHaveLength(1);
    const got = sink.messages[0]!;
    expect(got.messageId).toBe(q.messageId);
    expect(got.envelope).toEqual({ from: 'alice@example.test', to: ['customer@example.org'] });
    const row = await outboxRow(env, q.outboxId);
    expect(row).toMatchObject({ state: 'sent', attempts: 1, lease_until: null });
    expect(row.smtp_response).toContain('250');
    expect(row.sent_at).not.toBeNull();
    expect(await messageState(env, q.messageRowId)).toBe('sent');
    // A sent row is never claimed again.
    expect(await drainOnce(ctx(env))).toBe(0);
    expect(sink.attempts).toBe(1);
  });

  it('sends a backlog several rows at once, each over its own connection, each once (fails if rows go out one at a time)', async () => {
    let secondCame: () => void = () => {};
    const second = new Promise<null>((resolve) => (secondCame = () => resolve(null)));
    // The relay answers the first mail only once a second one has come: a drainer sending one
    // row at a time would wait in vain, until the relay gives up on it with a 421.
    script = ({ attempt }) => {
      if (attempt === 2) secondCame();
      if (attempt !== 1) return null;
      return Promise.race([
        second,
        new Promise<{ code: number; message: string }>((r) => setTimeout(() => r({ code: 421, message: 'No second mail came' }), 10_000)),
      ]);
    };
    const caseId = await insertCase(env);
    const queued = [];
    for (let i = 0; i < SEND_CONCURRENCY; i++) queued.push(await queueReply(env, caseId));
    expect(await drainOnce(ctx(env))).toBe(SEND_CONCURRENCY);
    expect(sink.attempts).toBe(SEND_CONCURRENCY);
    const counts = sink.byMessageId();
    for (const q of queued) {
      expect(counts.get(q.messageId)).toBe(1);
      expect(await outboxRow(env, q.outboxId)).toMatchObject({ state: 'sent', attempts: 1 });
    }
  });

  it('sends auto-responses with the null envelope sender (RFC 3834 §3.3)', async () => {
    const caseId = await insertCase(env);
    await queueReply(env, caseId, 'auto_response');
    await drainOnce(ctx(env));
    expect(sink.messages[0]!.envelope.from).toBe('');
    expect(sink.messages[0]!.parsed.headers.get('auto-submitted')).toBe('auto-replied');
  });

  it('retries a server answering 421 three times, then delivers exactly once', async () => {
    script = ({ attempt }) => (attempt <= 3 ? { code: 421, message: 'Try again later' } : null);
    const caseId = await insertCase(env);
    const q = await queueReply(env, caseId);
    let clock = 0;
    for (let i = 1; i <= 3; i++) {
      expect(await drainOnce(ctx(env))).toBe(1);
      const row = await outboxRow(env, q.outboxId);
      expect(row).toMatchObject({ state: 'queued', attempts: i });
      expect(row.last_error).toContain('421');
      // Not due before its backoff has passed.
      expect(await drainOnce(ctx(env))).toBe(0);
      clock += 2 * 60 * 60_000;
      setClockOffset(clock);
    }
    expect(await drainOnce(ctx(env))).toBe(1);
    expect(sink.attempts).toBe(4);
    expect(sink.byMessageId().get(q.messageId)).toBe(1);
    expect(await outboxRow(env, q.outboxId)).toMatchObject({ state: 'sent', attempts: 4 });
    expect(await messageState(env, q.messageRowId)).toBe('sent');
  });

  it('fails a row on 550 with the server reply, shows it on the message and in history, and never retries it', async () => {
    script = () => ({ code: 550, message: 'No such user here' });
    const caseId = await insertCase(env);
    const q = await queueReply(env, caseId);
    await drainOnce(ctx(env));
    const row = await outboxRow(env, q.outboxId);
    expect(row.state).toBe('failed');
    expect(row.last_error).toMatch(/550.*No such user here/);
    expect(await messageState(env, q.messageRowId)).toBe('failed');
    const events = await env.opened.db.selectFrom('case_events').selectAll().where('case_id', '=', caseId).where('kind', '=', 'mail_failed').execute();
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.data!)).toMatchObject({ outbox_id: q.outboxId, error: expect.stringContaining('550') });
    setClockOffset(48 * 60 * 60_000);
    expect(await drainOnce(ctx(env))).toBe(0);
    expect(sink.attempts).toBe(1);
  });

  it('gives up after smtp.max_attempts transient failures', async () => {
    script = () => ({ code: 451, message: 'Local error in processing' });
    const caseId = await insertCase(env);
    const q = await queueReply(env, caseId);
    const max = env.config.smtp.max_attempts;
    for (let i = 1; i <= max; i++) {
      setClockOffset(i * 2 * 60 * 60_000);
      expect(await drainOnce(ctx(env))).toBe(1);
    }
    const row = await outboxRow(env, q.outboxId);
    expect(row).toMatchObject({ state: 'failed', attempts: max });
    expect(row.last_error).toContain('451');
    expect(sink.attempts).toBe(max);
  });

  it('reclaims a row whose drainer died mid-send only after the lease has run out', async () => {
    const caseId = await insertCase(env);
    const q = await queueReply(env, caseId);
    const claimed = await claimNext(env.opened.db);
    expect(claimed?.id).toBe(q.outboxId);
    // The "dead" drainer never reports back; a second drainer must leave the row alone...
    expect(await drainOnce(ctx(env))).toBe(0);
    // ...until the lease is over.
    setClockOffset(LEASE_MS + 1000);
    expect(await drainOnce(ctx(env))).toBe(1);
    expect(await outboxRow(env, q.outboxId)).toMatchObject({ state: 'sent', attempts: 2 });
    expect(sink.byMessageId().get(q.messageId)).toBe(1);
  });

  it('never sends a held row; sends it once released, and never one that was rejected', async () => {
    const caseId = await insertCase(env);
    const approved = await queueReply(env, caseId, 'reply', 'held');
    const rejected = await queueReply(env, caseId, 'reply', 'held');
    setClockOffset(24 * 60 * 60_000);
    expect(await drainOnce(ctx(env))).toBe(0);
    expect(sink.attempts).toBe(0);
    expect(await messageState(env, approved.messageRowId)).toBe('held');

    expect(await writeTx(env.opened.db, (tx) => releaseHeld(tx, approved.outboxId))).toBe(true);
    expect(await writeTx(env.opened.db, (tx) => rejectHeld(tx, rejected.outboxId))).toBe(true);
    // A decision is taken once.
    expect(await writeTx(env.opened.db, (tx) => rejectHeld(tx, approved.outboxId))).toBe(false);
    expect(await drainOnce(ctx(env))).toBe(1);
    expect(sink.messages.map((m) => m.messageId)).toEqual([approved.messageId]);
    expect(await messageState(env, approved.messageRowId)).toBe('sent');
    expect(await messageState(env, rejected.messageRowId)).toBe('rejected');
    expect((await outboxRow(env, rejected.outboxId)).state).toBe('rejected');
  });

  it('backs off exponentially with jitter, capped at an hour', () => {
    expect(backoffMs(1, () => 0.5)).toBe(30_000);
    expect(backoffMs(2, () => 0.5)).toBe(60_000);
    expect(backoffMs(30, () => 0.5)).toBe(3_600_000);
    expect(backoffMs(1, () => 0)).toBe(22_500);
    expect(backoffMs(1, () => 1)).toBe(37_500);
  });
});

describe('outbox drainer when the relay is down', () => {
  let env: OutboundEnv;
  beforeAll(async () => {
    env = await outboundEnv({ smtp: { host: '127.0.0.1', port: await freePort() } });
  });
  afterAll(async () => {
    await env?.close();
    setClockOffset(0);
  });

  it('keeps the row queued with a later attempt when the connection is refused', async () => {
    const caseId = await insertCase(env);
    const q = await queueReply(env, caseId);
    await drainOnce(ctx(env));
    const row = await outboxRow(env, q.outboxId);
    expect(row).toMatchObject({ state: 'queued', attempts: 1 });
    expect(row.last_error).toMatch(/ECONNREFUSED|ESOCKET|ECONNECTION/);
    expect(Date.parse(row.next_attempt_at)).toBeGreaterThan(Date.parse(row.created_at));
    expect(await messageState(env, q.messageRowId)).toBe('queued');
  });
});

describe('outbox drainer with the file transport', () => {
  let env: OutboundEnv;
  beforeAll(async () => {
    env = await outboundEnv();
  });
  afterAll(async () => {
    await env?.close();
  });

  it('writes each row as <id>-<kind>.eml with the frozen bytes, 0600, and marks it sent', async () => {
    const caseId = await insertCase(env);
    const q = await queueReply(env, caseId);
    expect(await drainOnce(ctx(env))).toBe(1);
    const dir = env.config.smtp.outbox_dir!;
    const file = path.join(dir, `${q.outboxId}-reply.eml`);
    const row = await outboxRow(env, q.outboxId);
    expect(fs.readFileSync(file).equals(row.mime)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
    expect(row.state).toBe('sent');
    expect(row.smtp_response).toContain(file);
  });
});
