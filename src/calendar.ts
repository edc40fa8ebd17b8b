// Deadlines in working time (SPEC §5C). A pool or department that names a calendar promises its
// answer the way banks do: `8h` is eight working hours in the calendar's zone, closed days and
// holidays skipped, so 8h from Friday 15:00 with 09:00-17:00 hours ends Monday 15:00 (Tuesday when
// that Monday is a holiday). Without a calendar a deadline is wall-clock time, as before.
//
// What `d` means with a calendar: a duration that is a whole number of days (`2d`, `1w` = 7 days,
// also `48h`, which is the same length) counts working days: the deadline is the same local time
// on the Nth working day after the start, as in "within 2 working days". Any other duration
// (`8h`, `36h`, `1d4h`) counts working time, minute by minute. A working week is `5d`. When the
// target day's hours end earlier than that time of day, the deadline is that day's closing, so a
// shorter day never pushes it onto the next one. A start outside the hours counts from the next
// opening. Zone arithmetic (which instant 09:00 is on a given date, DST days of 23 or 25 hours) is
// luxon's; this file only walks the days. A calendar that never opens (every day a holiday for a
// year) is an error, not an endless loop.
//
// It sits beside ./clock.ts because it is time arithmetic, not a case rule: case and
// consultation deadlines both come from deadlineAfter.
import { DateTime, type IANAZone } from 'luxon';
import { addMs } from './clock.js';
import { parseRange, WEEKDAYS, type MinuteRange } from './config/calendar-schema.js';
import type { CalendarConfig, Config } from './config/types.js';
import { MailwardenError } from './errors.js';
import { zoneNamed } from './zone.js';

const DAY_MS = 86_400_000;
/** Consecutive days without working time after which a calendar is taken never to open. */
const MAX_CLOSED_DAYS = 366;

interface WorkingCalendar {
  id: string;
  zone: IANAZone;
  /** ranges per weekday, Monday first (luxon's weekday - 1), sorted */
  hours: MinuteRange[][];
  holidays: Set<string>;
}

interface Opening {
  start: DateTime;
  end: DateTime;
}

const parsed = new WeakMap<CalendarConfig, WorkingCalendar>();

function workingCalendar(cal: CalendarConfig): WorkingCalendar {
  let found = parsed.get(cal);
  if (!found) {
    const hours = WEEKDAYS.map((day) =>
      (cal.hours[day] ?? [])
        .map(parseRange)
        .filter((r): r is MinuteRange => r !== null)
        .sort((a, b) => a.start - b.start),
    );
    found = { id: cal.id, zone: zoneNamed(cal.timezone), hours, holidays: new Set(cal.holidays) };
    parsed.set(cal, found);
  }
  return found;
}

/** `minute` after the local midnight of `day` (1440: the next midnight). */
function atMinute(day: DateTime, minute: number): DateTime {
  if (minute >= 1440) return day.plus({ days: 1 }).startOf('day');
  return day.set({ hour: Math.floor(minute / 60), minute: minute % 60, second: 0, millisecond: 0 });
}

/** The working ranges of one local day as instants, in order; none on a closed day or a holiday. */
function openings(cal: WorkingCalendar, day: DateTime): Opening[] {
  if (cal.holidays.has(day.toISODate() ?? '')) return [];
  return cal.hours[day.weekday - 1]!.map((r) => ({ start: atMinute(day, r.start), end: atMinute(day, r.end) }));
}

function neverOpens(cal: WorkingCalendar, from: DateTime): MailwardenError {
  return new MailwardenError(
    'config',
    'ECALENDAR',
    `Calendar "${cal.id}" has no working time in the ${MAX_CLOSED_DAYS} days after ${from.toISODate()}, so no deadline can be counted in it (check its hours and holidays).`,
  );
}

/** `ms` of working time after `from` (0: the first working moment at or after it). */
function addWorkingTime(cal: WorkingCalendar, from: DateTime, ms: number): DateTime {
  let remaining = ms;
  let cursor = from;
  let day = from.startOf('day');
  for (let closed = 0; closed <= MAX_CLOSED_DAYS;) {
    let worked = false;
    for (const r of openings(cal, day)) {
      if (r.end <= cursor) continue;
      const begin = r.start > cursor ? r.start : cursor;
      const available = r.end.toMillis() - begin.toMillis();
      worked = true;
      if (remaining <= available) return begin.plus({ milliseconds: remaining });
      remaining -= available;
      cursor = r.end;
    }
    closed = worked ? 0 : closed + 1;
    day = day.plus({ days: 1 }).startOf('day');
  }
  throw neverOpens(cal, from);
}

/** The latest working moment of the day at or before `wanted`, or the day's opening if it opens later. */
function clampInto(day: Opening[], wanted: DateTime): DateTime {
  let best = day[0]!.start;
  for (const r of day) {
    if (r.start > wanted) break;
    best = wanted < r.end ? wanted : r.end;
  }
  return best;
}

/** The same local time on the `days`th working day after the (first working moment of the) start. */
function addWorkingDays(cal: WorkingCalendar, from: DateTime, days: number): DateTime {
  const start = addWorkingTime(cal, from, 0);
  let day = start.startOf('day');
  let today: Opening[] = [];
  for (let left = days, closed = 0; left > 0;) {
    day = day.plus({ days: 1 }).startOf('day');
    today = openings(cal, day);
    if (today.length > 0) {
      left -= 1;
      closed = 0;
    } else if (++closed > MAX_CLOSED_DAYS) throw neverOpens(cal, from);
  }
  return clampInto(today, day.set({ hour: start.hour, minute: start.minute, second: start.second, millisecond: start.millisecond }));
}

function workingDeadline(cal: WorkingCalendar, start: Date, durationMs: number): Date {
  const from = DateTime.fromJSDate(start, { zone: cal.zone });
  if (durationMs > 0 && durationMs % DAY_MS === 0) return addWorkingDays(cal, from, durationMs / DAY_MS).toJSDate();
  return addWorkingTime(cal, from, Math.max(0, durationMs)).toJSDate();
}

/**
 * When a deadline of `durationMs` that starts at `start` ends, as ISO-8601 UTC (the form the
 * database compares as text): wall-clock time without a calendar, working time in the named one.
 */
export function deadlineAfter(config: Pick<Config, 'calendars'>, calendarId: string | undefined, start: Date | string, durationMs: number): string {
  if (calendarId === undefined) return addMs(start, durationMs);
  const cal = config.calendars.find((c) => c.id === calendarId);
  if (!cal) {
    // The config check refuses such a reference; this guards a config built some other way.
    const known = config.calendars.map((c) => c.id).join(', ') || 'none';
    throw new MailwardenError('config', 'ECALENDAR', `There is no calendar "${calendarId}" (known: ${known}).`);
  }
  const at = typeof start === 'string' ? new Date(start) : start;
  return workingDeadline(workingCalendar(cal), at, durationMs).toISOString();
}
