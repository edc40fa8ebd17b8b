// The scheduled report job itself, on a real SQLite file, as two daemons would run it (SPEC §6,
// §10): the same slot sent from two connections at once gives one mail per recipient; a slot
// missed while no daemon ran is sent once at start (the latest only, older ones never); and the
// mail queued is the HTML report with the table as text and the CSV attached. Two real processes
// running the job on one file (the compiled code in dist/: run `npx tsc -p tsconfig.json` first)
// split the slots between them without sending any twice.
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { requireConfig } from '../../src/config/load';
import { type Opened } from '../../src/db/connection';
import { openTestDatabase } from '../support/backend';
import { setClockOffset } from '../../src/clock';
import { sendMissedReports, sendReportForSlot } from '../../src/reports/scheduled';
import { REPO_ROOT } from '../support/cli';
import { runOwned } from '../support/processes';
import { bound } from '../support/wait';
import { writeTestConfig } from '../support/config';
import { makeTempDir, removeTempDir } from '../support/tmp';

const dirs: string[] = [];
afterAll(async () => {
  setClockOffset(0);
  for (const d of dirs) await removeTempDir(d);
});
beforeEach(() => setClockOffset(0));

const DAILY = { id: 'daily', period: 'yesterday', by: 'pool', recipients: ['sam', 'boss@example.org'], schedule: '0 7 * * *' };

async function desk() {
  const dir = await makeTempDir('mw-rptsend-');
  dirs.push(dir);
  const cfg = await writeTestConfig({ dir, overrides: { reports: [DAILY] } });
  const config = requireConfig(cfg.configPath, {});
  // Two connections on one file, as two daemons; in one process a sleeping busy timeout would block the other's commit.
  const open = () => openTestDatabase(cfg.dataDir, { busyTimeoutMs: 0, lockWaitMs: 20_000 });
  const a: Opened = await open();
  const b: Opened = await open();
  return { config, configPath: cfg.configPath, a, b, close: () => Promise.all([a.close(), b.close()]) };
}

async function reportOutbox(o: Opened) {
  return o.db.selectFrom('outbox').select(['id', 'to_addresses', 'subject', 'mime', 'from_address']).where('kind', '=', 'report').orderBy('id').execute();
}

describe('the scheduled report job', () => {
  it('sends a slot once when two daemons run it at the same moment, one mail per recipient', async () => {
    const { config, a, b, close } = await desk();
    try {
      const report = config.reports[0]!;
      const slot = new Date('2026-11-30T07:00:00Z');
      const results = await Promise.all([a, b].map((o) => sendReportForSlot(o.db, config, report, slot)));
      expect(results.map((r) => r.sent).sort()).toEqual([false, true]);
      const rows = await reportOutbox(a);
      expect(rows.map((r) => JSON.parse(r.to_addresses))).toEqual([['sam@staff.test'], ['boss@example.org']]);
      expect(rows.every((r) => r.from_address === 'alice@example.test')).toBe(true);
      // Again later (a restart, a third daemon): nothing more.
      expect((await sendReportForSlot(b.db, config, report, slot)).sent).toBe(false);
      expect(await reportOutbox(a)).toHaveLength(2);
      const run = await a.db.selectFrom('report_runs').selectAll().executeTakeFirstOrThrow();
      expect(run).toMatchObject({ report_id: 'daily', slot: '2026-11-30T07:00:00.000Z', period_from: '2026-11-29', period_to: '2026-11-29' });
      expect(JSON.parse(run.outbox_ids)).toEqual(rows.map((r) => r.id));

      const mail = await simpleParser(rows[0]!.mime);
      expect(mail.subject).toBe('Report daily: 2026-11-29 – 2026-11-29');
      expect(mail.html || '').toMatch(/<html/i);
      expect(mail.html || '').toContain('E-mails received');
      expect(mail.text).toContain('Scheduled for 2026-11-30 07:00 UTC');
      expect(mail.attachments.map((x) => [x.filename, x.contentType])).toEqual([['report-daily-2026-11-29-2026-11-29.csv', 'text/csv']]);
      const csv = mail.attachments[0]!.content.toString('utf8');
      expect(csv.split(/\r?\n/)[0]).toMatch(/^pool,.*emails_received/);
    } finally {
      await close();
    }
  });

  it('sends the slot missed while no daemon ran once, at start, and never an older one', async () => {
    const { config, a, b, close } = await desk();
    try {
      // Today 09:00 UTC (the real day, moved to that hour): the 07:00 slot was missed two hours ago.
      const nowMs = Date.now();
      const nine = new Date(nowMs);
      nine.setUTCHours(9, 0, 0, 0);
      setClockOffset(nine.getTime() - nowMs);
      const first = await sendMissedReports(a.db, config);
      const seven = new Date(nine);
      seven.setUTCHours(7);
      expect(first).toEqual([expect.objectContaining({ report: 'daily', slot: seven.toISOString(), sent: true })]);
      // The next start (or another daemon starting) finds it sent.
      const second = await sendMissedReports(b.db, config);
      expect(second).toEqual([expect.objectContaining({ report: 'daily', slot: seven.toISOString(), sent: false })]);
      expect(await reportOutbox(a)).toHaveLength(2);
      // Three days later, nobody having run: only the latest slot, not the three before it.
      setClockOffset(nine.getTime() + 3 * 86_400_000 - Date.now());
      await sendMissedReports(a.db, config);
      const slots = await a.db.selectFrom('report_runs').select('slot').orderBy('slot').execute();
      expect(slots.map((s) => s.slot)).toEqual([seven.toISOString(), new Date(seven.getTime() + 3 * 86_400_000).toISOString()]);
    } finally {
      await close();
    }
  });

  it('two processes sending the same slots at once send each slot once', async () => {
    const { configPath, a, close } = await desk();
    try {
      // The same ten slots, in the same order, from two processes started together.
      const script = `
        const dist = ${JSON.stringify(`${REPO_ROOT}/dist`)};
        const { requireConfig } = await import(dist + '/config/load.js');
        const { openDatabase } = await import(dist + '/db/connection.js');
        const { sendReportForSlot } = await import(dist + '/reports/scheduled.js');
        const config = requireConfig(process.env.MW_TEST_CONFIG, {});
        const { db, close } = await openDatabase({ dataDir: config.instance.data_dir, url: config.database.url, busyTimeoutMs: 0, lockWaitMs: 30000 });
        const out = [];
        for (let i = 0; i < 10; i++) out.push(await sendReportForSlot(db, config, config.reports[0], new Date(Date.UTC(2026, 10, 30, 7, i))));
        await close();
        console.log(JSON.stringify(out));`;
      const run = () =>
        runOwned(process.execPath, ['--input-type=module', '-e', script], {
          cwd: REPO_ROOT,
          env: { ...process.env, MW_TEST_CONFIG: configPath },
          timeoutMs: bound(60_000),
          what: 'a job process',
        });
      const [one, two] = await Promise.all([run(), run()]);
      expect([one.code, one.stderr, two.code, two.stderr]).toEqual([0, '', 0, '']);
      const results = [...JSON.parse(one.stdout), ...JSON.parse(two.stdout)] as Array<{ slot: string; sent: boolean }>;
      const sentSlots = results.filter((r) => r.sent).map((r) => r.slot);
      expect(sentSlots).toHaveLength(10);
      expect(new Set(sentSlots).size).toBe(10);
      expect(await reportOutbox(a)).toHaveLength(20);
    } finally {
      await close();
    }
  });
});
