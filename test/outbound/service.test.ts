// The drainer as the daemon runs it: a polling service that sends what other processes queue,
// finishes before stop() resolves, and takes new smtp settings on reload.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTx } from '../../src/db/connection';
import { silentLogger } from '../../src/log';
import { queueMail } from '../../src/outbound/queue';
import { createDrainerService } from '../../src/daemon/drainer';
import { drainOnce } from '../../src/outbound/drainer';
import { SEND_CONCURRENCY } from '../../src/outbound/sender';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { waitFor } from '../support/wait';
import { insertCase, outboundEnv, type OutboundEnv, replyInput } from './helpers';

describe('drainer service', () => {
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

  async function queue(caseId: string) {
    return writeTx(env.opened.db, (tx) => queueMail(tx, replyInput(env, caseId, { vars: { reply: { text: 'Hi.' } } })));
  }

  it('sends rows queued while it runs, switches transport on reload, and stops cleanly', async () => {
    const service = createDrainerService({ config: env.config, db: env.opened.db, log: silentLogger() });
    await service.start();
    try {
      const caseId = await insertCase(env);
      const first = await queue(caseId);
      await sink.waitFor((m) => m.some((x) => x.messageId === first.messageId), 10_000, 'the first mail');

      const outboxDir = path.join(env.cfg.dir, 'reloaded-outbox');
      await service.reload!({ ...env.config, smtp: { ...env.config.smtp, transport: 'file', outbox_dir: outboxDir } });
      const second = await queue(caseId);
      const file = path.join(outboxDir, `${second.outboxId}-reply.eml`);
      await waitFor(() => fs.existsSync(file), { timeoutMs: 10_000, what: 'the .eml file after reload' });
      expect(fs.readFileSync(file, 'utf8')).toContain(second.messageId);
      expect(sink.byMessageId().has(second.messageId)).toBe(false);
    } finally {
      await service.stop();
    }
    const states = await env.opened.db.selectFrom('outbox').select('state').distinct().execute();
    expect(states).toEqual([{ state: 'sent' }]);
  });

  it('a row claimed after a reload goes out with the new settings, also within one backlog (fails if a drain keeps its first sender)', async () => {
    const caseId = await insertCase(env);
    const rows = [];
    for (let i = 0; i <= SEND_CONCURRENCY; i++) rows.push(await queue(caseId));
    const fileConfig = (dir: string) => ({ ...env.config, smtp: { ...env.config.smtp, transport: 'file' as const, outbox_dir: path.join(env.cfg.dir, dir) } });
    const before = fileConfig('before-reload');
    const after = fileConfig('after-reload');
    let asked = 0;
    // The reload lands after the first claim: the rows claimed then (SEND_CONCURRENCY, sent at
    // once) see the old config, the row claimed next the new one.
    const sent = await drainOnce({ config: before, db: env.opened.db, log: silentLogger() }, { currentConfig: () => (asked++ === 0 ? before : after) });
    expect(sent).toBe(SEND_CONCURRENCY + 1);
    const files = (ids: typeof rows) => ids.map((r) => `${r.outboxId}-reply.eml`).sort();
    expect(fs.readdirSync(before.smtp.outbox_dir).sort()).toEqual(files(rows.slice(0, SEND_CONCURRENCY)));
    expect(fs.readdirSync(after.smtp.outbox_dir)).toEqual(files(rows.slice(SEND_CONCURRENCY)));
  });
});
