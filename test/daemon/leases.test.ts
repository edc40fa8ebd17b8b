// Box leases against a real database (SPEC §10): each box has exactly one holder however many
// daemons race for it, a holder keeps its box by renewing and loses it only once the lease ran
// out, the boxes spread over the live daemons (fair share), a clean stop gives every box up, and
// a daemon that cannot renew stops working a box before its lease runs out. Every daemon here
// has its own connection to the same database, as separate processes would. Times are named
// explicitly (`now`), so expiry is tested without waiting for it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMs } from '../../src/clock';
import { openDatabase, type Opened } from '../../src/db/connection';
import { heartbeat, listLeases, releaseLeftBy, takeOrRenew } from '../../src/db/leases';
import { fairShare, LeaseKeeper, newHolder, type BoxWork } from '../../src/daemon/leases';
import { createLogger } from '../../src/log';
import { makeTempDir, removeTempDir } from '../support/tmp';
import { waitFor } from '../support/wait';

const LEASE = 30_000;
const T0 = '2026-03-02T10:00:00.000Z';
const at = (s: number) => addMs(T0, s * 1000);
const log = createLogger({ level: 'silent' });
const BOXES = Array.from({ length: 20 }, (_, i) => `box${String(i).padStart(2, '0')}`);

let dir: string;
const opened: Opened[] = [];
let n = 0;

/** A fresh database, and `count` connections to it (one per daemon). */
async function connections(count: number): Promise<Opened[]> {
  const dataDir = `${dir}/db${++n}`;
  const out: Opened[] = [];
  for (let i = 0; i < count; i++) out.push(await openDatabase({ dataDir }));
  opened.push(...out);
  return out;
}

/** The work a keeper starts and stops, recorded; a stop also notes whether the lease was still ours then. */
function recorder(db: Opened, holder: string) {
  const working = new Set<string>();
  const leaseAtStop: Array<string | undefined> = [];
  const work: BoxWork = {
    async start(box) {
      expect(working.has(box)).toBe(false);
      working.add(box);
    },
    async stop(box) {
      working.delete(box);
      const row = await db.db.selectFrom('box_leases').select('holder').where('mailbox_id', '=', box).executeTakeFirst();
      leaseAtStop.push(row?.holder === holder ? 'ours' : row?.holder);
    },
  };
  return { work, working, leaseAtStop };
}

function keeper(db: Opened, node: string) {
  const holder = newHolder(node);
  const rec = recorder(db, holder.id);
  return { k: new LeaseKeeper(db.db, holder, rec.work, log), ...rec, holder };
}

beforeAll(async () => {
  dir = await makeTempDir('mw-leases-');
});
afterAll(async () => {
  for (const o of opened) await o.close();
  await removeTempDir(dir);
});

describe('takeOrRenew', () => {
  it('three daemons racing for 20 boxes at once from their own connections: every box won by exactly one, and the table agrees', async () => {
    const conns = await connections(3);
    const holders = conns.map((_, i) => newHolder(`node${i}`));
    const wins = await Promise.all(
      conns.map((c, i) =>
        Promise.all([...BOXES].sort(() => Math.random() - 0.5).map(async (box) => ((await takeOrRenew(c.db, holders[i]!.id, box, T0, LEASE)) ? box : null))),
      ),
    );
    const won = wins.map((w) => w.filter((b): b is string => b !== null));
    expect(won.flat().sort()).toEqual(BOXES);
    const rows = await listLeases(conns[0]!.db);
    expect(rows.map((r) => r.mailbox_id)).toEqual(BOXES);
    for (const [i, boxes] of won.entries()) for (const box of boxes) expect(rows.find((r) => r.mailbox_id === box)!.holder).toBe(holders[i]!.id);
  });

  it('the holder renews its lease; another daemon cannot take it before it runs out, and takes it after', async () => {
    const [a, b] = await connections(2);
    const [ha, hb] = [newHolder('a'), newHolder('b')];
    expect(await takeOrRenew(a!.db, ha.id, 'one', at(0), LEASE)).toBe(true);
    expect(await takeOrRenew(b!.db, hb.id, 'one', at(10), LEASE)).toBe(false);
    expect(await takeOrRenew(a!.db, ha.id, 'one', at(20), LEASE)).toBe(true); // now runs to 50s
    expect(await takeOrRenew(b!.db, hb.id, 'one', at(40), LEASE)).toBe(false); // would have run out at 30s without the renewal
    expect(await listLeases(a!.db)).toEqual([{ mailbox_id: 'one', holder: ha.id, expires_at: at(50), taken_at: at(0) }]);
    expect(await takeOrRenew(b!.db, hb.id, 'one', at(50.001), LEASE)).toBe(true);
    expect(await listLeases(a!.db)).toEqual([{ mailbox_id: 'one', holder: hb.id, expires_at: at(80.001), taken_at: at(50.001) }]);
    // The old holder's renewal now fails: it has lost the box.
    expect(await takeOrRenew(a!.db, ha.id, 'one', at(51), LEASE)).toBe(false);
  });
});

describe('LeaseKeeper', () => {
  it('fair share: three keepers racing converge on every box held by exactly one of them, at most ceil(20/3) each', async () => {
    const conns = await connections(3);
    const ks = conns.map((c, i) => keeper(c, `n${i}`));
    for (let round = 0; round < 4; round++) {
      await Promise.all(ks.map(({ k }) => k.round(BOXES, LEASE, at(round * 10))));
    }
    const held = ks.map(({ k }) => k.heldBoxes());
    expect(held.flat().sort()).toEqual(BOXES);
    for (const h of held) expect(h.length).toBeLessThanOrEqual(fairShare(20, 3));
    for (const [i, { working }] of ks.entries()) expect([...working].sort()).toEqual(held[i]);
    const rows = await listLeases(conns[0]!.db);
    for (const [i, h] of held.entries()) expect(rows.filter((r) => r.holder === ks[i]!.holder.id).map((r) => r.mailbox_id)).toEqual(h);
    for (const { k } of ks) k.dispose();
  });

  it('a daemon holding more than its share releases the excess (work stopped before the lease goes) and the newcomer takes it; a clean stop gives every box up', async () => {
    const [ca, cb] = await connections(2);
    const a = keeper(ca!, 'a');
    const b = keeper(cb!, 'b');
    expect((await a.k.round(BOXES, LEASE, at(0))).held).toEqual(BOXES);
    // b comes up: nothing is free yet.
    expect((await b.k.round(BOXES, LEASE, at(1))).taken).toEqual([]);
    const r = await a.k.round(BOXES, LEASE, at(10));
    expect(r).toMatchObject({ live: 2, share: 10 });
    expect(r.released).toHaveLength(10);
    expect(a.leaseAtStop).toEqual(Array(10).fill('ours'));
    expect((await b.k.round(BOXES, LEASE, at(11))).taken.sort()).toEqual([...r.released].sort());
    expect([...b.working].sort()).toEqual([...r.released].sort());

    // a stops cleanly: its boxes and its heartbeat are gone, and b takes everything at its next round.
    const held = a.k.heldBoxes();
    expect((await a.k.releaseAll()).sort()).toEqual(held);
    expect(a.working.size).toBe(0);
    expect((await listLeases(ca!.db)).filter((row) => row.holder === a.holder.id)).toEqual([]);
    expect(await ca!.db.selectFrom('daemon_nodes').select('id').where('id', '=', a.holder.id).execute()).toEqual([]);
    expect((await b.k.round(BOXES, LEASE, at(12))).held).toEqual(BOXES);
    b.k.dispose();
  });

  it('a daemon that died keeps its boxes until the leases run out; then another takes them all', async () => {
    const [ca, cb] = await connections(2);
    const a = keeper(ca!, 'a');
    const b = keeper(cb!, 'b');
    await a.k.round(BOXES, LEASE, at(0));
    a.k.dispose(); // killed: no more rounds, nothing released
    const early = await b.k.round(BOXES, LEASE, at(29));
    expect(early.taken).toEqual([]);
    // The service runs its next round right after this instant, not a third of a lease later.
    expect(early.nextExpiry).toBe(at(30));
    const later = await b.k.round(BOXES, LEASE, at(31));
    expect(later).toMatchObject({ live: 1, share: 20 });
    expect(later.taken.sort()).toEqual(BOXES);
    expect(new Set((await listLeases(cb!.db)).map((row) => row.holder))).toEqual(new Set([b.holder.id]));
    b.k.dispose();
  });

  it('a box no longer configured is stopped and released', async () => {
    const [c] = await connections(1);
    const a = keeper(c!, 'a');
    await a.k.round(['x', 'y'], LEASE, at(0));
    const r = await a.k.round(['y'], LEASE, at(10));
    expect(r.released).toEqual(['x']);
    expect(a.leaseAtStop).toEqual(['ours']);
    expect((await listLeases(c!.db)).map((row) => row.mailbox_id)).toEqual(['y']);
    a.k.dispose();
  });

  it('a daemon that cannot renew stops working its box before the lease runs out (stop margin)', async () => {
    const [c] = await connections(1);
    const a = keeper(c!, 'a');
    const lease = 3000;
    const started = Date.now();
    await a.k.round(['x'], lease);
    expect(a.working.has('x')).toBe(true);
    // No more rounds (the database is gone): the work on x stops by itself.
    await waitFor(() => !a.working.has('x'), { what: 'the box to be stopped without a renewal', timeoutMs: lease, intervalMs: 20 });
    const stoppedAfter = Date.now() - started;
    expect(stoppedAfter).toBeGreaterThanOrEqual(lease - lease / 3 - 50);
    // The lease in the database still runs: the box was stopped before anybody else could take it.
    expect(stoppedAfter).toBeLessThan(lease);
    expect(a.k.heldBoxes()).toEqual([]);
    a.k.dispose();
  });

  it('a restarted daemon releases at once the leases its killed predecessor on the same node left (pid from the stale lock)', async () => {
    const [c] = await connections(1);
    const dead = newHolder('host1', 4242);
    const other = newHolder('host2', 4242);
    await heartbeat(c!.db, dead, at(0));
    await heartbeat(c!.db, other, at(0));
    for (const box of ['p', 'q']) expect(await takeOrRenew(c!.db, dead.id, box, at(0), LEASE)).toBe(true);
    expect(await takeOrRenew(c!.db, other.id, 'r', at(0), LEASE)).toBe(true);
    const me = newHolder('host1', 5151);
    expect((await releaseLeftBy(c!.db, 'host1', 4242, me.id)).sort()).toEqual(['p', 'q']);
    // The same pid on another node is somebody else's daemon: untouched.
    expect(await listLeases(c!.db)).toEqual([expect.objectContaining({ mailbox_id: 'r', holder: other.id })]);
  });
});

describe('fairShare', () => {
  it('shares the boxes out rounded up, so none is left over', () => {
    expect([fairShare(20, 1), fairShare(20, 2), fairShare(20, 3), fairShare(3, 2), fairShare(1, 5), fairShare(0, 2), fairShare(5, 0)]).toEqual([
      20, 10, 7, 2, 1, 0, 5,
    ]);
  });
});
