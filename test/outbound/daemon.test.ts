// End to end with the real daemon (`mailwarden run`), real Dovecot and a relay that delivers by
// LMTP: the auto-response a customer gets, a naive vacation responder that answers everything,
// and two mailwarden instances whose boxes write to each other. Each loop must stop by itself.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { startDovecot, type DovecotInstance } from '../support/dovecot';
import { appendMail, buildMail, withImap } from '../support/imap';
import { writeTestConfig } from '../support/config';
import { cliJson, startDaemon, type Daemon } from '../support/cli';
import { removeTempDir } from '../support/tmp';
import { waitFor } from '../support/wait';
import { waitUntilQuiet } from '../support/quiet';
import { startRelay, type Relay } from './relay';

describe('outbound mail through the running daemon', () => {
  let dovecot: DovecotInstance;
  let relay: Relay;
  const daemons: Daemon[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    dovecot = await startDovecot();
    // Every instance gets boxes nobody used before: a new daemon ingests what is already there.
    for (const u of ['dave', 'erin', 'desk1', 'desk2', 'desk3', 'desk4', 'desk5']) await dovecot.addUser(`${u}@example.test`, 'secret');
    relay = await startRelay(dovecot);
  });
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop();
  });
  afterAll(async () => {
    await relay?.stop();
    await dovecot?.stop();
    for (const d of dirs) await removeTempDir(d);
  });

  async function instance(opts: { prefix: string; box: string; overrides?: Record<string, unknown> }) {
    const cfg = await writeTestConfig({
      prefix: opts.prefix,
      imap: { host: dovecot.host, port: dovecot.port },
      smtp: { host: relay.host, port: relay.port },
      mailboxes: [{ id: `box-${opts.prefix.toLowerCase()}`, address: opts.box, pool: 'general' }],
      ...(opts.overrides ? { overrides: opts.overrides } : {}),
    });
    dirs.push(cfg.dir);
    const daemon = await startDaemon(cfg.configPath);
    daemons.push(daemon);
    return { cfg, daemon, quiet: { cfg, boxes: [{ id: `box-${opts.prefix.toLowerCase()}`, user: opts.box }] } };
  }

  it('answers a customer with the tag, their thread, Auto-Submitted, from the box, over the null sender', async () => {
    const { cfg } = await instance({ prefix: 'AAA', box: 'desk1@example.test' });
    const raw = buildMail({
      from: 'Carol <carol@example.test>',
      to: 'desk1@example.test',
      subject: 'Where is my card?',
      messageId: '<carol-1@example.test>',
      text: 'PRIVATE: card number 4111\n',
    });
    await appendMail(dovecot, 'desk1@example.test', 'INBOX', raw);
    await waitFor(() => relay.log.find((m) => m.to.includes('carol@example.test')), { timeoutMs: 20_000, what: 'the auto-response at the relay' });
    const got = relay.log.find((m) => m.to.includes('carol@example.test'))!;
    const parsed = await simpleParser(got.raw);
    const cases = await cliJson(['cases', '--config', cfg.configPath]);
    expect(cases).toHaveLength(1);
    expect(parsed.subject).toBe(`[${cases[0].id}] We have received your message: Where is my card?`);
    expect(parsed.inReplyTo).toBe('<carol-1@example.test>');
    expect(parsed.headers.get('auto-submitted')).toBe('auto-replied');
    expect(parsed.from?.value[0]?.address).toBe('desk1@example.test');
    expect(got.from).toBe('');
    expect(got.raw.toString()).not.toContain('4111');
    // Delivered into carol's box with the null Return-Path a real MDA writes.
    const inCarol = await withImap(dovecot, 'carol@example.test', async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        return (await c.fetchAll('1:*', { source: true })).map((m) => m.source!.toString());
      } finally {
        lock.release();
      }
    });
    expect(inCarol.some((s) => /^Return-Path: <>/m.test(s) && s.includes(cases[0].id))).toBe(true);
  });

  it('stops a loop with a naive vacation responder after one round (window)', async () => {
    relay.log.length = 0;
    relay.addVacationResponder('dave@example.test');
    const { cfg, quiet } = await instance({ prefix: 'BBB', box: 'desk2@example.test' });
    await appendMail(dovecot, 'desk2@example.test', 'INBOX', buildMail({ from: 'dave@example.test', to: 'desk2@example.test', subject: 'Hello there' }));
    await waitFor(() => relay.log.some((m) => m.vacation), { timeoutMs: 20_000, what: 'the vacation reply' });
    await waitFor(async () => (await cliJson(['cases', '--config', cfg.configPath])).length === 2, { timeoutMs: 20_000, what: 'the vacation reply as a case' });
    await waitUntilQuiet(dovecot, [quiet], 'the desk and the vacation responder');
    expect(relay.log.filter((m) => !m.vacation).map((m) => m.to)).toEqual([['dave@example.test']]);
    expect(relay.log.filter((m) => m.vacation)).toHaveLength(1);
    const outbox = await cliJson(['outbox', '--config', cfg.configPath]);
    expect(outbox.map((o: { kind: string }) => o.kind)).toEqual(['auto_response']);
  });

  it('stops the same loop at the daily cap when the window is off', async () => {
    relay.log.length = 0;
    relay.addVacationResponder('erin@example.test');
    const { cfg, quiet } = await instance({ prefix: 'CCC', box: 'desk3@example.test', overrides: { auto_response: { window: '1ms', daily_cap: 3 } } });
    await appendMail(dovecot, 'desk3@example.test', 'INBOX', buildMail({ from: 'erin@example.test', to: 'desk3@example.test', subject: 'Question' }));
    await waitFor(async () => (await cliJson(['cases', '--config', cfg.configPath])).length === 4, {
      timeoutMs: 40_000,
      what: 'three rounds of auto-response and vacation reply',
    });
    await waitUntilQuiet(dovecot, [quiet], 'the desk and the vacation responder');
    const outbox = await cliJson(['outbox', '--config', cfg.configPath]);
    expect(outbox.filter((o: { kind: string }) => o.kind === 'auto_response')).toHaveLength(3);
    expect(relay.log.filter((m) => m.vacation)).toHaveLength(3);
    expect(await cliJson(['cases', '--config', cfg.configPath])).toHaveLength(4);
  });

  it('two instances whose boxes write to each other exchange one mail and stop', async () => {
    relay.log.length = 0;
    const a = await instance({ prefix: 'DDD', box: 'desk4@example.test', overrides: { auto_response: { window: '1ms', daily_cap: 100 } } });
    const b = await instance({ prefix: 'EEE', box: 'desk5@example.test', overrides: { auto_response: { window: '1ms', daily_cap: 100 } } });
    // Someone writes to A's box from B's address (a colleague using the shared box, say).
    await appendMail(
      dovecot,
      'desk4@example.test',
      'INBOX',
      buildMail({ from: 'desk5@example.test', to: 'desk4@example.test', subject: 'Can you check this?' }),
    );
    await waitFor(async () => (await cliJson(['cases', '--config', b.cfg.configPath])).length === 1, {
      timeoutMs: 20_000,
      what: 'A’s auto-response as a case at B',
    });
    await waitUntilQuiet(dovecot, [a.quiet, b.quiet], 'both instances');
    expect(relay.log).toHaveLength(1);
    const [bCase] = await cliJson(['cases', '--config', b.cfg.configPath]);
    const shown = await cliJson(['show', bCase.id, '--config', b.cfg.configPath]);
    expect(JSON.stringify(shown.history)).toMatch(/suppressed/);
    expect(await cliJson(['outbox', '--config', b.cfg.configPath])).toEqual([]);
    expect(await cliJson(['outbox', '--config', a.cfg.configPath])).toHaveLength(1);
  });
});
