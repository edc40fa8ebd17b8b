// Times typed by people (`--remind-at`): ISO-8601 with a zone, or `YYYY-MM-DD HH:MM` (or just a
// date) read as wall-clock time in the instance's time zone.
import { usageError } from '../errors.js';

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** The offset of `timeZone` from UTC at an instant, in ms (positive east of Greenwich). */
function zoneOffsetMs(instant: number, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(instant))
      .map((p) => [p.type, Number(p.value)]),
  ) as Record<string, number>;
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return asUtc - (instant - (instant % 1000));
}

/** The UTC instant of a wall-clock time in a zone (two passes settle DST edges). */
export function zonedToUtc(y: number, mo: number, d: number, h: number, mi: number, s: number, timeZone: string): Date {
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  let guess = wall - zoneOffsetMs(wall, timeZone);
  guess = wall - zoneOffsetMs(guess, timeZone);
  return new Date(guess);
}

export function parseWhen(text: string, timeZone: string, what = '--remind-at'): Date {
  const t = text.trim();
  const local = LOCAL_RE.exec(t);
  if (local) {
    const [, y, mo, d, h = '0', mi = '0', s = '0'] = local;
    const date = zonedToUtc(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s), timeZone);
    if (!Number.isNaN(date.getTime()) && Number(mo) >= 1 && Number(mo) <= 12 && Number(d) >= 1 && Number(d) <= 31) return date;
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(t)) {
    const date = new Date(t);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw usageError('EBADTIME', `${what} wants a time like "2026-03-01 09:30" (${timeZone}) or ISO-8601 with a zone, not "${text}".`);
}
