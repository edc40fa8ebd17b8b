// The scheduled report mail (SPEC §6 `reports:`): for one report and one scheduled slot, build the
// report for the period the slot names, and queue one mail per recipient (HTML report, the table as
// the text alternative, the CSV attached). "Once per schedule, even with several daemons" (SPEC
// §10) rests on one statement: the slot is claimed by inserting its report_runs row with ON
// CONFLICT DO NOTHING in the same transaction that queues the mail. Whoever inserts the row sends;
// everyone else inserts nothing and sends nothing. A crash before the commit leaves neither the
// row nor the mail (the slot can be sent again); after it, both (the drainer sends it).
import type { Kysely } from 'kysely';
import type { Config, ConsultantConfig, ReportConfig } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { writeTx, type Db } from '../db/connection.js';
import { now, nowIso } from '../clock.js';
import { formatInZone } from '../time-format.js';
import { boxSender, queueMail } from '../outbound/queue.js';
import { currentClaimer } from '../outbound/claimer.js';
import { buildReport } from './build.js';
import { renderReport } from './render.js';
import { relativePeriod } from './relative-periods.js';
import { latestSlot, missedSlot } from './slots.js';
import type { Report } from './types.js';

export interface ReportRunResult {
  report: string;
  /** the scheduled instant, ISO UTC */
  slot: string;
  /** false: another daemon (or an earlier run of this one) already sent this slot */
  sent: boolean;
  outbox: number[];
}

interface Recipient {
  address: string;
  name?: string;
}

/**
 * Claims (report, slot): true when this transaction inserted the row, false when it exists. One
 * INSERT … ON CONFLICT DO NOTHING, so two daemons at the same instant cannot both get true, under
 * SQLite's write lock as under PostgreSQL's READ COMMITTED (the second insert waits for the
 * first's commit, then finds the key taken).
 */
export async function claimReportRun(tx: Kysely<DB>, reportId: string, slot: string, period: { from: string; to: string }): Promise<boolean> {
  const row = await tx
    .insertInto('report_runs')
    .values({
      report_id: reportId,
      slot,
      period_from: period.from,
      period_to: period.to,
      ran_at: nowIso(),
      ran_by: currentClaimer(),
      outbox_ids: '[]',
    })
    .onConflict((oc) => oc.columns(['report_id', 'slot']).doNothing())
    .returning('slot')
    .executeTakeFirst();
  return row !== undefined;
}

/** Sends `report` for `slot` unless that slot was sent already. */
export async function sendReportForSlot(db: Db, config: Config, report: ReportConfig, slot: Date): Promise<ReportRunResult> {
  const slotIso = slot.toISOString();
  const skipped: ReportRunResult = { report: report.id, slot: slotIso, sent: false, outbox: [] };
  // A cheap look first, so a daemon that lost the race does not build the report for nothing;
  // the claim below is what decides.
  const done = await db.selectFrom('report_runs').select('slot').where('report_id', '=', report.id).where('slot', '=', slotIso).executeTakeFirst();
  if (done) return skipped;
  const period = relativePeriod(report.period, slot, config.instance.timezone);
  const built = await buildReport(db, config, {
    from: period.from,
    to: period.to,
    by: report.by,
    ...(report.pool !== undefined ? { pool: report.pool } : {}),
    ...(report.consultant !== undefined ? { consultant: report.consultant } : {}),
  });
  const mail = await reportMail(report, built);
  return writeTx(db, async (tx) => {
    if (!(await claimReportRun(tx, report.id, slotIso, period))) return skipped;
    const outbox = await queueReportMail(tx, config, report, slot, mail);
    await tx
      .updateTable('report_runs')
      .set({ outbox_ids: JSON.stringify(outbox) })
      .where('report_id', '=', report.id)
      .where('slot', '=', slotIso)
      .execute();
    return { report: report.id, slot: slotIso, sent: true, outbox };
  });
}

/** A cron tick of `report`: sends the slot it fires for (the latest at or before now). */
export async function runScheduledReport(db: Db, config: Config, report: ReportConfig): Promise<ReportRunResult | null> {
  const slot = latestSlot(report.schedule, config.instance.timezone, now());
  return slot ? sendReportForSlot(db, config, report, slot) : null;
}

/**
 * At daemon start: the slot each report missed while no daemon ran (see missedSlot: the latest
 * one only, and only while it is at most one schedule interval old), unless a daemon sent it.
 */
export async function sendMissedReports(db: Db, config: Config): Promise<Array<ReportRunResult | { report: string; error: string }>> {
  const results: Array<ReportRunResult | { report: string; error: string }> = [];
  for (const report of config.reports) {
    const slot = missedSlot(report.schedule, config.instance.timezone, now());
    if (!slot) continue;
    try {
      results.push(await sendReportForSlot(db, config, report, slot));
    } catch (err) {
      results.push({ report: report.id, error: (err as Error).message });
    }
  }
  return results;
}

interface ReportMail {
  text: string;
  html: string;
  csv: string;
  filename: string;
  from: string;
  to: string;
}

async function reportMail(report: ReportConfig, built: Report): Promise<ReportMail> {
  const { from, to } = built.period;
  const opts = { title: `Report ${report.id}: ${from} – ${to}` };
  return {
    text: await renderReport(built, 'table', opts),
    html: await renderReport(built, 'html', opts),
    csv: await renderReport(built, 'csv', opts),
    filename: `report-${report.id}-${from}-${to}.csv`,
    from,
    to,
  };
}

async function queueReportMail(tx: Kysely<DB>, config: Config, report: ReportConfig, slot: Date, mail: ReportMail): Promise<number[]> {
  const box = (report.pool ? config.mailboxes.find((m) => m.pool === report.pool) : undefined) ?? config.mailboxes[0];
  if (!box) throw new Error('internal: a configuration always has a mailbox');
  const subject = report.subject?.replaceAll('{from}', mail.from).replaceAll('{to}', mail.to).replaceAll('{id}', report.id);
  const ids: number[] = [];
  for (const to of reportRecipients(config, report)) {
    const queued = await queueMail(tx, {
      config,
      caseId: null,
      kind: 'report',
      template: 'report',
      scope: { mailbox: box.id, pool: box.pool },
      from: boxSender(config, box),
      to: [to],
      vars: {
        report: {
          id: report.id,
          period: report.period,
          by: report.by,
          from: mail.from,
          to: mail.to,
          timezone: config.instance.timezone,
          slot: slot.toISOString(),
          slot_local: formatInZone(slot, config.instance.timezone, true),
          table: mail.text,
          attachment: mail.filename,
          ...(subject !== undefined ? { subject } : {}),
        },
      },
      html: mail.html,
      attachments: [{ filename: mail.filename, content: Buffer.from(mail.csv, 'utf8'), contentType: 'text/csv; charset=utf-8' }],
      messageKind: null,
      autoSubmitted: 'auto-generated',
    });
    ids.push(queued.outboxId);
  }
  return ids;
}

/** Each recipient once: a consultant id as that consultant, an address as the consultant it belongs to or as itself. */
function reportRecipients(config: Config, report: ReportConfig): Recipient[] {
  const byAddress = new Map<string, Recipient>();
  const asRecipient = (c: ConsultantConfig): Recipient => ({ address: c.email, name: c.name });
  for (const entry of report.recipients) {
    let r: Recipient | undefined;
    if (entry.includes('@')) {
      const address = entry.toLowerCase();
      const c = config.consultants.find((x) => x.email === address || x.aliases.includes(address));
      r = c ? asRecipient(c) : { address };
    } else {
      const c = config.consultants.find((x) => x.id === entry);
      r = c ? asRecipient(c) : undefined;
    }
    if (r && !byAddress.has(r.address)) byAddress.set(r.address, r);
  }
  return [...byAddress.values()];
}
