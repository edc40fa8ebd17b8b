// The scheduled times ("slots") of a report's cron expression, found backwards from a moment. The
// scheduler needs them twice: a tick sends the slot it fires for (the latest one at or before now,
// so a delayed tick still names its own slot), and a daemon starting up looks for the slot it
// missed while no daemon ran. node-cron answers "does this instant match" in a time zone but not
// "which instant came last", so the walk is here: whole local days backwards (a day whose date
// fields do not match is skipped with one test), then the day's times from the latest down.
import cron from 'node-cron';
import { DateTime } from 'luxon';

/** How far back a slot is looked for: a yearly schedule still finds its last slot. */
const MAX_DAYS_BACK = 400;

/** The latest instant at or before `at` (to the second) that `expression` names in `zone`, or null. */
export function latestSlot(expression: string, zone: string, at: Date): Date | null {
  const fields = cron.parse(expression);
  const desc = (xs: number[]) => [...xs].sort((a, b) => b - a);
  const hours = desc(fields.hour);
  const minutes = desc(fields.minute);
  const seconds = desc(fields.second);
  const task = cron.createTask(expression, () => undefined, { timezone: zone });
  try {
    const limit = Math.floor(at.getTime() / 1000) * 1000;
    const start = DateTime.fromMillis(limit, { zone }).startOf('day');
    for (let d = 0; d <= MAX_DAYS_BACK; d++) {
      const day = start.minus({ days: d });
      // The day's date fields (day of month, month, weekday) either match every time in it or none.
      const first = day.set({ hour: hours.at(-1)!, minute: minutes.at(-1)!, second: seconds.at(-1)! });
      if (!task.match(first.toJSDate())) continue;
      for (const hour of hours)
        for (const minute of minutes)
          for (const second of seconds) {
            const t = day.set({ hour, minute, second });
            if (t.toMillis() > limit || t.hour !== hour) continue; // in the future, or a time DST skipped
            if (task.match(t.toJSDate())) return t.toJSDate();
          }
    }
    return null;
  } finally {
    void task.destroy();
  }
}

/**
 * The slot a daemon starting at `at` should still send, or null. Only the latest slot before `at`,
 * and only while it is no older than the spacing between it and the slot before it (one schedule
 * interval): a report that is that late would arrive next to its successor, so it is left out, as
 * are all older ones. For a daily 07:00 report a daemon down from 06:00 to 09:00 sends it at 09:00;
 * one down over the weekend for a weekdays-only report does not send Friday's on Monday morning.
 */
export function missedSlot(expression: string, zone: string, at: Date): Date | null {
  const last = latestSlot(expression, zone, at);
  if (!last) return null;
  const before = latestSlot(expression, zone, new Date(last.getTime() - 1000));
  if (!before) return last;
  return at.getTime() - last.getTime() <= last.getTime() - before.getTime() ? last : null;
}
