// The parts of the scheduled report mail that need no daemon (SPEC §6 `reports:`, §10): the
// config section checked in one pass, the periods counted back from a slot in the instance time
// zone, which slot a tick or a starting daemon sends, and the claim of a slot on a real SQLite file
// from two connections at once (as two daemons would), including a claim rolled back by a crash.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { formatIssue, loadConfig } from '../../src/config/load';
import { writeTx } from '../../src/db/connection';
import { openTestDatabase } from '../support/backend';
import { relativePeriod } from '../../src/reports/relative-periods';
import { latestSlot, missedSlot } from '../../src/reports/slots';
import { claimReportRun } from '../../src/reports/scheduled';
import { writeTestConfig } from '../support/config';
import { makeTempDir, removeTempDir } from '../support/tmp';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeTempDir(d);
});

const REPORT = { id: 'daily', period: 'yesterday', recipients: ['sam'], schedule: '0 7 * * *' };

async function configLines(reports: unknown[]): Promise<string[]> {
  const dir = await makeTempDir('mw-rptcfg-');
  dirs.push(dir);
  const cfg = await writeTestConfig({ dir });
  cfg.doc.reports = reports;
  fs.writeFileSync(cfg.configPath, YAML.stringify(cfg.doc));
  return loadConfig(cfg.configPath, {}).issues.map(formatIssue);
}

describe('the reports: section', () => {
  it('accepts a report and fills in the grouping', async () => {
    const dir = await makeTempDir('mw-rptcfg-');
    dirs.push(dir);
    const cfg = await writeTestConfig({ dir, overrides: { reports: [REPORT] } });
    const { config, issues } = loadConfig(cfg.configPath, {});
    expect(issues).toEqual([]);
    expect(config!.reports).toEqual([{ ...REPORT, by: 'consultant' }]);
  });

  it('lists every problem of every report in one pass', async () => {
    const lines = await configLines([
      { ...REPORT, pool: 'nope', consultant: 'ghost', schedule: '61 * * * *' },
      { ...REPORT, period: 'last_fortnight', recipients: [] },
      { ...REPORT, recipients: ['sam', 'nobody', 'not an@address', 'alice@example.test', 'boss@example.org'], by: 'team' },
    ]);
    expect(lines.sort()).toEqual(
      [
        'reports[0].schedule: is not a valid cron expression (got "61 * * * *")',
        'reports[0].pool: names unknown pool "nope" (known: general, cards)',
        'reports[0].consultant: names unknown consultant "ghost" (known: sam, cody, tina)',
        'reports[1].period: must be one of yesterday, today, last_7_days, last_week, last_month, month_to_date (got "last_fortnight")',
        'reports[1].recipients: must name at least one recipient',
        'reports[1].id: duplicates reports[0].id "daily"',
        'reports[2].id: duplicates reports[0].id "daily"',
        'reports[2].by: must be one of consultant, pool (got "team")',
        'reports[2].recipients[1]: names unknown consultant "nobody" (known: sam, cody, tina)',
        'reports[2].recipients[2]: must be a consultant id or an e-mail address (got "not an@address")',
        'reports[2].recipients[3]: is a supervised mailbox address (alice@example.test); reports must go to people',
      ].sort(),
    );
  });
});

describe('periods, counted back from the slot in the instance time zone', () => {
  // Wednesday 2 December 2026, 07:00 in Warsaw (CET, UTC+1).
  const slot = new Date('2026-12-02T06:00:00Z');
  it.each([
    ['yesterday', '2026-12-01', '2026-12-01'],
    ['today', '2026-12-02', '2026-12-02'],
    ['last_7_days', '2026-11-25', '2026-12-01'],
    ['last_week', '2026-11-23', '2026-11-29'],
    ['last_month', '2026-11-01', '2026-11-30'],
    ['month_to_date', '2026-12-01', '2026-12-02'],
  ] as const)('%s', (period, from, to) => {
    expect(relativePeriod(period, slot, 'Europe/Warsaw')).toEqual({ from, to });
  });

  it('takes the local date, not the UTC one', () => {
    // 23:30 UTC on 31 December is already 1 January in Warsaw.
    const slot = new Date('2026-12-31T23:30:00Z');
    expect(relativePeriod('yesterday', slot, 'Europe/Warsaw')).toEqual({ from: '2026-12-31', to: '2026-12-31' });
    expect(relativePeriod('last_month', slot, 'Europe/Warsaw')).toEqual({ from: '2026-12-01', to: '2026-12-31' });
    expect(relativePeriod('yesterday', slot, 'UTC')).toEqual({ from: '2026-12-30', to: '2026-12-30' });
  });
});

describe('slots', () => {
  it('finds the latest slot at or before a moment, in the zone', () => {
    const weekdays = '0 7 * * 1-5';
    expect(latestSlot(weekdays, 'Europe/Warsaw', new Date('2026-12-02T08:00:00Z'))).toEqual(new Date('2026-12-02T06:00:00Z'));
    expect(latestSlot(weekdays, 'Europe/Warsaw', new Date('2026-12-02T06:00:00Z'))).toEqual(new Date('2026-12-02T06:00:00Z'));
    expect(latestSlot(weekdays, 'Europe/Warsaw', new Date('2026-12-02T05:59:59Z'))).toEqual(new Date('2026-12-01T06:00:00Z'));
    // Monday before seven: Friday's.
    expect(latestSlot(weekdays, 'Europe/Warsaw', new Date('2026-12-07T05:00:00Z'))).toEqual(new Date('2026-12-04T06:00:00Z'));
    expect(latestSlot('*/3 * * * * *', 'UTC', new Date('2026-12-02T10:00:04.500Z'))).toEqual(new Date('2026-12-02T10:00:03Z'));
    expect(latestSlot('0 0 1 1 *', 'UTC', new Date('2026-12-02T10:00:00Z'))).toEqual(new Date('2026-01-01T00:00:00Z'));
  });

  it('skips a local time that a DST change leaves out', () => {
    // 28 March 2027: Warsaw jumps from 02:00 to 03:00, so 02:30 does not happen that day.
    expect(latestSlot('30 2 * * *', 'Europe/Warsaw', new Date('2027-03-28T10:00:00Z'))).toEqual(new Date('2027-03-27T01:30:00Z'));
  });

  it('sends at start only the latest missed slot, and only while it is at most one interval old', () => {
    const daily = '0 7 * * *';
    expect(missedSlot(daily, 'UTC', new Date('2026-12-02T09:00:00Z'))).toEqual(new Date('2026-12-02T07:00:00Z'));
    expect(missedSlot(daily, 'UTC', new Date('2026-12-03T06:59:00Z'))).toEqual(new Date('2026-12-02T07:00:00Z'));
    // Weekdays only: on Monday morning Friday's report is 71 hours old, more than the day before it.
    expect(missedSlot('0 7 * * 1-5', 'UTC', new Date('2026-12-07T06:00:00Z'))).toBeNull();
    // Monday's, missed by a daemon down from 06:00 to 09:00, is sent.
    expect(missedSlot('0 7 * * 1-5', 'UTC', new Date('2026-12-07T09:00:00Z'))).toEqual(new Date('2026-12-07T07:00:00Z'));
  });
});

describe('claiming a slot', () => {
  async function twoConnections() {
    const dir = await makeTempDir('mw-rptclaim-');
    dirs.push(dir);
    const a = await openTestDatabase(dir, { busyTimeoutMs: 0, lockWaitMs: 10_000 });
    // In one process a sleeping busy timeout would block the other connection's commit: writeTx waits on the event loop instead.
    const b = await openTestDatabase(dir, { busyTimeoutMs: 0, lockWaitMs: 10_000 });
    return { a, b, close: () => Promise.all([a.close(), b.close()]) };
  }
  const period = { from: '2026-12-01', to: '2026-12-01' };

  it('gives a slot to exactly one of two connections claiming it at once', async () => {
    const { a, b, close } = await twoConnections();
    try {
      for (let i = 0; i < 20; i++) {
        const slot = new Date(Date.UTC(2026, 11, 2, 7, 0, i)).toISOString();
        const won = await Promise.all([a, b].map((o) => writeTx(o.db, (tx) => claimReportRun(tx, 'daily', slot, period))));
        expect(won.filter(Boolean)).toHaveLength(1);
      }
      const rows = await a.db.selectFrom('report_runs').select(['report_id', 'slot']).execute();
      expect(rows).toHaveLength(20);
    } finally {
      await close();
    }
  });

  it('leaves no claim behind when the transaction that queues the mail fails', async () => {
    const { a, b, close } = await twoConnections();
    try {
      const slot = '2026-12-02T07:00:00.000Z';
      await expect(
        writeTx(a.db, async (tx) => {
          expect(await claimReportRun(tx, 'daily', slot, period)).toBe(true);
          throw new Error('crash while queueing');
        }),
      ).rejects.toThrow('crash while queueing');
      // The slot is still free: the other daemon (or this one after a restart) sends it.
      expect(await writeTx(b.db, (tx) => claimReportRun(tx, 'daily', slot, period))).toBe(true);
      expect(await writeTx(a.db, (tx) => claimReportRun(tx, 'daily', slot, period))).toBe(false);
      // Another report's run of the same instant is its own.
      expect(await writeTx(a.db, (tx) => claimReportRun(tx, 'weekly', slot, period))).toBe(true);
    } finally {
      await close();
    }
  });
});
