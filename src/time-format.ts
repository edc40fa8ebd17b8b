// Instants shown to people, in the instance time zone: `2026-11-24 17:00` (CLI listings) or
// `2026-11-24 17:00 CET` (mail). The zone's rules (offsets, DST changes, its short name) come
// from the platform's IANA data through Intl.DateTimeFormat, not from hand-made offset
// arithmetic. luxon, which the zone arithmetic uses (./zone.ts), formats through the same Intl
// formatter; used here directly, a command that prints times (`cases`, `show`) loads no luxon
// and builds one formatter instead of luxon's three (its zone check, the format, the zone name):
// about 25 ms of `cases` at start (issue 18). test/foundation/time-format.test.ts holds the two
// to the same text across DST changes in several zones.
import { MailwardenError } from './errors.js';

/** The error for a zone name the platform does not know. */
export function unknownZone(timeZone: string): MailwardenError {
  return new MailwardenError('config', 'EBADZONE', `instance.timezone: "${timeZone}" is not an IANA time zone (such as Europe/Warsaw or UTC).`);
}

/** One formatter per zone and form, built on first use (building one is the costly part). */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string, withZone: boolean): Intl.DateTimeFormat {
  const key = `${timeZone}|${withZone ? 1 : 0}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    try {
      // en-GB names European zones (CET/CEST); en-US would say GMT+1.
      formatter = new Intl.DateTimeFormat('en-GB', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
        ...(withZone ? { timeZoneName: 'short' as const } : {}),
      });
    } catch {
      // RangeError: Intl knows no zone of that name.
      throw unknownZone(timeZone);
    }
    formatters.set(key, formatter);
  }
  return formatter;
}

/**
 * Formatted minutes, by zone and minute: every mail renders a few instants of the same minutes
 * (received, deadline), and formatting afresh each time was 5% of the daemon's CPU under load
 * (issue 18). The text depends on nothing but zone and minute.
 */
const formatted = new Map<string, string>();
const FORMATTED_MAX = 10_000;

/** `YYYY-MM-DD HH:MM`, followed by the zone's short name (CET, CEST, UTC) when withZone is set. */
export function formatInZone(date: Date, timeZone: string, withZone: boolean): string {
  const key = `${timeZone}|${withZone ? 1 : 0}|${Math.floor(date.getTime() / 60_000)}`;
  const hit = formatted.get(key);
  if (hit !== undefined) return hit;
  const part: Partial<Record<Intl.DateTimeFormatPartTypes, string>> = {};
  for (const p of formatterFor(timeZone, withZone).formatToParts(date)) part[p.type] = p.value;
  const text = `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}${withZone ? ` ${part.timeZoneName}` : ''}`;
  if (formatted.size >= FORMATTED_MAX) formatted.clear();
  formatted.set(key, text);
  return text;
}
