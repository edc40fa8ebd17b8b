// The operator's view through the real CLI: a mail the relay refuses for good (550) is `failed`,
// visible in `outbox --state failed` and in `show`, not retried by itself; `outbox retry` puts it
// back once the cause is fixed, and a sent row can never be retried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTx } from '../../src/db/connection';
import { queueMail } from '../../src/outbound/queue';
import { cliJson, runCli } from '../support/cli';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { insertCase, outboundEnv, type OutboundEnv, replyInput } from './helpers';

describe('mailwarden outbox', () => {
  let sink: SmtpSink;
  let env: OutboundEnv;
  let refuse = true;

  beforeAll(async () => {
    sink = await startSmtpSink({ script: () => (refuse ? { code: 550, message: '5.1.1 Mailbox unavailable' } : null) });
    env = await outboundEnv({ smtp: { host: sink.host, port: sink.port } });
  });
  afterAll(async () => {
    await env?.close();
    await sink?.stop();
  });

  const cli = (args: string[], extra: Record<string, string> = {}) => runCli([...args, '--config', env.cfg.configPath], { env: extra });

  it('shows a 550 as failed in the outbox listing and on the case, and retries it on request', async () => {
    const caseId = await insertCase(env);
    const q = await writeTx(env.opened.db, (tx) =>
      queueMail(
        tx,
        replyInput(env, caseId, {
          to: [{ address: 'gone@example.org' }],
          vars: { reply: { text: 'Hello.' } },
          author: 'sam',
        }),
      ),
    );
    expect((await cli(['outbox', 'drain'])).code).toBe(0);
    expect((await cli(['outbox', 'drain'], { MAILWARDEN_CLOCK_OFFSET: '+2d' })).code).toBe(0);
    expect(sink.attempts).toBe(1);

    const failed = await cliJson(['outbox', '--state', 'failed', '--config', env.cfg.configPath]);
    expect(failed).toEqual([
      expect.objectContaining({
        id: q.outboxId,
        state: 'failed',
        kind: 'reply',
        case: caseId,
        to: ['gone@example.org'],
        message_id: q.messageId,
        attempts: 1,
        last_error: expect.stringContaining('550 5.1.1 Mailbox unavailable'),
      }),
    ]);
    const text = await cli(['outbox']);
    expect(text.stdout).toContain('1 failed');
    expect(text.stdout).toContain('550 5.1.1 Mailbox unavailable');

    const shown = await cliJson(['show', caseId, '--config', env.cfg.configPath]);
    const message = shown.messages.find((m: { message_id: string }) => m.message_id === q.messageId);
    expect(message.state).toBe('failed');
    expect(shown.history.some((h: { field?: string; to: string; kind?: string }) => h.to === 'failed')).toBe(true);

    const forbidden = await cli(['outbox', 'retry', String(q.outboxId), '--as', 'cody']);
    expect(forbidden.code).toBe(64);
    expect(forbidden.stderr).toMatch(/may not retry/);

    refuse = false;
    const retried = await cli(['outbox', 'retry', String(q.outboxId), '--as', 'sam']);
    expect(retried.code, retried.stderr).toBe(0);
    expect((await cli(['outbox', 'drain'])).code).toBe(0);
    expect(sink.byMessageId().get(q.messageId)).toBe(1);
    const after = await cliJson(['outbox', '--case', caseId, '--config', env.cfg.configPath]);
    expect(after[0]).toMatchObject({ state: 'sent', attempts: 1 });

    const again = await cli(['outbox', 'retry', String(q.outboxId), '--as', 'sam']);
    expect(again.code).toBe(64);
    expect(again.stderr).toMatch(/is sent: it was sent at .*retrying would send it twice/);
  });

  it('rejects an unknown state filter with a usage error', async () => {
    const r = await cli(['outbox', '--state', 'lost']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/Unknown outbox state "lost"/);
  });
});
