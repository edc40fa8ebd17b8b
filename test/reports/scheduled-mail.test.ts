// The scheduled report as its recipients get it (SPEC §6 `reports:`): the real daemon, the real
// outbox drainer and an SMTP sink. A report every three seconds arrives once per slot and
// recipient, as an HTML mail with the table as text and the CSV attached; a daily report whose
// slot passed while no daemon ran arrives once when the daemon starts; a restart sends no slot a
// second time; a report added by SIGHUP is scheduled without a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../support/cli';
import { rewriteTestConfig, writeTestConfig, type TestConfig } from '../support/config';
import { startSmtpSink, type RecordedMail, type SmtpSink } from '../support/smtp-sink';
import { removeTempDir } from '../support/tmp';
import { StopWaiting } from '../support/wait';
import { openDb } from '../ingest/helpers';

const PULSE = { id: 'pulse', period: 'today', by: 'consultant', recipients: ['sam', 'boss@example.org'], schedule: '*/3 * * * * *' };
// Midnight UTC: when the daemon starts, today's slot has passed with no daemon running.
const NIGHTLY = { id: 'nightly', period: 'yesterday', by: 'pool', recipients: ['cody'], schedule: '0 0 * * *' };

interface ReportMail {
  report: string;
  to: string;
  slot: string;
  mail: RecordedMail;
}

function reportMails(messages: RecordedMail[]): ReportMail[] {
  return messages
    .filter((m) => /^Report /.test(m.parsed.subject ?? ''))
    .map((m) => ({
      report: /^Report ([a-z0-9_-]+):/.exec(m.parsed.subject ?? '')![1]!,
      to: m.envelope.to.join(','),
      slot: /Scheduled for .* \((\S+)\)\./.exec(m.parsed.text ?? '')?.[1] ?? '?',
      mail: m,
    }));
}

/** Ends a wait at once when the daemon could not send a report: waiting longer cannot help. */
function noFailure(daemon: Daemon | undefined): true {
  const failed = daemon?.logs.find((l) => l.event === 'report.failed');
  if (failed) throw new StopWaiting(`report ${failed.report} failed: ${failed.err}`);
  return true;
}

/** (report, recipient, slot) seen more than once: must stay empty. */
function duplicates(mails: ReportMail[]): string[] {
  const seen = new Map<string, number>();
  for (const m of mails) seen.set(`${m.report} ${m.to} ${m.slot}`, (seen.get(`${m.report} ${m.to} ${m.slot}`) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
}

describe('scheduled report mail', () => {
  let sink: SmtpSink;
  let cfg: TestConfig;
  let daemon: Daemon | undefined;

  beforeAll(async () => {
    sink = await startSmtpSink();
    cfg = await writeTestConfig({ smtp: { host: sink.host, port: sink.port }, overrides: { reports: [PULSE, NIGHTLY] } });
    daemon = await startDaemon(cfg.configPath);
  });
  afterAll(async () => {
    await daemon?.stop();
    await sink?.stop();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('mails a report every slot, once per recipient: HTML report, the table as text, the CSV attached', async () => {
    await sink.waitFor(
      (ms) =>
        new Set(
          reportMails(ms)
            .filter((m) => m.report === 'pulse')
            .map((m) => m.slot),
        ).size >= 3,
      30_000,
      'three slots of the pulse report',
    );
    const pulse = reportMails(sink.messages).filter((m) => m.report === 'pulse');
    expect(duplicates(pulse)).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    for (const { mail, slot } of pulse) {
      expect(mail.parsed.subject).toBe(`Report pulse: ${today} – ${today}`);
      expect(new Date(slot).getUTCSeconds() % 3).toBe(0);
      expect(mail.parsed.from?.value[0]?.address).toBe('alice@example.test');
      expect(mail.parsed.html || '').toMatch(/<html/i);
      expect(mail.parsed.html || '').toContain('E-mails received');
      expect(mail.parsed.text).toContain('Report pulse of Test Desk');
      expect(mail.parsed.attachments.map((a) => [a.filename, a.contentType])).toEqual([[`report-pulse-${today}-${today}.csv`, 'text/csv']]);
      expect(mail.parsed.attachments[0]!.content.toString('utf8').split(/\r?\n/)[0]).toMatch(/^consultant,.*emails_received/);
    }
    // Every slot went to both recipients (the newest may still be on its way to the second).
    const slots = [...new Set(pulse.map((m) => m.slot))].sort().slice(0, -1);
    for (const slot of slots)
      expect(
        pulse
          .filter((m) => m.slot === slot)
          .map((m) => m.to)
          .sort(),
      ).toEqual(['boss@example.org', 'sam@staff.test']);
  });

  it('sends the slot missed before the daemon started once, and no slot again after a restart', async () => {
    const midnight = `${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`;
    await sink.waitFor((ms) => noFailure(daemon) && reportMails(ms).some((m) => m.report === 'nightly'), 30_000, 'the missed nightly report');
    const before = reportMails(sink.messages);
    expect(before.filter((m) => m.report === 'nightly').map((m) => [m.to, m.slot])).toEqual([['cody@staff.test', midnight]]);

    await daemon!.stop();
    daemon = await startDaemon(cfg.configPath);
    // The new daemon looked at the nightly slot and found it sent; the pulse goes on with new slots.
    await daemon.waitForLog((l) => l.event === 'report.already_sent' && l.report === 'nightly', 'the restarted daemon to find the nightly slot sent', 20_000);
    const lastBefore = before
      .filter((m) => m.report === 'pulse')
      .map((m) => m.slot)
      .sort()
      .at(-1)!;
    await sink.waitFor(
      (ms) => noFailure(daemon) && reportMails(ms).some((m) => m.report === 'pulse' && m.slot > lastBefore),
      30_000,
      'a pulse slot after the restart',
    );

    await daemon.stop();
    daemon = undefined;
    const after = reportMails(sink.messages);
    expect(duplicates(after)).toEqual([]);
    expect(after.filter((m) => m.report === 'nightly')).toHaveLength(1);
    // What the database says was sent is what arrived, each mail once.
    const db = await openDb(cfg);
    try {
      const sent = await db.db.selectFrom('outbox').select('message_id').where('kind', '=', 'report').where('state', '=', 'sent').execute();
      const arrived = sink.byMessageId();
      for (const { message_id } of sent) expect(arrived.get(message_id)).toBe(1);
      const runs = await db.db.selectFrom('report_runs').select(['report_id', 'slot', 'outbox_ids']).execute();
      expect(runs.filter((r) => r.report_id === 'nightly').map((r) => r.slot)).toEqual([midnight]);
      for (const r of runs) expect(JSON.parse(r.outbox_ids)).toHaveLength(r.report_id === 'pulse' ? 2 : 1);
    } finally {
      await db.close();
    }
  });

  it('schedules a report added to the config on SIGHUP, without a restart', async () => {
    await daemon?.stop();
    daemon = await startDaemon(cfg.configPath);
    rewriteTestConfig(cfg, (doc) => doc.reports.push({ id: 'added', period: 'last_7_days', recipients: ['tina'], schedule: '*/2 * * * * *' }));
    daemon.signal('SIGHUP');
    await daemon.waitForLog((l) => l.event === 'config.reloaded', 'the reload');
    await sink.waitFor((ms) => noFailure(daemon) && reportMails(ms).some((m) => m.report === 'added'), 20_000, 'the added report');
    const added = reportMails(sink.messages).filter((m) => m.report === 'added');
    expect(added[0]!.to).toBe('tina@staff.test');
    expect(duplicates(reportMails(sink.messages))).toEqual([]);
  });
});
