// Instants shown to people, in the instance time zone: `2026-11-24 17:00` (CLI listings) or
// `2026-11-24 17:00 CET` (mail). Zone rules (offsets, DST changes, zone names) come from luxon
// over the platform's IANA data rather than from hand-made offset arithmetic; luxon keeps its
// Intl formatters cached, so a listing of hundreds of rows builds none per cell.
import { DateTime, IANAZone } from 'luxon';
import { MailwardenError } from './errors.js';

/** The zone, checked: an unknown name is a configuration problem, not a wrong time on screen. */
export function zoneNamed(timeZone: string): IANAZone {
  const zone = IANAZone.create(timeZone);
  if (!zone.isValid)
    throw new MailwardenError('config', 'EBADZONE', `instance.timezone: "${timeZone}" is not an IANA time zone (such as Europe/Warsaw or UTC).`);
  return zone;
}

/**
 * Formatted minutes, by zone and minute: every mail renders a few instants of the same minutes
 * (received, deadline), and luxon works out the zone's offset afresh each time, which was 5% of
 * the daemon's CPU under load (issue 18). The text depends on nothing but zone and minute.
 */
const formatted = new Map<string, string>();
const FORMATTED_MAX = 10_000;

/** `YYYY-MM-DD HH:MM`, followed by the zone's short name (CET, CEST, UTC) when withZone is set. */
export function formatInZone(date: Date, timeZone: string, withZone: boolean): string {
  const key = `${timeZone}|${withZone ? 1 : 0}|${Math.floor(date.getTime() / 60_000)}`;
  const hit = formatted.get(key);
  if (hit !== undefined) return hit;
  // en-GB names European zones (CET/CEST); en-US would say GMT+1.
  const text = DateTime.fromJSDate(date, { zone: zoneNamed(timeZone) }).toFormat(withZone ? 'yyyy-MM-dd HH:mm ZZZZ' : 'yyyy-MM-dd HH:mm', { locale: 'en-GB' });
  if (formatted.size >= FORMATTED_MAX) formatted.clear();
  formatted.set(key, text);
  return text;
}
