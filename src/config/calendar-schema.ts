// The `calendars` section (SPEC §5C): working hours per weekday, holidays and a time zone, which a
// pool or department names so its deadline counts working time. Kept beside ./schema.ts rather
// than in it because a calendar has rules of its own (ranges that parse, start before end, no
// overlap, dates that exist, at least one open hour a week), all checked here so `config check`
// lists each broken one at its own path in the same pass as every other problem. The values stay
// as written (`09:00-17:00`); src/calendar.ts reads them with the same parser.
import { documented, list, section, text, timeZone } from './fields.js';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** One range of a day in minutes after midnight: start inclusive, end exclusive (24:00 = 1440). */
export interface MinuteRange {
  start: number;
  end: number;
}

const RANGE_RE = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/;

/** `09:00-17:00` -> { start: 540, end: 1020 }; null when it is not a range of real times with start < end. */
export function parseRange(textRange: string): MinuteRange | null {
  const m = RANGE_RE.exec(textRange.trim());
  if (!m) return null;
  const [h1, m1, h2, m2] = m.slice(1).map(Number) as [number, number, number, number];
  if (h1 > 23 || m1 > 59 || m2 > 59 || h2 > 24 || (h2 === 24 && m2 !== 0)) return null;
  const range = { start: h1 * 60 + m1, end: h2 * 60 + m2 };
  return range.start < range.end ? range : null;
}

/** `2026-12-24` is a real day of the calendar (not 2026-02-30). */
function isCalendarDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === value;
}

const RANGE_DOC = 'a working range, `HH:MM-HH:MM` (end after start; 24:00 ends the day)';
const range = () =>
  documented(
    text(RANGE_DOC).refine((s) => parseRange(s) !== null, {
      error: (iss) => `must be a range like 09:00-17:00 with the start before the end (got ${JSON.stringify(iss.input)})`,
    }),
    { doc: RANGE_DOC, type: 'string' },
  );

const dayHours = (day: Weekday) => list(range(), `working ranges on ${day}; a day left out is closed`).optional();

/** Ranges of one day that overlap: each later range that starts before an earlier one ends. */
function overlaps(ranges: string[]): string[] {
  const parsed = ranges
    .map((r) => ({ text: r, range: parseRange(r) }))
    .filter((r): r is { text: string; range: MinuteRange } => r.range !== null)
    .sort((a, b) => a.range.start - b.range.start);
  const found: string[] = [];
  for (let i = 1; i < parsed.length; i++) {
    const before = parsed[i - 1]!;
    if (parsed[i]!.range.start < before.range.end) found.push(`${before.text} and ${parsed[i]!.text} overlap`);
  }
  return found;
}

const hoursShape = Object.fromEntries(WEEKDAYS.map((d) => [d, dayHours(d)])) as Record<Weekday, ReturnType<typeof dayHours>>;

const HOURS_DOC = 'working hours per weekday (mon … sun), e.g. `mon: [09:00-17:00]`; a day left out is closed';
const hours = () => {
  const schema = section(hoursShape, HOURS_DOC).superRefine((value, ctx) => {
    for (const day of WEEKDAYS) {
      for (const problem of overlaps(value[day] ?? [])) ctx.addIssue({ code: 'custom', path: [day], message: `has ranges that overlap (${problem})` });
    }
    if (WEEKDAYS.every((day) => (value[day] ?? []).length === 0)) {
      ctx.addIssue({ code: 'custom', message: 'names no working hours on any day, so no deadline could ever end' });
    }
  });
  return documented(schema, { doc: HOURS_DOC, type: 'section' });
};

const HOLIDAY_DOC = 'a closed day, `YYYY-MM-DD`';
const holiday = () =>
  documented(
    text(HOLIDAY_DOC).refine(isCalendarDate, {
      error: (iss) => `must be a date like 2026-12-24 (got ${JSON.stringify(iss.input)})`,
    }),
    { doc: HOLIDAY_DOC, type: 'date' },
  );

export const calendar = () =>
  section(
    {
      id: text('unique id, named by `pools[].calendar` and `departments[].calendar`', {
        re: /^[a-z0-9][a-z0-9_-]{0,62}$/,
        says: 'must be lower-case letters, digits, "-" or "_"',
      }),
      timezone: timeZone('IANA time zone the hours and holidays are in'),
      hours: hours(),
      holidays: list(holiday(), "closed days, `YYYY-MM-DD` in the calendar's zone").default([]),
    },
    'one calendar',
  );
