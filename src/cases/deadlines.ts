// When a deadline falls: `durationMs` after `start`. (Calendars arrive with the calendars work; until
// then deadlines are wall-clock time.)
import type { Config } from '../config/types.js';
import { addMs } from '../clock.js';

export function deadlineAfter(_config: Config, _calendarId: string | undefined, start: Date | string, durationMs: number): string {
  return addMs(start, durationMs);
}
