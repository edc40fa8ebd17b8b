// The daemon's scheduler (node-cron, fast schedules from the test config): a postponed case comes
// back at its reminder time and its assignee is told once; an overdue case is notified once, to
// its assignee and the pool's supervisors (SPEC §5C; test/cases/deadlines-mail.test.ts has the
// pool's notify_overdue list and working-time deadlines).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, startDaemon, type Daemon } from '../support/cli';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { removeTempDir } from '../support/tmp';
import { waitFor } from '../support/wait';
import { captureLogger, waitForLogged } from '../support/log';
import { requireConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import type { Opened } from '../../src/db/connection';
import { drainOnce } from '../../src/outbound/drainer';
import { createLogger } from '../../src/log';
import { addMs, nowIso, setClockOffset } from '../../src/clock';
import { createSchedulerService } from '../../src/daemon/schedule';
import type { Service } from '../../src/daemon/service';
import { insertCase, openTestDb } from './fixtures';

describe('scheduler: reminders and overdue notices', () => {
  let sink: SmtpSink;
  let cfg: TestConfig;
  let config: Config;
  let opened: Opened;
  let scheduler: Service | null = null;
  const captured = captureLogger();
  const tick = (job: string) => (l: Record<string, any>) => l.event === 'scheduler.tick' && l.job === job;

  const drain = () => drainOnce({ config, db: opened.db, log: createLogger({ level: 'silent', pretty: false }) });
  // In the order queued: without ORDER BY, PostgreSQL returns rows in no set order (a row the
  // drainer has updated since can come back last).
  const outboxOf = (caseId: string, kind: string) =>
    opened.db.selectFrom('outbox').select(['id', 'message_id', 'to_addresses']).where('case_id', '=', caseId).where('kind', '=', kind).orderBy('id').execute();

  beforeAll(async () => {
    sink = await startSmtpSink();
    cfg = await writeTestConfig({ smtp: { host: sink.host, port: sink.port } });
    config = requireConfig(cfg.configPath);
    opened = await openTestDb(cfg.dataDir);
  });
  afterAll(async () => {
    setClockOffset(0);
    await scheduler?.stop();
    await opened?.close();
    await sink?.stop();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('notifies each overdue case once: the assignee and the supervisors, or only the supervisors of an unassigned case', async () => {
    const tenHoursAgo = addMs(nowIso(), -10 * 3600_000);
    const assigned = await insertCase(opened.db, {
      pool: 'cards',
      status: 'in_progress',
      assignee: 'cody',
      receivedAt: tenHoursAgo,
      subject: 'Assigned and late',
    });
    const unassigned = await insertCase(opened.db, { pool: 'cards', receivedAt: tenHoursAgo, subject: 'Waiting and late' });
    const onTime = await insertCase(opened.db, { pool: 'cards', subject: 'On time' });
    const solvedLate = await insertCase(opened.db, { pool: 'cards', status: 'solved', assignee: 'cody', receivedAt: tenHoursAgo });

    scheduler = createSchedulerService({ config, db: opened.db, log: captured.log });
    await scheduler.start();
    await waitFor(async () => (await outboxOf(assigned.id, 'case_overdue')).length === 2 && (await outboxOf(unassigned.id, 'case_overdue')).length === 1, {
      timeoutMs: 15_000,
      what: 'overdue notices for both late cases',
    });
    await drain();
    const [toAssignee, toSupervisor] = await outboxOf(assigned.id, 'case_overdue');
    const toSupervisors = (await outboxOf(unassigned.id, 'case_overdue'))[0]!;
    expect(JSON.parse(toAssignee!.to_addresses)).toEqual(['cody@staff.test']);
    expect(JSON.parse(toSupervisor!.to_addresses)).toEqual(['sam@staff.test']);
    expect(JSON.parse(toSupervisors.to_addresses)).toEqual(['sam@staff.test']);
    await sink.waitFor(
      (m) => m.some((x) => x.messageId === toAssignee!.message_id) && m.some((x) => x.messageId === toSupervisors.message_id),
      10_000,
      'both overdue notices',
    );
    const mail = sink.messages.find((x) => x.messageId === toAssignee!.message_id)!;
    expect(mail.parsed.subject).toBe(`[${assigned.id}] Case overdue: Assigned and late`);
    expect(mail.parsed.text).toContain('in pool Payment cards');

    // Two more whole ticks of the overdue job: nothing is notified twice.
    await waitForLogged(captured.lines, captured.lines.length, tick('overdue'), 2, 'two more overdue ticks');
    expect(await outboxOf(assigned.id, 'case_overdue')).toHaveLength(2);
    expect(await outboxOf(unassigned.id, 'case_overdue')).toHaveLength(1);
    expect(await outboxOf(onTime.id, 'case_overdue')).toHaveLength(0);
    expect(await outboxOf(solvedLate.id, 'case_overdue')).toHaveLength(0);
    const listed = await cliJson(['cases', '--overdue'], { env: { MAILWARDEN_CONFIG: cfg.configPath } });
    expect(listed.map((c: any) => c.id).sort()).toEqual([assigned.id, unassigned.id].sort());
  });

  it('wakes a postponed case at its reminder time and tells the assignee once', async () => {
    const c = await insertCase(opened.db, { pool: 'general', status: 'in_progress', assignee: 'cody', subject: 'Call back later' });
    const remindAt = addMs(nowIso(), 3600_000);
    await cliJson(['reply', c.id, '--as', 'cody', '-m', 'We will get back to you.', '--status', 'postponed', '--remind-at', remindAt], {
      env: { MAILWARDEN_CONFIG: cfg.configPath },
    });
    const row = () => opened.db.selectFrom('cases').selectAll().where('id', '=', c.id).executeTakeFirstOrThrow();
    expect((await row()).status).toBe('postponed');
    expect(await outboxOf(c.id, 'reminder')).toHaveLength(0);

    // The scheduler runs in this process: move its clock past the reminder time.
    setClockOffset(2 * 3600_000);
    await waitFor(async () => (await row()).status === 'in_progress', { timeoutMs: 15_000, what: 'the postponed case to come back' });
    expect((await row()).remind_at).toBeNull();
    await drain();
    const [reminder] = await outboxOf(c.id, 'reminder');
    expect(JSON.parse(reminder!.to_addresses)).toEqual(['cody@staff.test']);
    await sink.waitFor((m) => m.some((x) => x.messageId === reminder!.message_id), 10_000, 'the reminder mail');
    const mail = sink.messages.find((x) => x.messageId === reminder!.message_id)!;
    expect(mail.parsed.subject).toBe(`[${c.id}] Reminder: Call back later`);
    expect(mail.parsed.text).toContain(`you postponed case ${c.id}`);

    // Two more whole ticks of the reminder job: the reminder is not sent again.
    await waitForLogged(captured.lines, captured.lines.length, tick('reminders'), 2, 'two more reminder ticks');
    expect(await outboxOf(c.id, 'reminder')).toHaveLength(1);
    const events = await opened.db
      .selectFrom('case_events')
      .select(['actor', 'kind', 'field', 'from_value', 'to_value'])
      .where('case_id', '=', c.id)
      .where('actor', '=', 'daemon')
      .execute();
    expect(events).toEqual([
      { actor: 'daemon', kind: 'change', field: 'status', from_value: 'postponed', to_value: 'in_progress' },
      { actor: 'daemon', kind: 'change', field: 'remind_at', from_value: remindAt, to_value: null },
      { actor: 'daemon', kind: 'reminder', field: null, from_value: null, to_value: 'cody' },
    ]);
  });
});

describe('scheduler inside `mailwarden run`', () => {
  let sink: SmtpSink;
  let cfg: TestConfig;
  let opened: Opened;
  let daemon: Daemon | null = null;

  beforeAll(async () => {
    sink = await startSmtpSink();
    cfg = await writeTestConfig({ smtp: { host: sink.host, port: sink.port } });
    opened = await openTestDb(cfg.dataDir);
  });
  afterAll(async () => {
    await daemon?.stop();
    await opened?.close();
    await sink?.stop();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('wakes a postponed case when its time comes and mails the reminder once', async () => {
    const c = await insertCase(opened.db, { pool: 'general', status: 'in_progress', assignee: 'sam', subject: 'Daemon reminder' });
    const env = { MAILWARDEN_CONFIG: cfg.configPath };
    await cliJson(['reply', c.id, '--as', 'sam', '-m', 'Later.', '--status', 'postponed', '--remind-at', addMs(nowIso(), 3600_000)], { env });
    // The daemon lives two hours ahead, so the reminder is due for it.
    daemon = await startDaemon(cfg.configPath, { env: { MAILWARDEN_CLOCK_OFFSET: '+2h' } });
    await sink.waitFor(
      (m) => m.some((x) => x.envelope.to.includes('sam@staff.test') && x.parsed.subject === `[${c.id}] Reminder: Daemon reminder`),
      20_000,
      'the reminder from the daemon',
    );
    const status = await opened.db.selectFrom('cases').select('status').where('id', '=', c.id).executeTakeFirstOrThrow();
    expect(status.status).toBe('in_progress');
    const since = daemon.logs.length;
    await waitForLogged(daemon.logs, since, (l) => l.event === 'scheduler.tick' && l.job === 'reminders', 2, 'two more reminder ticks in the daemon');
    expect(sink.messages.filter((x) => x.parsed.subject === `[${c.id}] Reminder: Daemon reminder`)).toHaveLength(1);
  });
});
