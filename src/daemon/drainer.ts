// The outbox drainer service of `mailwarden run`: sends what is due, a few rows at once, and on
// stop finishes the rows in hand. It is woken by every commit in this process that queued mail
// (src/outbound/outbox-wake.ts), with the ids of the rows that commit made due, and claims those
// by id, so an auto-response leaves within milliseconds of its commit at the cost of one UPDATE.
// It searches for due rows at its poll (smtp.poll_interval), also while wakes keep coming: mail
// queued by other processes (the CLI), rows whose retry time came, rows a dead drainer left. A
// wake that arrives while a round runs is kept, so the next round starts at once instead of after
// a poll. The work itself (claims, sending, recording the outcome) is drainOnce in
// src/outbound/drainer.ts; this only runs it in a loop.
// A database locked by another process (or full) is no drainer error: the row waits for the next
// round. It is said once at warn when it starts, then at debug, so a long lock does not fill the
// log with a line every half second.
import type { Config } from '../config/types.js';
import { commitMark } from '../db/commit-sync.js';
import { isBusy } from '../db/errors.js';
import { drainOnce } from '../outbound/drainer.js';
import { logEvent } from '../log.js';
import { onMailQueued } from '../outbound/outbox-wake.js';
import { lingeringSender } from '../outbound/lingering-sender.js';
import type { Service, ServiceContext, ServiceFactory } from './service.js';

/** The drainer as a daemon service: woken by this process's commits, polls for the others', finishes the row in hand on stop. */
export const createDrainerService: ServiceFactory = (ctx: ServiceContext): Service => {
  let config = ctx.config;
  let stopping = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  // Rows this process's commits made due and no round has claimed yet.
  const woken: number[] = [];
  // A commitMark taken at the latest wake, after the commits that made them due: the sync before
  // they are sent shares the one the delivery that queued them asked for.
  let wokenUpTo = 0;
  // When the next round searches for due rows (ms): the first at once, then one poll after each.
  let nextSearchAt = 0;
  let unsubscribe: (() => void) | null = null;
  // One connection to the relay across rounds, closed after a short idle linger (lingering-sender.ts).
  const sender = lingeringSender(() => config);

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken.length > 0 || stopping) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });

  async function run(): Promise<void> {
    let busyRounds = 0;
    while (!stopping) {
      const searchForDue = Date.now() >= nextSearchAt;
      if (searchForDue) nextSearchAt = Date.now() + config.smtp.poll_interval;
      try {
        // The config is asked before each row, so a reload's smtp settings apply from the next row.
        const rows = await drainOnce(
          { config, db: ctx.db, log: ctx.log },
          {
            sender,
            shouldStop: () => stopping,
            currentConfig: () => config,
            takeWoken: (max) => ({ ids: woken.splice(0, max), upTo: wokenUpTo }),
            searchForDue,
            syncCommits: ctx.syncCommits,
          },
        );
        busyRounds = 0;
        if (rows > 0) ctx.log.debug(logEvent('outbox.round_done', { rows }), 'outbox round done; waiting for queued mail or the next poll');
      } catch (err) {
        // Rows of a round that failed are still due in the database; the next search finds them.
        if (isBusy(err)) {
          busyRounds++;
          const level = busyRounds === 1 ? 'warn' : 'debug';
          ctx.log[level](
            logEvent('outbox.drainer_busy', { err: (err as Error).message, rounds: busyRounds }),
            'the database is busy or full; the outbox waits',
          );
        } else {
          ctx.log.error(logEvent('outbox.drainer_error', { err }), 'outbox drainer error');
        }
      }
      // setTimeout fires at once past 2^31-1 ms; a poll that long is "never" anyway.
      if (!stopping) await pause(Math.min(Math.max(0, nextSearchAt - Date.now()), 2 ** 31 - 1));
    }
  }

  return {
    name: 'outbox',
    async start() {
      stopping = false;
      unsubscribe = onMailQueued((ids) => {
        woken.push(...ids);
        wokenUpTo = commitMark(ctx.db);
        wake?.();
      });
      loop = run();
      ctx.log.info(logEvent('outbox.drainer_started', { transport: config.smtp.transport }), 'outbox drainer started');
    },
    async stop() {
      stopping = true;
      wake?.();
      await loop;
      sender.close();
      unsubscribe?.();
      unsubscribe = null;
      ctx.log.info(logEvent('outbox.drainer_stopped'), 'outbox drainer stopped');
    },
    async reload(next: Config) {
      config = next;
    },
  };
};
