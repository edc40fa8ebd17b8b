// Deadlines in working time (SPEC §5C), counted by src/calendar.ts on calendars read through the
// real config loader: the Friday-to-Monday example, a holiday, starts outside the hours, split
// days, both DST changes of Europe/Warsaw, what `d` means with a calendar, a calendar that never
// opens; and `config check` refusing every broken calendar and reference in one pass.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { deadlineAfter } from '../../src/calendar';
import { formatIssue, loadConfig, requireConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { MailwardenError } from '../../src/errors';
import { writeTestConfig } from '../support/config';
import { makeTempDir, removeTempDir } from '../support/tmp';

const H = 3_600_000;
const D = 24 * H;
const WEEKDAYS_9_TO_5 = { mon: ['09:00-17:00'], tue: ['09:00-17:00'], wed: ['09:00-17:00'], thu: ['09:00-17:00'], fri: ['09:00-17:00'] };

/** Every Monday from `from` for `weeks` weeks, as holidays. */
function mondays(from: string, weeks: number): string[] {
  const first = Date.parse(`${from}T00:00:00Z`);
  return Array.from({ length: weeks }, (_, i) => new Date(first + i * 7 * D).toISOString().slice(0, 10));
}

const CALENDARS = [
  // 2025-04-21 is Easter Monday, a public holiday in Poland.
  { id: 'office', timezone: 'Europe/Warsaw', hours: WEEKDAYS_9_TO_5, holidays: ['2025-04-21'] },
  {
    id: 'lunch',
    timezone: 'Europe/Warsaw',
    hours: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, ['13:00-17:00', '09:00-12:00']])),
  },
  { id: 'short-friday', timezone: 'Europe/Warsaw', hours: { ...WEEKDAYS_9_TO_5, fri: ['09:00-13:00'] } },
  {
    id: 'always',
    timezone: 'Europe/Warsaw',
    hours: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, ['00:00-24:00']])),
  },
  // Open on Mondays only, and every Monday of two years is a holiday.
  { id: 'never', timezone: 'Europe/Warsaw', hours: { mon: ['09:00-17:00'] }, holidays: mondays('2025-01-06', 105) },
];

let dir: string;
let config: Config;
const due = (calendar: string | undefined, start: string, ms: number) => deadlineAfter(config, calendar, start, ms);

beforeAll(async () => {
  dir = await makeTempDir('mw-calendar-');
  const cfg = await writeTestConfig({ dir, overrides: { calendars: CALENDARS } });
  config = requireConfig(cfg.configPath, {});
});
afterAll(async () => {
  if (dir) await removeTempDir(dir);
});

describe('deadlines in working time', () => {
  it('counts 8h from Friday 15:00 to Monday 15:00, and to Tuesday when Monday is a holiday', () => {
    // 2025-03-14 is a Friday; Warsaw is UTC+1 in March (before the DST change).
    expect(due('office', '2025-03-14T14:00:00.000Z', 8 * H)).toBe('2025-03-17T14:00:00.000Z');
    // 2025-04-18 is the Friday before Easter Monday; Warsaw is UTC+2.
    expect(due('office', '2025-04-18T13:00:00.000Z', 8 * H)).toBe('2025-04-22T13:00:00.000Z');
  });

  it('ends at the closing time itself when the hours run out exactly, not at the next opening', () => {
    expect(due('office', '2025-03-14T08:00:00.000Z', 8 * H)).toBe('2025-03-14T16:00:00.000Z'); // Fri 09:00 + 8h = Fri 17:00
  });

  it('counts a start on Saturday or before the opening from the next opening', () => {
    expect(due('office', '2025-03-15T09:00:00.000Z', 8 * H)).toBe('2025-03-17T16:00:00.000Z'); // Sat 10:00 -> Mon 17:00
    expect(due('office', '2025-03-15T09:00:00.000Z', 4 * H)).toBe('2025-03-17T12:00:00.000Z'); // Sat 10:00 -> Mon 13:00
    expect(due('office', '2025-03-18T06:30:00.000Z', 2 * H)).toBe('2025-03-18T10:00:00.000Z'); // Tue 07:30 -> Tue 11:00
    expect(due('office', '2025-03-18T19:00:00.000Z', 30 * 60_000)).toBe('2025-03-19T08:30:00.000Z'); // Tue 20:00 -> Wed 09:30
  });

  it('skips the gap between the ranges of a split day', () => {
    expect(due('lunch', '2025-03-17T10:00:00.000Z', 2 * H)).toBe('2025-03-17T13:00:00.000Z'); // Mon 11:00 -> 14:00
    expect(due('lunch', '2025-03-17T11:30:00.000Z', 30 * 60_000)).toBe('2025-03-17T12:30:00.000Z'); // 12:30 (lunch) -> 13:30
    expect(due('lunch', '2025-03-17T10:00:00.000Z', H)).toBe('2025-03-17T11:00:00.000Z'); // 11:00 + 1h = 12:00, not 13:00
    expect(due('lunch', '2025-03-17T15:00:00.000Z', 3 * H)).toBe('2025-03-18T10:00:00.000Z'); // Mon 16:00 -> Tue 11:00
  });

  it('keeps local hours across the DST changes (Europe/Warsaw, 2025-03-30 and 2025-10-26)', () => {
    // Friday 15:00 CET + 8h = Monday 15:00 CEST: 71 hours later, not 72.
    expect(due('office', '2025-03-28T14:00:00.000Z', 8 * H)).toBe('2025-03-31T13:00:00.000Z');
    // Friday 15:00 CEST + 8h = Monday 15:00 CET: 73 hours later.
    expect(due('office', '2025-10-24T13:00:00.000Z', 8 * H)).toBe('2025-10-27T14:00:00.000Z');
    // Working time is elapsed time: the night of the spring change has 23 hours, so 8h from
    // Sunday 00:00 CET ends at 09:00 CEST.
    expect(due('always', '2025-03-29T23:00:00.000Z', 8 * H)).toBe('2025-03-30T07:00:00.000Z');
    // And a working day across the change is the same local time the next day.
    expect(due('always', '2025-03-29T23:00:00.000Z', D)).toBe('2025-03-30T22:00:00.000Z');
  });

  it('counts a whole number of days as working days at the same local time', () => {
    expect(due('office', '2025-03-18T10:00:00.000Z', 2 * D)).toBe('2025-03-20T10:00:00.000Z'); // Tue 11:00 -> Thu 11:00
    expect(due('office', '2025-03-14T14:00:00.000Z', D)).toBe('2025-03-17T14:00:00.000Z'); // Fri 15:00 -> Mon 15:00
    expect(due('office', '2025-04-18T13:00:00.000Z', D)).toBe('2025-04-22T13:00:00.000Z'); // ... Tue over Easter Monday
    expect(due('office', '2025-03-15T09:00:00.000Z', D)).toBe('2025-03-18T08:00:00.000Z'); // Sat 10:00 -> Tue 09:00
    expect(due('office', '2025-03-17T09:00:00.000Z', 7 * D)).toBe('2025-03-26T09:00:00.000Z'); // 1w = 7 working days
    expect(due('office', '2025-03-17T09:00:00.000Z', 48 * H)).toBe('2025-03-19T09:00:00.000Z'); // 48h is 2d
    // A shorter target day ends the deadline at its closing rather than on the next day.
    expect(due('short-friday', '2025-03-13T15:00:00.000Z', D)).toBe('2025-03-14T12:00:00.000Z'); // Thu 16:00 -> Fri 13:00
    // Any other length is working time: 36h = four and a half 8-hour days.
    expect(due('office', '2025-03-17T08:00:00.000Z', 36 * H)).toBe('2025-03-21T12:00:00.000Z'); // Mon 09:00 -> Fri 13:00
  });

  it('counts wall-clock time without a calendar', () => {
    expect(due(undefined, '2025-03-14T14:00:00.000Z', 8 * H)).toBe('2025-03-14T22:00:00.000Z');
    expect(due(undefined, '2025-03-14T14:00:00.000Z', 2 * D)).toBe('2025-03-16T14:00:00.000Z');
  });

  it('refuses a calendar that never opens, and one that does not exist, with a clear error', () => {
    const never = () => due('never', '2025-01-01T10:00:00.000Z', 8 * H);
    expect(never).toThrow(MailwardenError);
    expect(never).toThrow('Calendar "never" has no working time in the 366 days after 2025-01-01, so no deadline can be counted in it');
    expect(() => due('never', '2025-01-01T10:00:00.000Z', 2 * D)).toThrow('Calendar "never" has no working time');
    try {
      due('nowhere', '2025-01-01T10:00:00.000Z', H);
      expect.unreachable();
    } catch (err) {
      expect((err as MailwardenError).code).toBe('ECALENDAR');
      expect((err as Error).message).toBe('There is no calendar "nowhere" (known: office, lunch, short-friday, always, never).');
    }
  });
});

describe('config check of calendars', () => {
  it('lists every broken calendar, range, holiday and reference in one pass', async () => {
    const cfg = await writeTestConfig({ dir: `${dir}/check` });
    cfg.doc.calendars = [
      { id: 'bad-zone', timezone: 'Europe/Warsw', hours: { mon: ['09:00-17:00'] } },
      { id: 'bad-ranges', timezone: 'UTC', hours: { mon: ['9-17'], tue: ['17:00-09:00'], wed: ['09:00-25:00'] } },
      { id: 'overlap', timezone: 'UTC', hours: { mon: ['09:00-13:00', '12:00-17:00'], tue: ['09:00-12:00', '12:00-17:00'] } },
      { id: 'closed', timezone: 'UTC', hours: {} },
      { id: 'holidays', timezone: 'UTC', hours: { fri: ['09:00-17:00'] }, holidays: ['2025-02-30', '24.12.2025', '2025-12-24'] },
      { id: 'holidays', timezone: 'UTC', hours: { fri: ['09:00-17:00'] } },
    ];
    cfg.doc.pools[0].calendar = 'office';
    cfg.doc.pools[0].notify_overdue = ['sam', 'nobody', 'risk@staff.test', 'risk@', 'Alice@example.test'];
    cfg.doc.departments[0].calendar = 'weekdays';
    fs.writeFileSync(cfg.configPath, YAML.stringify(cfg.doc));
    const { issues } = loadConfig(cfg.configPath, {});
    expect(issues.map(formatIssue).sort()).toEqual(
      [
        'calendars[0].timezone: "Europe/Warsw" is not an IANA time zone (e.g. Europe/Warsaw, UTC)',
        'calendars[1].hours.mon[0]: must be a range like 09:00-17:00 with the start before the end (got "9-17")',
        'calendars[1].hours.tue[0]: must be a range like 09:00-17:00 with the start before the end (got "17:00-09:00")',
        'calendars[1].hours.wed[0]: must be a range like 09:00-17:00 with the start before the end (got "09:00-25:00")',
        'calendars[2].hours.mon: has ranges that overlap (09:00-13:00 and 12:00-17:00 overlap)',
        'calendars[3].hours: names no working hours on any day, so no deadline could ever end',
        'calendars[4].holidays[0]: must be a date like 2026-12-24 (got "2025-02-30")',
        'calendars[4].holidays[1]: must be a date like 2026-12-24 (got "24.12.2025")',
        'calendars[5].id: duplicates calendars[4].id "holidays"',
        'pools[0].calendar: names unknown calendar "office" (known: bad-zone, bad-ranges, overlap, closed, holidays)',
        'pools[0].notify_overdue[1]: names unknown consultant "nobody" (known: sam, cody, tina)',
        'pools[0].notify_overdue[3]: must be a consultant id or an e-mail address (got "risk@")',
        'pools[0].notify_overdue[4]: is a supervised mailbox address (Alice@example.test); notices must go to people',
        'departments[0].calendar: names unknown calendar "weekdays" (known: bad-zone, bad-ranges, overlap, closed, holidays)',
      ].sort(),
    );
  });

  it('reads the calendar of the shipped example config, split Friday included', () => {
    const { config: example, issues } = loadConfig(new URL('../../config/mailwarden.example.yaml', import.meta.url).pathname, {
      MAILWARDEN_SECRET: 'x'.repeat(40),
      CARDS_PL_IMAP_PASSWORD: 'p',
      CARDS_EN_IMAP_PASSWORD: 'p',
      API_IMAP_PASSWORD: 'p',
    });
    expect(issues).toEqual([]);
    const cards = example!.pools.find((p) => p.id === 'cards')!;
    expect(cards.calendar).toBe('warsaw-office');
    expect(cards.notify_overdue).toEqual(['maria', 'cards-lead@acme.example']);
    // Friday 2027-01-15 12:00 CET: one hour before the break, three after it, four on Monday.
    expect(deadlineAfter(example!, cards.calendar, '2027-01-15T11:00:00.000Z', cards.response_deadline)).toBe('2027-01-18T12:00:00.000Z');
    // 2026-12-24 to 26 are holidays: 8h from Wednesday 23 Dec 16:00 ends Monday 28 Dec 16:00.
    expect(deadlineAfter(example!, cards.calendar, '2026-12-23T15:00:00.000Z', cards.response_deadline)).toBe('2026-12-28T15:00:00.000Z');
  });
});
