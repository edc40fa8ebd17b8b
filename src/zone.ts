// The instance's (or a calendar's) time zone as luxon's zone, for the arithmetic done in it:
// working hours (./calendar.ts) and wall-clock times typed by people (./cases/when.ts). Showing
// an instant in a zone needs none of this (./time-format.ts says why it does without luxon).
import { IANAZone } from 'luxon';
import { unknownZone } from './time-format.js';

/** The zone, checked: an unknown name is a configuration problem, not a wrong time on screen. */
export function zoneNamed(timeZone: string): IANAZone {
  const zone = IANAZone.create(timeZone);
  if (!zone.isValid) throw unknownZone(timeZone);
  return zone;
}
