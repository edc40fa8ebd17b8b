// A report's period: two local dates in the instance timezone, both days whole, turned into the
// UTC instants the stored times are compared with, and the list of local days for the per-day
// chart. Days follow the zone's calendar, so a day with a DST change is 23 or 25 hours long.
import { DateTime } from 'luxon';
import { usageError } from '../errors.js';
import type { ReportPeriod } from './types.js';

/** The longest period one report covers: ten years of days. */
const MAX_DAYS = 3660;

function localDay(text: string, flag: string, zone: string): DateTime {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text) ? DateTime.fromISO(text, { zone }) : null;
  if (!day || !day.isValid) throw usageError('EBADDATE', `${flag} wants a date as YYYY-MM-DD, not "${text}".`);
  return day.startOf('day');
}

export function reportPeriod(zone: string, from: string, to: string): ReportPeriod {
  const first = localDay(from, '--from', zone);
  const last = localDay(to, '--to', zone);
  if (last < first) throw usageError('EBADPERIOD', `The period ends (${to}) before it begins (${from}).`);
  if (last.diff(first, 'days').days >= MAX_DAYS) throw usageError('EBADPERIOD', `A report covers at most ${MAX_DAYS} days; ${from} to ${to} is longer.`);
  return { from, to, timezone: zone, start: iso(first), end: iso(last.plus({ days: 1 })) };
}

/** Each local day of the period with the instants it begins and ends. */
export function periodDays(period: ReportPeriod): Array<{ date: string; start: string; end: string }> {
  const days = [];
  let day = DateTime.fromISO(period.from, { zone: period.timezone }).startOf('day');
  const last = DateTime.fromISO(period.to, { zone: period.timezone }).startOf('day');
  while (day <= last) {
    const next = day.plus({ days: 1 });
    days.push({ date: day.toISODate() ?? period.from, start: iso(day), end: iso(next) });
    day = next;
  }
  return days;
}

function iso(t: DateTime): string {
  return t.toUTC().toISO() ?? '';
}
