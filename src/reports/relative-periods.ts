// The periods a scheduled report may cover (SPEC §6 `reports:`), named relative to the time the
// report is scheduled for, in the instance time zone. They are counted from the scheduled slot and
// not from the moment the mail is built, so a slot sent late (after a restart) covers exactly the
// days it would have covered on time. Days are whole local days, as `mailwarden report --from
// --to` takes them; luxon does the zone arithmetic (DST days of 23 or 25 hours included).
import { DateTime } from 'luxon';
import type { ReportPeriodName } from '../config/types.js';

/** First and last day (inclusive, YYYY-MM-DD, local to `zone`) of `period` for a report due at `slot`. */
export function relativePeriod(period: ReportPeriodName, slot: Date, zone: string): { from: string; to: string } {
  const today = DateTime.fromJSDate(slot, { zone }).startOf('day');
  const yesterday = today.minus({ days: 1 });
  const days = (from: DateTime, to: DateTime) => ({ from: from.toISODate()!, to: to.toISODate()! });
  switch (period) {
    case 'yesterday':
      return days(yesterday, yesterday);
    case 'today':
      return days(today, today);
    case 'last_7_days':
      return days(today.minus({ days: 7 }), yesterday);
    case 'last_week': {
      // luxon's weeks are ISO weeks: Monday to Sunday.
      const monday = today.startOf('week').minus({ weeks: 1 });
      return days(monday, monday.plus({ days: 6 }));
    }
    case 'last_month': {
      const first = today.startOf('month').minus({ months: 1 });
      return days(first, first.endOf('month'));
    }
    case 'month_to_date':
      return days(today.startOf('month'), today);
  }
}
