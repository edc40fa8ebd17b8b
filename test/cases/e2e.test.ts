// A customer's mail goes in through ingest's pipeline, a consultant takes it with `next`, replies
// with a snippet, the SMTP sink receives the reply threaded, and the customer's answer to it
// threads back onto the same case.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson } from '../support/cli';
import { buildMail } from '../support/imap';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { removeTempDir } from '../support/tmp';
import { requireConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import type { Opened } from '../../src/db/connection';
import { drainOnce } from '../../src/outbound/drainer';
import { ingestMessage } from '../../src/ingest/pipeline';
import { ParserPool } from '../../src/ingest/parse';
import { silentLogger } from '../../src/log';
import { openTestDb } from './fixtures';

describe('case work end to end, from ingest to the customer and back', () => {
  let sink: SmtpSink;
  let cfg: TestConfig;
  let config: Config;
  let opened: Opened;
  let parsers: ParserPool;
  let env: Record<string, string>;

  const ingest = (raw: string, queueId: string) =>
    ingestMessage(
      { getConfig: () => config, db: opened.db, log: silentLogger(), parsers },
      { mailbox: config.mailboxes.find((m) => m.id === 'cards')!, source: { kind: 'lmtp', queueId }, bytes: Buffer.from(raw), envelopeFrom: 'ewa@example.org' },
    );

  beforeAll(async () => {
    sink = await startSmtpSink();
    cfg = await writeTestConfig({ smtp: { host: sink.host, port: sink.port } });
    config = requireConfig(cfg.configPath);
    opened = await openTestDb(cfg.dataDir);
    parsers = new ParserPool({ size: 1 });
    env = { MAILWARDEN_CONFIG: cfg.configPath };
  });
  afterAll(async () => {
    await parsers?.close();
    await opened?.close();
    await sink?.stop();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('ingests, takes, replies threaded, and threads the answer back', async () => {
    const first = buildMail({
      from: 'Ewa Nowak <ewa@example.org>',
      to: 'bob@example.test',
      subject: 'Zablokowana karta',
      text: 'Dzień dobry, moja karta została zablokowana. Co mam zrobić? Proszę o pomoc.\n',
      messageId: '<first-ewa@example.org>',
      headers: { 'Content-Language': 'pl' },
    });
    const accepted = await ingest(first, 'q1');
    expect(accepted.outcome).toBe('created');
    const caseId = accepted.caseId!;

    const taken = await cliJson(['next', '--as', 'cody'], { env });
    expect(taken.case).toMatchObject({ id: caseId, status: 'in_progress', assignee: 'cody', language: 'pl', customer: { address: 'ewa@example.org' } });
    expect(taken.messages[0]).toMatchObject({ kind: 'inbound', from: 'ewa@example.org', message_id: '<first-ewa@example.org>' });

    const reply = await cliJson(['reply', caseId, '--as', 'cody', '-m', '#hello #cardblock'], { env });
    await drainOnce({ config, db: opened.db, log: silentLogger() });
    await sink.waitFor((m) => m.some((x) => x.messageId === reply.messageId), 10_000, 'the reply to Ewa');
    const mail = sink.messages.find((x) => x.messageId === reply.messageId)!;
    expect(mail.envelope.to).toEqual(['ewa@example.org']);
    expect(mail.parsed.inReplyTo).toBe('<first-ewa@example.org>');
    expect(mail.parsed.text).toContain('Dzień dobry, Państwa karta została zablokowana.');

    const answer = buildMail({
      from: 'Ewa Nowak <ewa@example.org>',
      to: 'bob@example.test',
      subject: `Re: ${mail.parsed.subject}`,
      text: 'Dziękuję!\n',
      messageId: '<second-ewa@example.org>',
      inReplyTo: reply.messageId,
      references: `<first-ewa@example.org> ${reply.messageId}`,
    });
    const threaded = await ingest(answer, 'q2');
    expect(threaded).toMatchObject({ outcome: 'threaded', caseId });
    const shown = await cliJson(['show', caseId], { env });
    expect(shown.messages.map((m: any) => m.kind).filter((k: string) => k !== 'auto_response' && k !== 'notification')).toEqual([
      'inbound',
      'outbound',
      'inbound',
    ]);
  });
});
