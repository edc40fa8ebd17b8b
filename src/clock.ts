// One clock for the whole program, so tests can move time (deadlines, reminders, windows).
// MAILWARDEN_CLOCK_OFFSET (e.g. "+3d", "-2h") shifts "now" for every process started with it.
import { parseDuration } from './config/validate.js';

let offsetMs = offsetFromEnv(process.env.MAILWARDEN_CLOCK_OFFSET);

function offsetFromEnv(text: string | undefined): number {
  if (!text) return 0;
  const sign = text.startsWith('-') ? -1 : 1;
  const ms = parseDuration(text.replace(/^[+-]/, ''));
  return ms === null ? 0 : sign * ms;
}

export function now(): Date {
  return new Date(Date.now() + offsetMs);
}

export function nowIso(): string {
  return now().toISOString();
}

/** A time from the world outside (an IMAP INTERNALDATE) on this clock's timeline: shifted as "now" is. */
export function onClock(realMs: number): Date {
  return new Date(realMs + offsetMs);
}

/** For tests in the same process. */
export function setClockOffset(ms: number): void {
  offsetMs = ms;
}

export function addMs(iso: string | Date, ms: number): string {
  const t = typeof iso === 'string' ? Date.parse(iso) : iso.getTime();
  return new Date(t + ms).toISOString();
}
