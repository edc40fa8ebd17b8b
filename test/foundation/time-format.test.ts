// Instants shown in the instance's time zone (src/time-format.ts) are formatted with Intl
// directly, while luxon does the zone arithmetic (src/zone.ts). Here the two are held to the same
// text: luxon's own format of the same instant, in zones with and without DST, south and north,
// with half-hour offsets and a half-hour DST change, at every DST change of 2026 (the minute
// before, of and after) and at instants spread over the year. An unknown zone is refused by both.
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { MailwardenError } from '../../src/errors';
import { formatInZone } from '../../src/time-format';
import { zoneNamed } from '../../src/zone';

/** Each zone, and whether it changes its offset in 2026 (Lord Howe by half an hour). */
const ZONES: Array<[string, boolean]> = [
  ['Europe/Warsaw', true],
  ['America/New_York', true],
  ['America/Santiago', true],
  ['Australia/Lord_Howe', true],
  ['Pacific/Chatham', true],
  ['Asia/Kolkata', false],
  ['Asia/Tokyo', false],
  ['UTC', false],
];
const YEAR_START = Date.UTC(2026, 0, 1);
const YEAR_END = Date.UTC(2027, 0, 1);
const MINUTE = 60_000;

function luxonText(ms: number, zone: string, withZone: boolean): string {
  return DateTime.fromMillis(ms, { zone: zoneNamed(zone) }).toFormat(withZone ? 'yyyy-MM-dd HH:mm ZZZZ' : 'yyyy-MM-dd HH:mm', { locale: 'en-GB' });
}

/** The minutes around each change of the zone's offset in 2026 (found hour by hour, then to the minute). */
function offsetChanges(zone: string): number[] {
  const offset = (ms: number) => DateTime.fromMillis(ms, { zone }).offset;
  const found: number[] = [];
  for (let t = YEAR_START; t < YEAR_END; t += 3_600_000) {
    if (offset(t) === offset(t + 3_600_000)) continue;
    let m = t;
    while (offset(m) === offset(t)) m += MINUTE;
    found.push(m - MINUTE, m, m + MINUTE);
  }
  return found;
}

describe('formatInZone', () => {
  it.each(ZONES)('gives luxon’s text in %s, at its DST changes and over the year', (zone, changesOffset) => {
    const changes = offsetChanges(zone);
    // Two changes, three minutes each: else the zone's rules are not what this test is about.
    expect(changes.length).toBe(changesOffset ? 6 : 0);
    const instants = [...changes];
    // 211 minutes apart: every hour and minute of the day comes up over the year.
    for (let t = YEAR_START; t < YEAR_END; t += 211 * MINUTE) instants.push(t + 17_000);
    const mismatches = [];
    for (const ms of instants) {
      for (const withZone of [false, true]) {
        const ours = formatInZone(new Date(ms), zone, withZone);
        const theirs = luxonText(ms, zone, withZone);
        if (ours !== theirs) mismatches.push({ at: new Date(ms).toISOString(), withZone, ours, theirs });
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('names Warsaw’s zone CET in winter and CEST in summer, and shows its local hour', () => {
    expect(formatInZone(new Date('2026-01-15T12:00:00Z'), 'Europe/Warsaw', true)).toBe('2026-01-15 13:00 CET');
    expect(formatInZone(new Date('2026-07-15T12:00:00Z'), 'Europe/Warsaw', true)).toBe('2026-07-15 14:00 CEST');
    expect(formatInZone(new Date('2026-07-15T23:30:00Z'), 'Europe/Warsaw', false)).toBe('2026-07-16 01:30');
  });

  it('refuses a zone the platform does not know, as luxon’s zone check does', () => {
    for (const check of [() => formatInZone(new Date(), 'Mars/Olympus_Mons', false), () => zoneNamed('Mars/Olympus_Mons')]) {
      expect(check).toThrow(MailwardenError);
      expect(check).toThrow(/"Mars\/Olympus_Mons" is not an IANA time zone/);
    }
  });
});
