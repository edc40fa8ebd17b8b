// The scheduler service of `mailwarden run`: node-cron ticks that wake postponed cases and send
// overdue notices (cases and consultations), and one task per scheduled report (SPEC §6). The work
// itself is in src/cases/schedule-jobs.ts and src/reports/scheduled.ts; this only times it.
import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../config/types.js';
import { notifyOverdueConsultations } from '../cases/consult-overdue.js';
import { notifyOverdueCases, notifyQuarantine, wakeDueReminders, type JobResult } from '../cases/schedule-jobs.js';
import type { Service, ServiceFactory } from './service.js';
import { logEvent } from '../log.js';
import { contentStore } from '../db/content-store.js';
import { dropErasedCopies } from '../db/erased-copies.js';

/** Minute 41 of every hour: off the round hours where reports and reminders cluster. */
const ERASED_COPIES_SCHEDULE = '41 * * * *';
import type { ReportConfig } from '../config/types.js';
import { runScheduledReport, sendMissedReports, type ReportRunResult } from '../reports/scheduled.js';

export const createSchedulerService: ServiceFactory = (ctx) => {
  let config: Config = ctx.config;
  let tasks: ScheduledTask[] = [];
  const running = new Set<Promise<unknown>>();
  let stopping = false;

  const job = (name: string, fn: () => Promise<JobResult>) => async () => {
    if (stopping) return;
    const p = fn().then(
      (r) => {
        if (r.handled.length) ctx.log.info({ job: name, cases: r.handled }, `${name}: ${r.handled.length} case(s)`);
        for (const f of r.failed)
          ctx.log.error(logEvent('scheduler.case_failed', { job: name, caseId: f.caseId, err: f.error }), `${name} failed for ${f.caseId}`);
        // Tests (and a curious admin at debug level) see that a tick ran, not only what it did.
        ctx.log.debug(logEvent('scheduler.tick', { job: name, handled: r.handled.length, failed: r.failed.length }), `${name} tick`);
      },
      (err: unknown) => ctx.log.error(logEvent('scheduler.job_failed', { job: name, err: (err as Error).message }), `${name} failed`),
    );
    running.add(p);
    try {
      await p;
    } finally {
      running.delete(p);
    }
  };

  const track = (p: Promise<unknown>) => {
    running.add(p);
    void p.finally(() => running.delete(p));
  };

  const logRun = (r: ReportRunResult) =>
    r.sent
      ? ctx.log.info(logEvent('report.sent', { ...r }), `report ${r.report} for ${r.slot}: ${r.outbox.length} mail(s) queued`)
      : ctx.log.info(logEvent('report.already_sent', { ...r }), `report ${r.report} for ${r.slot} was sent already`);
  const logFailure = (report: string, err: unknown) =>
    ctx.log.error(logEvent('report.failed', { report, err: err instanceof Error ? err.message : String(err) }), `report ${report} failed`);

  const reportJob = (report: ReportConfig) => async () => {
    if (stopping) return;
    const p = runScheduledReport(ctx.db, config, report).then(
      (r) => r && logRun(r),
      (err: unknown) => logFailure(report.id, err),
    );
    track(p);
    await p;
  };

  /** A slot missed while no daemon ran (src/reports/slots.ts missedSlot), sent once at start. */
  const catchUp = () =>
    track(
      sendMissedReports(ctx.db, config).then((results) => {
        for (const r of results) {
          if ('error' in r) logFailure(r.report, r.error);
          else logRun(r);
        }
      }),
    );

  const copiesJob = () =>
    track(
      dropErasedCopies(contentStore(config, ctx.db)).then(
        (dropped) => ctx.log.debug(logEvent('scheduler.tick', { job: 'erased-copies', handled: dropped, failed: 0 }), 'erased-copies tick'),
        (err: unknown) => ctx.log.error(logEvent('scheduler.job_failed', { job: 'erased-copies', err: (err as Error).message }), 'erased-copies failed'),
      ),
    );

  const schedule = () => {
    const options = { noOverlap: true, timezone: config.instance.timezone, name: 'mailwarden' } as const;
    tasks = [
      cron.schedule(
        config.schedule.reminders,
        job('reminders', () => wakeDueReminders(ctx.db, config)),
        { ...options, name: 'reminders' },
      ),
      cron.schedule(
        config.schedule.overdue_check,
        job('overdue', () => notifyOverdueCases(ctx.db, config)),
        { ...options, name: 'overdue' },
      ),
      cron.schedule(
        config.schedule.overdue_check,
        job('consultation-overdue', () => notifyOverdueConsultations(ctx.db, config)),
        { ...options, name: 'consultation-overdue' },
      ),
      // Checked on the overdue tick; the notice itself goes out once a day.
      cron.schedule(
        config.schedule.overdue_check,
        job('quarantine', () => notifyQuarantine(ctx.db, config)),
        { ...options, name: 'quarantine' },
      ),
      ...config.reports.map((r) => cron.schedule(r.schedule, reportJob(r), { ...options, name: `report:${r.id}` })),
      // Each node drops its copies of erased content (storage.files: database) once an hour.
      cron.schedule(ERASED_COPIES_SCHEDULE, copiesJob, { ...options, name: 'erased-copies' }),
    ];
  };

  const unschedule = async () => {
    await Promise.all(tasks.map((t) => Promise.resolve(t.destroy())));
    tasks = [];
  };

  const service: Service = {
    name: 'scheduler',
    async start() {
      stopping = false;
      schedule();
      catchUp();
      ctx.log.info(logEvent('scheduler.started', { reminders: config.schedule.reminders, overdue: config.schedule.overdue_check }), 'scheduler started');
    },
    async stop() {
      stopping = true;
      await unschedule();
      await Promise.all([...running]);
    },
    async reload(next) {
      const changed =
        next.schedule.reminders !== config.schedule.reminders ||
        next.schedule.overdue_check !== config.schedule.overdue_check ||
        next.instance.timezone !== config.instance.timezone ||
        JSON.stringify(next.reports) !== JSON.stringify(config.reports);
      config = next;
      if (changed && !stopping) {
        await unschedule();
        schedule();
      }
    },
  };
  return service;
};
