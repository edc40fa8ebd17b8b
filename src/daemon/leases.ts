// Box leases for several daemons sharing one database (SPEC §10): each mailbox is worked by one
// daemon at a time, and when a daemon dies another takes its boxes within the lease time.
// A LeaseKeeper runs one round every third of the lease: it says it is alive (daemon_nodes),
// renews the leases it holds, gives up what is above its fair share (ceil(boxes / live daemons))
// so a daemon that starts later gets boxes too, and takes free or run-out boxes up to that share.
// Each take or renewal is one compare-and-set upsert (src/db/leases.ts). The work on a box is
// started only after its lease is won, and stopped before the lease is given up.
// A daemon that cannot renew (the database is gone, or locked) must not go on working a box that
// another daemon may take once the lease runs out: every renewal arms a local timer that stops the
// box a third of the lease before it runs out (the stop margin, which also covers the time the
// worker takes to finish the message in hand, and clock skew between machines).
import crypto from 'node:crypto';
import { nowIso, addMs } from '../clock.js';
import type { Db } from '../db/connection.js';
import {
  boxesNotHeldByOthers,
  forgetDeadDaemons,
  heartbeat,
  liveDaemons,
  nextForeignExpiry,
  releaseAllLeases,
  releaseLease,
  takeOrRenew,
  type LeaseHolder,
} from '../db/leases.js';
import { logEvent, type Logger } from '../log.js';

/** Daemons not seen for this long are forgotten (their leases ran out long before). */
const FORGET_AFTER_MS = 24 * 3600_000;

/** A new holder id for this daemon run: `<node>:<pid>:<random>`, so a restart is a new holder. */
export function newHolder(node: string, pid = process.pid): LeaseHolder {
  return { id: `${node}:${pid}:${crypto.randomBytes(6).toString('hex')}`, node, pid };
}

/** The boxes one daemon should hold: all of them shared out, rounded up so that none is left over. */
export function fairShare(boxes: number, live: number): number {
  return Math.ceil(boxes / Math.max(1, live));
}

/** How a round is paced: renew every third of the lease; stop a box a third before it runs out. */
export function renewEvery(leaseMs: number): number {
  return Math.floor(leaseMs / 3);
}

function stopMargin(leaseMs: number): number {
  return Math.floor(leaseMs / 3);
}

/** What the keeper asks of whoever works the boxes. */
export interface BoxWork {
  /** Begin working a box whose lease was just won. */
  start(mailboxId: string): Promise<void>;
  /** Stop working a box; resolves once the message in hand is finished. */
  stop(mailboxId: string): Promise<void>;
}

export interface RoundResult {
  live: number;
  share: number;
  taken: string[];
  released: string[];
  lost: string[];
  held: string[];
  /** When another holder's lease runs out next (a box that may then be free), or null. */
  nextExpiry: string | null;
}

export class LeaseKeeper {
  /** Boxes held, each with the timer that stops its work if the lease is not renewed in time. */
  private readonly held = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly db: Db,
    readonly holder: LeaseHolder,
    private readonly work: BoxWork,
    private readonly log: Logger,
  ) {}

  heldBoxes(): string[] {
    return [...this.held.keys()].sort();
  }

  /** One round over the configured boxes at `now`; the caller runs rounds one after another. */
  async round(boxes: string[], leaseMs: number, now = nowIso()): Promise<RoundResult> {
    // Leases written this round run out leaseMs after `now`, which is no later than this instant.
    const started = Date.now();
    const result: RoundResult = { live: 1, share: 0, taken: [], released: [], lost: [], held: [], nextExpiry: null };
    await heartbeat(this.db, this.holder, now);
    result.live = await liveDaemons(this.db, addMs(now, -leaseMs));
    result.share = fairShare(boxes.length, result.live);
    const configured = new Set(boxes);
    for (const box of this.heldBoxes()) {
      if (!configured.has(box)) await this.release(box, 'no longer configured', result);
    }
    await this.renew(leaseMs, now, started, result);
    const excess = this.heldBoxes().slice(result.share);
    for (const box of excess) await this.release(box, 'above the fair share', result);
    if (this.held.size < result.share) await this.take(boxes, leaseMs, now, started, result);
    await forgetDeadDaemons(this.db, addMs(now, -FORGET_AFTER_MS));
    result.nextExpiry = await nextForeignExpiry(this.db, this.holder.id, now);
    result.held = this.heldBoxes();
    return result;
  }

  /** A clean stop: every box's work is stopped, then every lease given up. */
  async releaseAll(): Promise<string[]> {
    const boxes = this.heldBoxes();
    for (const box of boxes) clearTimeout(this.held.get(box));
    this.held.clear();
    await Promise.all(boxes.map((box) => this.work.stop(box)));
    const released = await releaseAllLeases(this.db, this.holder.id);
    for (const box of released)
      this.log.info(logEvent('box.lease_released', { mailbox: box, holder: this.holder.id, reason: 'stopping' }), 'box lease released');
    return released;
  }

  /** Stops the timers without touching the database (the keeper is dropped without a clean stop). */
  dispose(): void {
    for (const timer of this.held.values()) clearTimeout(timer);
    this.held.clear();
  }

  private async renew(leaseMs: number, now: string, started: number, result: RoundResult): Promise<void> {
    for (const box of this.heldBoxes()) {
      const won = await takeOrRenew(this.db, this.holder.id, box, now, leaseMs);
      if (!this.held.has(box)) continue; // its stop timer fired meanwhile: taken again in a later round
      if (won) {
        this.arm(box, started, leaseMs);
        continue;
      }
      clearTimeout(this.held.get(box));
      this.held.delete(box);
      result.lost.push(box);
      this.log.warn(
        logEvent('box.lease_lost', { mailbox: box, holder: this.holder.id, reason: 'taken by another daemon' }),
        'box lease lost; stopping the box',
      );
      await this.work.stop(box);
    }
  }

  private async take(boxes: string[], leaseMs: number, now: string, started: number, result: RoundResult): Promise<void> {
    const wanted = boxes.filter((box) => !this.held.has(box));
    // Daemons starting together try the free boxes in different orders, so fewer upserts lose.
    const candidates = shuffle(await boxesNotHeldByOthers(this.db, this.holder.id, wanted, now));
    for (const box of candidates) {
      if (this.held.size >= result.share) break;
      if (!(await takeOrRenew(this.db, this.holder.id, box, now, leaseMs))) continue;
      this.arm(box, started, leaseMs);
      result.taken.push(box);
      this.log.info(logEvent('box.lease_taken', { mailbox: box, holder: this.holder.id, share: result.share, live: result.live }), 'box lease taken');
      await this.work.start(box);
    }
  }

  private async release(box: string, reason: string, result: RoundResult): Promise<void> {
    clearTimeout(this.held.get(box));
    this.held.delete(box);
    await this.work.stop(box);
    await releaseLease(this.db, this.holder.id, box);
    result.released.push(box);
    this.log.info(logEvent('box.lease_released', { mailbox: box, holder: this.holder.id, reason }), 'box lease released');
  }

  /**
   * The lease runs out leaseMs after the round started (at the latest); the box's work stops a
   * stop margin before that unless a later renewal re-arms the timer.
   */
  private arm(box: string, started: number, leaseMs: number): void {
    clearTimeout(this.held.get(box));
    const delay = Math.max(0, started + leaseMs - stopMargin(leaseMs) - Date.now());
    this.held.set(
      box,
      setTimeout(() => this.expire(box), delay),
    );
  }

  private expire(box: string): void {
    if (!this.held.delete(box)) return;
    this.log.warn(
      logEvent('box.lease_lost', { mailbox: box, holder: this.holder.id, reason: 'not renewed in time' }),
      'box lease not renewed in time (database unreachable?); stopping the box before another daemon may take it',
    );
    void this.work.stop(box);
  }
}

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
