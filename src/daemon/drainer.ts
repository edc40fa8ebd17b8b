// The outbox drainer service of `mailwarden run`: polls the outbox and sends what is due, one
// row at a time, and on stop finishes the row in hand. The work itself (claims, sending,
// recording the outcome) is drainOnce in src/outbound/drainer.ts; this only runs it in a loop.
// A database locked by another process (or full) is no drainer error: the row waits for the next
// round. It is said once at warn when it starts, then at debug, so a long lock does not fill the
// log with a line every half second.
import type { Config } from '../config/types.js';
import { isBusy } from '../db/errors.js';
import { drainOnce } from '../outbound/drainer.js';
import { logEvent } from '../log.js';
import type { Service, ServiceContext, ServiceFactory } from './service.js';

/** How often an idle drainer looks at the outbox (a plain read; it takes no write lock). */
const POLL_MS = 500;

/** The drainer as a daemon service: polls the outbox, finishes the row in hand on stop. */
export const createDrainerService: ServiceFactory = (ctx: ServiceContext): Service => {
  let config = ctx.config;
  let stopping = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
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
      try {
        // The config is asked before each row, so a reload's smtp settings apply from the next row.
        await drainOnce({ config, db: ctx.db, log: ctx.log }, { shouldStop: () => stopping, currentConfig: () => config });
        busyRounds = 0;
      } catch (err) {
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
      if (!stopping) await pause(POLL_MS);
    }
  }

  return {
    name: 'outbox',
    async start() {
      stopping = false;
      loop = run();
      ctx.log.info(logEvent('outbox.drainer_started', { transport: config.smtp.transport }), 'outbox drainer started');
    },
    async stop() {
      stopping = true;
      wake?.();
      await loop;
      ctx.log.info(logEvent('outbox.drainer_stopped'), 'outbox drainer stopped');
    },
    async reload(next: Config) {
      config = next;
    },
  };
};
