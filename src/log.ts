// pino JSON lines, pretty when a person is watching a terminal (SPEC §7). Logs go to stderr so
// that `--json` output on stdout stays machine-readable.
// pino itself is loaded on the first logger made: most modules import only logEvent from here,
// and a command that never logs (most of them, without --verbose) never pays for pino.
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

export type { Logger };

const requireCjs = createRequire(import.meta.url);
const pinoModule = (): typeof import('pino') => requireCjs('pino') as typeof import('pino');

export function createLogger(opts: { level?: string; pretty?: boolean; name?: string } = {}): Logger {
  const { pino } = pinoModule();
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  const level = opts.level ?? process.env.MAILWARDEN_LOG_LEVEL ?? 'info';
  if (pretty) {
    return pino({ level, name: opts.name ?? 'mailwarden' }, pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true } }));
  }
  return pino({ level, name: opts.name ?? 'mailwarden' }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything (tests and short commands that must stay quiet). */
export function silentLogger(): Logger {
  return pinoModule().pino({ level: 'silent' });
}

/**
 * Lifecycle events. Every log line that marks a step in the daemon's life carries a stable
 * `event` field from this list: operators alert on it and tests match it, so the prose beside it
 * may be reworded freely.
 */
export type LogEvent =
  | 'daemon.ready'
  | 'daemon.stopping'
  | 'daemon.stopped'
  | 'daemon.once_finished'
  | 'daemon.checkpoint_failed'
  | 'config.reloaded'
  | 'config.reload_rejected'
  | 'service.start_failed'
  | 'service.reload_failed'
  | 'service.stop_failed'
  | 'mailbox.connected'
  | 'mailbox.login_failed'
  | 'mailbox.token_fetched'
  | 'mailbox.token_rejected'
  | 'mailbox.token_failed'
  | 'mailbox.connection_failed'
  | 'mailbox.sync_failed'
  | 'mailbox.synced'
  | 'mailbox.uidvalidity_changed'
  | 'mailbox.mark_failed'
  | 'mailbox.marks_repaired'
  | 'mailbox.stop_timeout'
  | 'box.lease_taken'
  | 'box.lease_lost'
  | 'box.lease_released'
  | 'box.lease_held_elsewhere'
  | 'box.leases_failed'
  | 'listener.ready'
  | 'listener.error'
  | 'listener.delivery_failed'
  | 'ingest.accepted'
  | 'ingest.accept_failed'
  | 'ingest.accept_degraded'
  | 'ingest.parked'
  | 'ingest.store_failed'
  | 'ingest.database_busy'
  | 'ingest.lock_wait'
  | 'rating.recorded'
  | 'rating.ignored'
  | 'outbox.drainer_started'
  | 'outbox.drainer_stopped'
  | 'outbox.drainer_error'
  | 'outbox.drainer_busy'
  | 'outbox.sent'
  | 'outbox.deferred'
  | 'outbox.failed'
  | 'outbox.lease_lost'
  | 'outbox.record_retry'
  | 'outbox.record_abandoned'
  | 'outbox.reclaimed'
  | 'outbox.drained'
  | 'outbox.round_done'
  | 'scheduler.started'
  | 'scheduler.tick'
  | 'scheduler.case_failed'
  | 'scheduler.job_failed'
  | 'report.sent'
  | 'report.already_sent'
  | 'report.failed';

/** The fields of a lifecycle log line: `log.info(logEvent('daemon.ready', {…}), 'daemon ready')`. */
export function logEvent(event: LogEvent, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { event, ...fields };
}
