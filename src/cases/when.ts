// Times typed by people (when a postponed case comes back): ISO-8601 with a zone, or `YYYY-MM-DD HH:MM` (or just a
// date) read as wall-clock time in the instance's time zone. Wall-clock to instant is luxon's
// job: a time skipped by the spring DST change moves forward by the gap (02:30 → 03:30), a time
// the autumn change repeats means its second, standard-time occurrence, and a date that does not
// exist (February 30) is refused rather than rolled over into March.
import { DateTime } from 'luxon';
import { usageError } from '../errors.js';
import { zoneNamed } from '../zone.js';

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/;
const ISO_WITH_ZONE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * `what` is what the time is for, the subject of the error message: a domain word by default; the
 * CLI passes its flag name, since only it knows how the time was typed.
 */
export function parseWhen(text: string, timeZone: string, what = 'the reminder'): Date {
  const zone = zoneNamed(timeZone);
  const t = text.trim();
  const local = LOCAL_RE.exec(t);
  if (local) {
    const [, y, mo, d, h = '0', mi = '0', s = '0'] = local;
    const wall = DateTime.fromObject({ year: Number(y), month: Number(mo), day: Number(d), hour: Number(h), minute: Number(mi), second: Number(s) }, { zone });
    if (wall.isValid) return wall.toJSDate();
  } else if (ISO_WITH_ZONE_RE.test(t)) {
    const date = new Date(t);
    if (!Number.isNaN(date.getTime())) return date;
  }
  const subject = what.charAt(0).toUpperCase() + what.slice(1);
  throw usageError('EBADTIME', `${subject} wants a time like "2026-03-01 09:30" (${timeZone}) or ISO-8601 with a zone, not "${text}".`);
}

const SINCE_RE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * The start of a listing window (`cases --since`): a date `YYYY-MM-DD` is that day's 00:00 in the
 * instance's time zone (so "since Monday" means the office's Monday, not UTC's); a full ISO
 * timestamp is that instant, read in the instance zone when it names none. Returned as the stored
 * form (UTC ISO), so it compares with `received_at` as text. A date that does not exist is refused.
 * `what` names the value in the error, as for parseWhen.
 */
export function parseSince(text: string, timeZone: string, what = 'The start of the period'): string {
  const zone = zoneNamed(timeZone);
  const t = text.trim();
  if (SINCE_RE.test(t)) {
    const at = DateTime.fromISO(t, { zone });
    if (at.isValid) return at.toJSDate().toISOString();
  }
  throw usageError('EBADSINCE', `${what} wants a date like 2026-03-01 (midnight, ${timeZone}) or an ISO timestamp like 2026-03-01T09:30:00Z, not "${text}".`);
}
