// `mailwarden run`: one process holding an IMAP worker per box, the optional LMTP/SMTP
// listener, the outbox drainer and the scheduler (DESIGN: processes). They never call each
// other; they meet in the database. SIGTERM/SIGINT: stop taking new work, finish what is in
// hand, exit 0. SIGHUP: read the config again; an invalid one is logged and the old one kept;
// boxes added, removed or changed start, stop or restart. Boxes are worked under leases in the
// database (SPEC §10, ./leases.ts), so several daemons may share one database: each works only
// the boxes it holds, while the listener, the drainer and the scheduler run on every daemon.
import { loadConfig, formatIssue, requireConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { nowIso } from '../clock.js';
import { openDatabase, type Db } from '../db/connection.js';
import { releaseLease, releaseLeftBy, takeOrRenew, type LeaseHolder } from '../db/leases.js';
import { createLogger, logEvent, type Logger } from '../log.js';
import { parserPoolFor } from '../ingest/parse.js';
import { commitsDurable, type IngestContext } from '../ingest/pipeline.js';
import { prepareContentDirs, sweepContentTemp } from '../db/content-store.js';
import { Checkpointer } from '../db/checkpointer.js';
import { FileThread } from '../db/file-thread.js';
import { drainOnce } from '../outbound/drainer.js';
import { createDrainerService } from './drainer.js';
import { BoxLeasesService } from './box-leases-service.js';
import { createImapService } from './imap-service.js';
import { newHolder } from './leases.js';
import { ListenerService } from './listener-service.js';
import { createSchedulerService } from './schedule.js';
import { Supervisor } from './supervisor.js';
import { acquireDaemonLock, lockFileName, type DaemonLock } from './lock.js';

export interface DaemonOptions {
  configPath: string;
  /** Fetch new mail from every IMAP box once, send what is due, and return. */
  once?: boolean;
  log?: Logger;
}

/**
 * SQLite's own wait for another process's lock, which sleeps the whole daemon (better-sqlite3 is
 * synchronous): long enough to ride out a typical command's write without a round trip, short
 * enough that no box, delivery or drainer notices it.
 */
const DAEMON_BUSY_TIMEOUT_MS = 20;
/**
 * How long a write goes on trying for the lock, pausing on the event loop, when nothing bounds it
 * sooner (the listener does: ingest.listener.lock_wait). Far longer than any command's write; a
 * lock held longer is somebody's stuck transaction, and the box's backoff takes over.
 */
const DAEMON_LOCK_WAIT_MS = 30_000;

export async function runDaemon(opts: DaemonOptions): Promise<number> {
  // The daemon connects, so its passwords must resolve before anything starts (SPEC §2).
  const first = requireConfig(opts.configPath, process.env, { checkSecrets: true });
  const log = opts.log ?? createLogger({ level: first.instance.log_level });
  const opened = await openDatabase({
    dataDir: first.instance.data_dir,
    url: first.database.url,
    reuseStatements: true,
    busyTimeoutMs: DAEMON_BUSY_TIMEOUT_MS,
    lockWaitMs: DAEMON_LOCK_WAIT_MS,
    deferCommitSync: true,
  });
  let lock: DaemonLock;
  try {
    lock = acquireDaemonLock(first.instance.data_dir, process.pid, lockFileName(first));
  } catch (err) {
    await opened.close();
    throw err;
  }
  const checkpointer = opened.sqlite ? new Checkpointer(opened.sqlite, opened.file!, (err) => logCheckpointFailure(log, err)) : null;
  let config = first;
  const parsers = parserPoolFor(() => config, { size: 2, log });
  const files = new FileThread();
  const ctx: IngestContext = {
    getConfig: () => config,
    db: opened.db,
    log,
    parsers,
    fileWriter: files.write,
    fileSync: files.sync,
    onAccepted: () => checkpointer?.wanted(),
  };
  const holder = newHolder(first.instance.node_name);
  try {
    prepareContentDirs(config);
    await sweepContentTemp(config);
    if (lock.stalePid !== undefined) await releaseDeadPredecessor(opened.db, log, holder, lock.stalePid);
    if (opts.once) return await runOnce(ctx, holder);
    return await runUntilSignalled(ctx, holder, (next) => (config = next));
  } finally {
    await parsers.close();
    await files.close();
    await checkpointer?.stop();
    await opened.close();
    lock.release();
  }
}

/** The log goes back to being checkpointed by commits (src/db/checkpointer.ts): slower, never unbounded. */
function logCheckpointFailure(log: Logger, err: Error): void {
  log.error(logEvent('daemon.checkpoint_failed', { err: err.message }), 'the checkpoint thread failed; commits checkpoint the database themselves from now on');
}

/**
 * The daemon this one replaces on this node was killed (its pid lock was stale): its box leases
 * are given up now rather than when they run out, so a restart does not leave the boxes idle.
 */
async function releaseDeadPredecessor(db: Db, log: Logger, holder: LeaseHolder, pid: number): Promise<void> {
  const freed = await releaseLeftBy(db, holder.node, pid, holder.id);
  for (const box of freed) log.info(logEvent('box.lease_released', { mailbox: box, pid, reason: 'its daemon died' }), 'box lease of the dead daemon released');
}

/** Each box once, under its lease; a box another daemon works now is left to it. */
async function runOnce(ctx: IngestContext, holder: LeaseHolder): Promise<number> {
  const config = ctx.getConfig();
  let failed = 0;
  for (const box of config.mailboxes.filter((m) => m.imap)) {
    try {
      if (!(await takeOrRenew(ctx.db, holder.id, box.id, nowIso(), config.ingest.box_lease))) {
        ctx.log.info(logEvent('box.lease_held_elsewhere', { mailbox: box.id }), 'another daemon works this box; left to it');
        continue;
      }
      try {
        await createImapService(ctx, box).syncOnce();
      } finally {
        await releaseLease(ctx.db, holder.id, box.id);
      }
    } catch (err) {
      failed++;
      ctx.log.error(logEvent('mailbox.sync_failed', { mailbox: box.id, err: (err as Error).message }), 'mailbox sync failed');
    }
  }
  await drainOnce({ config, db: ctx.db, log: ctx.log }, { syncCommits: () => commitsDurable(ctx) });
  ctx.log.info(logEvent('daemon.once_finished', { mailboxes: config.mailboxes.length, failed }), 'run --once finished');
  return failed > 0 ? 69 : 0;
}

async function runUntilSignalled(ctx: IngestContext, holder: LeaseHolder, setConfig: (c: Config) => void): Promise<number> {
  const { log } = ctx;
  const supervisor = new Supervisor(log);
  let listener: ListenerService | null = null;
  // Signals are handled from before the first service starts: a SIGTERM (systemd stopping the unit)
  // or a SIGHUP arriving while the daemon starts must never meet the default action, which kills
  // the process outright. A stop during start-up is taken once the services are up.
  let reload: () => Promise<void> = async () => {};
  const signals = handleSignals(log, () => reload());

  const startListener = async (config: Config): Promise<boolean> => {
    if (!config.ingest.listener.enabled) return true;
    listener = new ListenerService(ctx, config.ingest.listener);
    return supervisor.add(listener);
  };
  const services = { config: ctx.getConfig(), db: ctx.db, log, syncCommits: (upTo?: number) => commitsDurable(ctx, upTo) };

  const boxes = new BoxLeasesService(ctx, holder);
  await supervisor.add(boxes);
  if (!(await startListener(ctx.getConfig()))) {
    signals.release();
    await supervisor.stopAll();
    log.fatal('the listener could not start; stopping');
    return 69;
  }
  await supervisor.add(createDrainerService(services));
  await supervisor.add(createSchedulerService(services));

  reload = async () => {
    const old = ctx.getConfig();
    const result = loadConfig(old.sourcePath, process.env, { checkSecrets: true });
    if (!result.config) {
      log.error(logEvent('config.reload_rejected', { issues: result.issues.map(formatIssue) }), 'the new configuration is invalid; keeping the old one');
      return;
    }
    const next = result.config;
    if (next.instance.data_dir !== old.instance.data_dir) {
      log.error(
        logEvent('config.reload_rejected', { data_dir: next.instance.data_dir }),
        'instance.data_dir cannot change while running; keeping the old configuration',
      );
      return;
    }
    setConfig(next);
    // The boxes service starts, stops or restarts the workers in reloadAll, below.
    const changes = mailboxChanges(old, next);
    if (JSON.stringify(old.ingest.listener) !== JSON.stringify(next.ingest.listener)) {
      await supervisor.remove('listener');
      listener = null;
      await startListener(next);
      changes.push('listener');
    }
    await supervisor.reloadAll(next);
    log.info(logEvent('config.reloaded', { changes, services: supervisor.names() }), 'configuration reloaded');
  };

  log.info(
    logEvent('daemon.ready', {
      mailboxes: ctx.getConfig().mailboxes.map((m) => m.id),
      holder: holder.id,
      boxes_held: boxes.held(),
      listener: (listener as ListenerService | null)?.bound ?? null,
      services: supervisor.names(),
    }),
    'daemon ready',
  );
  signals.started();
  const code = await signals.stopped;
  await supervisor.stopAll();
  log.info(logEvent('daemon.stopped'), 'daemon stopped');
  return code;
}

/** What a reload changes in the IMAP boxes, for the log: added, removed, restarted (settings changed). */
function mailboxChanges(old: Config, next: Config): string[] {
  const changes: string[] = [];
  const before = new Map(old.mailboxes.filter((m) => m.imap).map((m) => [m.id, JSON.stringify(m)]));
  const after = new Map(next.mailboxes.filter((m) => m.imap).map((m) => [m.id, JSON.stringify(m)]));
  for (const [id, text] of before) {
    const box = after.get(id);
    if (box === text) continue;
    changes.push(box ? `restarted ${id}` : `removed ${id}`);
  }
  for (const id of after.keys()) if (!before.has(id)) changes.push(`added ${id}`);
  return changes;
}

interface SignalHandling {
  /** Resolves with the exit code once SIGTERM or SIGINT asked the daemon to stop. */
  stopped: Promise<number>;
  /** The services are up: reloads asked for during start-up run now, and SIGHUP reloads at once. */
  started(): void;
  /** Start-up failed: stop handling signals. */
  release(): void;
}

/**
 * SIGTERM/SIGINT stop (the work in hand is finished first; a second one stops at once), SIGHUP
 * reloads, one reload after another. Installed before anything starts, see runUntilSignalled.
 */
function handleSignals(log: Logger, reload: () => Promise<void>): SignalHandling {
  let running = false;
  let hupWhileStarting = false;
  let reloading = Promise.resolve();
  let resolveStopped: (code: number) => void = () => {};
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
  const onHup = () => {
    if (!running) {
      hupWhileStarting = true;
      return;
    }
    reloading = reloading.then(reload).catch((err: Error) => log.error(logEvent('config.reload_rejected', { err: err.message }), 'reload failed'));
  };
  const now = () => process.exit(1);
  const release = () => {
    process.off('SIGHUP', onHup).off('SIGTERM', onStop).off('SIGINT', onStop);
  };
  // While stopping, a reload makes no sense, but SIGHUP's default action would kill the daemon.
  const ignoreHup = () => undefined;
  function onStop(signal: NodeJS.Signals) {
    // A second signal while stopping means "now". The new handlers go in before the old ones go
    // out, and before the line is logged, so no signal ever meets the default action.
    process.once('SIGTERM', now).once('SIGINT', now).on('SIGHUP', ignoreHup);
    release();
    log.info(logEvent('daemon.stopping', { signal }), 'stopping: finishing the work in hand');
    void reloading.then(() => resolveStopped(0));
  }
  process.on('SIGHUP', onHup).on('SIGTERM', onStop).on('SIGINT', onStop);
  return {
    stopped,
    started() {
      running = true;
      if (hupWhileStarting) onHup();
    },
    release,
  };
}
