// The IMAP side of `mailwarden run` under box leases (SPEC §10): one service that runs the lease
// rounds (./leases.ts) and keeps an IMAP worker (./imap-service.ts) for exactly the boxes this
// daemon holds. With one daemon it holds every box; with several, each works its fair share, and
// a box whose daemon died is taken over within the lease time. The first round runs before the
// daemon says it is ready, so a single daemon starts its boxes as fast as before; a reload that
// adds, removes or changes boxes runs a round at once. On stop every worker finishes the message
// in hand, then every lease is given up, so another daemon may take the boxes straight away.
import { nowIso } from '../clock.js';
import type { Config, MailboxConfig } from '../config/types.js';
import { isBusy } from '../db/errors.js';
import type { LeaseHolder } from '../db/leases.js';
import type { IngestContext } from '../ingest/pipeline.js';
import { logEvent } from '../log.js';
import { createImapService } from './imap-service.js';
import { LeaseKeeper, renewEvery } from './leases.js';
import type { Service } from './service.js';

/** After a failed round (database busy or gone), the next one comes this soon at the latest. */
const RETRY_MS = 1000;
/** A round for a lease that runs out comes this long after it, so the lease has surely run out. */
const AFTER_EXPIRY_MS = 50;

type Worker = ReturnType<typeof createImapService>;

export class BoxLeasesService implements Service {
  readonly name = 'boxes';
  private readonly keeper: LeaseKeeper;
  private readonly workers = new Map<string, Worker>();
  /** Workers still finishing: a box taken again waits for its old worker to be gone. */
  private readonly stopping = new Map<string, Promise<void>>();
  private rounds: Promise<unknown> = Promise.resolve();
  private loop: Promise<void> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private failures = 0;
  /** When another daemon's lease runs out next (ms since the epoch, on the clock of src/clock.ts). */
  private nextExpiry: number | null = null;

  constructor(
    private readonly ctx: IngestContext,
    holder: LeaseHolder,
  ) {
    this.keeper = new LeaseKeeper(ctx.db, holder, { start: (id) => this.startWorker(id), stop: (id) => this.stopWorker(id) }, ctx.log);
  }

  async start(): Promise<void> {
    await this.round();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.serially(async () => {
      try {
        await this.keeper.releaseAll();
      } catch (err) {
        // The workers are stopped; the leases run out on their own.
        this.keeper.dispose();
        this.ctx.log.warn(logEvent('box.leases_failed', { err: (err as Error).message }), 'could not give the box leases up; they run out on their own');
      }
    });
    await Promise.all(this.stopping.values());
  }

  /** Workers of held boxes whose settings changed restart; added and removed boxes are settled by a round now. */
  async reload(next: Config): Promise<void> {
    await this.serially(async () => {
      for (const [id, worker] of [...this.workers]) {
        const box = imapBoxes(next).find((m) => m.id === id);
        if (!box || JSON.stringify(box) === JSON.stringify(worker.mailbox)) continue;
        await this.stopWorker(id);
        await this.startWorker(id);
      }
    });
    await this.round();
  }

  /** Boxes this daemon works now. */
  held(): string[] {
    return this.keeper.heldBoxes();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const lease = this.ctx.getConfig().ingest.box_lease;
      await this.pause(this.nextDelay(lease));
      if (!this.stopped) await this.round();
    }
  }

  /**
   * Every third of the lease; sooner after a failure; and right after another daemon's lease runs
   * out (a dead daemon's boxes are then taken within the lease time, not up to a third later).
   */
  private nextDelay(lease: number): number {
    let delay = this.failures > 0 ? Math.min(RETRY_MS, renewEvery(lease)) : renewEvery(lease);
    if (this.nextExpiry !== null) delay = Math.min(delay, Math.max(0, this.nextExpiry - Date.parse(nowIso())) + AFTER_EXPIRY_MS);
    return delay;
  }

  /** One lease round, after any other; a failure is logged and the next round comes soon. */
  private round(): Promise<void> {
    return this.serially(async () => {
      const config = this.ctx.getConfig();
      try {
        const result = await this.keeper.round(
          imapBoxes(config).map((m) => m.id),
          config.ingest.box_lease,
        );
        this.nextExpiry = result.nextExpiry === null ? null : Date.parse(result.nextExpiry);
        this.failures = 0;
      } catch (err) {
        this.failures++;
        const level = this.failures === 1 ? 'warn' : isBusy(err) ? 'debug' : 'warn';
        this.ctx.log[level](
          logEvent('box.leases_failed', { err: (err as Error).message, failures: this.failures }),
          'the box leases could not be renewed; trying again',
        );
      }
    });
  }

  private serially(fn: () => Promise<void>): Promise<void> {
    const next = this.rounds.then(fn);
    this.rounds = next.catch(() => undefined);
    return next;
  }

  private async startWorker(id: string): Promise<void> {
    await this.stopping.get(id);
    const box = imapBoxes(this.ctx.getConfig()).find((m) => m.id === id);
    if (!box || this.workers.has(id)) return;
    const worker = createImapService(this.ctx, box);
    this.workers.set(id, worker);
    await worker.start();
  }

  private stopWorker(id: string): Promise<void> {
    const worker = this.workers.get(id);
    if (!worker) return this.stopping.get(id) ?? Promise.resolve();
    this.workers.delete(id);
    const done = worker
      .stop()
      .catch((err: Error) =>
        this.ctx.log.error(logEvent('service.stop_failed', { service: worker.name, err: err.message }), 'box worker failed to stop cleanly'),
      )
      .finally(() => {
        if (this.stopping.get(id) === done) this.stopping.delete(id);
      });
    this.stopping.set(id, done);
    return done;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function imapBoxes(config: Config): MailboxConfig[] {
  return config.mailboxes.filter((m) => m.imap);
}
