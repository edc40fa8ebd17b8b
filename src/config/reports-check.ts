// Cross-references of the `reports:` section (SPEC §6), beside ./crossref.ts so that file stays
// about the older sections: unique ids, the pool and consultant a report is limited to, and each
// recipient (a consultant id, or an address that is no supervised box). The shapes (period, cron
// expression, at least one recipient) are the schema's; every problem is listed in the same pass.
import type { Config } from './types.js';
import type { Loose } from './salvage.js';
import { isEmail } from './validate.js';

type Add = (path: string, message: string) => void;

export function checkReports(config: Loose<Config>, add: Add): void {
  const reports = config.reports ?? [];
  const poolIds = new Set((config.pools ?? []).map((p) => p?.id).filter((x): x is string => typeof x === 'string'));
  const consultantIds = new Set((config.consultants ?? []).map((c) => c?.id).filter((x): x is string => typeof x === 'string'));
  const boxAddresses = new Set((config.mailboxes ?? []).map((m) => m?.address?.toLowerCase()));
  const known = (ids: Set<string>) => (ids.size ? [...ids].join(', ') : 'none');
  const seen = new Map<string, number>();
  reports.forEach((r, i) => {
    if (!r) return;
    const at = `reports[${i}]`;
    if (typeof r.id === 'string') {
      const first = seen.get(r.id);
      if (first !== undefined) add(`${at}.id`, `duplicates reports[${first}].id "${r.id}"`);
      else seen.set(r.id, i);
    }
    if (r.pool !== undefined && !poolIds.has(r.pool)) add(`${at}.pool`, `names unknown pool "${r.pool}" (known: ${known(poolIds)})`);
    if (r.consultant !== undefined && !consultantIds.has(r.consultant))
      add(`${at}.consultant`, `names unknown consultant "${r.consultant}" (known: ${known(consultantIds)})`);
    (r.recipients ?? []).forEach((n, j) => {
      if (typeof n !== 'string') return;
      const where = `${at}.recipients[${j}]`;
      if (n.includes('@')) {
        if (!isEmail(n)) add(where, `must be a consultant id or an e-mail address (got "${n}")`);
        else if (boxAddresses.has(n.toLowerCase())) add(where, `is a supervised mailbox address (${n}); reports must go to people`);
      } else if (!consultantIds.has(n)) add(where, `names unknown consultant "${n}" (known: ${known(consultantIds)})`);
    });
  });
}
