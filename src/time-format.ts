// Instants shown to people, in the instance time zone: `2026-11-24 17:00` (CLI listings) or
// `2026-11-24 17:00 CET` (mail). Building an Intl formatter costs far more than using one, and a
// listing formats hundreds of times, so one formatter per zone is kept.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** `YYYY-MM-DD HH:MM`, followed by the zone's short name when withZone is set. */
export function formatInZone(date: Date, timeZone: string, withZone: boolean): string {
  const parts = Object.fromEntries(formatterFor(timeZone).formatToParts(date).map((p) => [p.type, p.value]));
  const text = `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  return withZone ? `${text} ${parts.timeZoneName}` : text;
}
