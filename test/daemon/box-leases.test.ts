// Box leases in the real daemon (SPEC §10): `mailwarden run` works the boxes it holds a lease on
// (mail in each becomes a case), gives them up on SIGTERM, and when it is killed with -9 a daemon
// from another node takes its boxes over once the leases have run out, while a daemon restarted on
// the same node takes them at once (the killed one's pid lock says it is dead). A daemon that
// cannot renew its leases (the database locked by another process for longer than the lease)
// stops its boxes before the leases run out, and takes them again when the database is back.
// SQLite allows one daemon per data dir, so "another daemon" there is the next one started. The
// last test runs two daemons at once on one PostgreSQL database (the test run's server, in either
// pass), each node with its own pid lock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresUrl, testBackend } from '../support/backend';
import { startDaemon, type Daemon } from '../support/cli';
import { rewriteTestConfig, writeTestConfig, type TestConfig } from '../support/config';
import { startDovecot, type DovecotInstance } from '../support/dovecot';
import { appendMail, buildMail } from '../support/imap';
import { removeTempDir } from '../support/tmp';
import { waitFor } from '../support/wait';
import { holdWriteLock, newMessageId, openDb, waitForInbound } from '../ingest/helpers';
import type { Opened } from '../../src/db/connection';

const FOUR = ['north', 'south', 'east', 'west'].map((id) => ({ id, address: `lease2-${id}@example.test`, pool: 'general' }));

const BOXES = [
  { id: 'east', address: 'lease-east@example.test', pool: 'general' },
  { id: 'west', address: 'lease-west@example.test', pool: 'general' },
];

let dovecot: DovecotInstance;
const dirs: string[] = [];
const daemons: Daemon[] = [];
const dbs: Opened[] = [];

beforeAll(async () => {
  dovecot = await startDovecot();
  for (const b of [...BOXES, ...FOUR]) await dovecot.addUser(b.address, 'secret');
});
afterAll(async () => {
  for (const d of daemons) await d.kill();
  for (const db of dbs) await db.close();
  for (const d of dirs) await removeTempDir(d);
  await dovecot?.stop();
});

async function setup(lease: string, node = 'alpha'): Promise<{ cfg: TestConfig; db: Opened }> {
  const cfg = await writeTestConfig({
    imap: { host: dovecot.host, port: dovecot.port },
    mailboxes: BOXES,
    overrides: { instance: { node_name: node }, ingest: { box_lease: lease } },
  });
  dirs.push(cfg.dir);
  const db = await openDb(cfg);
  dbs.push(db);
  return { cfg, db };
}

async function start(cfg: TestConfig): Promise<Daemon> {
  const daemon = await startDaemon(cfg.configPath);
  daemons.push(daemon);
  return daemon;
}

const holderOf = (daemon: Daemon): string => daemon.logs.find((l) => l.event === 'daemon.ready')!.holder;

const leases = (db: Opened) => db.db.selectFrom('box_leases').selectAll().orderBy('mailbox_id').execute();

/** Waits until both boxes are leased to `holder`; returns the rows. */
async function waitForLeases(db: Opened, holder: string, what: string) {
  return waitFor(
    async () => {
      const rows = await leases(db);
      return rows.length === 2 && rows.every((r) => r.holder === holder) ? rows : null;
    },
    { what, timeoutMs: 30_000, intervalMs: 100 },
  );
}

/** One mail into each box; resolves once each has become a case. */
async function mailBothBoxes(db: Opened, subject: string): Promise<void> {
  const ids = await Promise.all(
    BOXES.map(async (b) => {
      const messageId = newMessageId();
      await appendMail(
        dovecot,
        b.address,
        'INBOX',
        buildMail({ from: 'customer@customer.test', to: b.address, subject: `${subject} ${b.id}`, text: 'hi', messageId }),
      );
      return [b.id, messageId] as const;
    }),
  );
  for (const [box, messageId] of ids) {
    const row = await waitForInbound(db, messageId, `mail in ${box} (${subject}) to become a case`, 30_000);
    expect(row).toMatchObject({ mailbox_id: box, outcome: 'case' });
  }
}

describe('box leases in the daemon', () => {
  it('one daemon holds and works both boxes; SIGTERM gives the leases up (fails if a box is not worked or a lease is left)', async () => {
    const { cfg, db } = await setup('30s');
    const daemon = await start(cfg);
    const holder = holderOf(daemon);
    expect(holder).toMatch(new RegExp(`^alpha:${daemon.proc.pid}:[0-9a-f]+$`));
    const rows = await waitForLeases(db, holder, 'both leases held by the daemon');
    expect(Date.parse(rows[0]!.expires_at) - Date.parse(rows[0]!.taken_at)).toBeGreaterThanOrEqual(29_000);
    await mailBothBoxes(db, 'Leased');
    expect(
      daemon.logs
        .filter((l) => l.event === 'box.lease_taken')
        .map((l) => l.mailbox)
        .sort(),
    ).toEqual(['east', 'west']);

    expect(await daemon.stop()).toBe(0);
    expect(await leases(db)).toEqual([]);
    expect(await db.db.selectFrom('daemon_nodes').selectAll().execute()).toEqual([]);
    expect(
      daemon.logs
        .filter((l) => l.event === 'box.lease_released')
        .map((l) => l.mailbox)
        .sort(),
    ).toEqual(['east', 'west']);
  });

  it('after kill -9, a daemon on another node takes the boxes once the leases ran out, not before, and works them (fails on an early take-over or lost boxes)', async () => {
    const { cfg, db } = await setup('3s');
    const first = await start(cfg);
    const old = await waitForLeases(db, holderOf(first), 'both leases held by the first daemon');
    await first.kill();
    // The first daemon's last renewal: its leases run out at these times.
    const lastExpiry = Math.max(...(await leases(db)).map((r) => Date.parse(r.expires_at)));
    expect(lastExpiry).toBeGreaterThanOrEqual(Math.max(...old.map((r) => Date.parse(r.expires_at))));

    rewriteTestConfig(cfg, (doc) => (doc.instance.node_name = 'beta'));
    const second = await start(cfg);
    const holder = holderOf(second);
    expect(holder.startsWith('beta:')).toBe(true);
    const rows = await waitForLeases(db, holder, 'the second daemon to take both boxes over');
    for (const r of rows) expect(Date.parse(r.taken_at)).toBeGreaterThan(lastExpiry);
    await mailBothBoxes(db, 'After the take-over');
    expect(await second.stop()).toBe(0);
  });

  it('a daemon restarted on the same node after kill -9 takes the boxes at once, without waiting for the leases to run out', async () => {
    const { cfg, db } = await setup('10m');
    const first = await start(cfg);
    const old = await waitForLeases(db, holderOf(first), 'both leases held by the first daemon');
    await first.kill();
    const second = await start(cfg);
    const rows = await waitForLeases(db, holderOf(second), 'the restarted daemon to take both boxes');
    for (const r of rows) expect(Date.parse(r.taken_at)).toBeLessThan(Date.parse(old[0]!.expires_at));
    expect(
      second.logs
        .filter((l) => l.event === 'box.lease_released' && l.reason === 'its daemon died')
        .map((l) => l.mailbox)
        .sort(),
    ).toEqual(['east', 'west']);
    await mailBothBoxes(db, 'After the restart');
    expect(await second.stop()).toBe(0);
  });

  // SQLite's write lock held from outside stands for a lost database; PostgreSQL has no such lock.
  it.skipIf(testBackend() === 'postgres')(
    'a daemon that cannot renew (database locked longer than the lease) stops its boxes before the leases run out, then takes them again (fails if it works a box past its lease)',
    async () => {
      const { cfg, db } = await setup('3s');
      const daemon = await start(cfg);
      const holder = holderOf(daemon);
      await waitForLeases(db, holder, 'both leases held');
      const lock = await holdWriteLock(db.file);
      let lost: Array<Record<string, any>>;
      try {
        // Reads go on under the write lock (WAL): the leases as last renewed.
        const expiry = new Map((await leases(db)).map((r) => [r.mailbox_id, Date.parse(r.expires_at)]));
        lost = await waitFor(
          () => {
            const lines = daemon.logs.filter((l) => l.event === 'box.lease_lost' && l.reason === 'not renewed in time');
            return lines.length === 2 ? lines : null;
          },
          { what: 'both boxes to be stopped for want of a renewal', timeoutMs: 15_000, intervalMs: 50 },
        );
        for (const l of lost) expect(l.time).toBeLessThan(expiry.get(l.mailbox)!);
      } finally {
        await lock.release();
      }
      const takenAgain = await waitFor(
        () => {
          const after = daemon.logs.filter((l) => l.event === 'box.lease_taken' && l.time > Math.max(...lost.map((x) => x.time)));
          return after.length === 2 ? after : null;
        },
        { what: 'both boxes taken again once the database is back', timeoutMs: 15_000, intervalMs: 50 },
      );
      expect(takenAgain.map((l) => l.mailbox).sort()).toEqual(['east', 'west']);
      await mailBothBoxes(db, 'After the lock');
      expect(await daemon.stop()).toBe(0);
    },
  );

  it('two daemons at once share four boxes two and two, each box worked by one of them at a time, and after a SIGTERM the other works all four (fails on a box worked twice or left idle)', async () => {
    const cfg = await writeTestConfig({
      imap: { host: dovecot.host, port: dovecot.port },
      mailboxes: FOUR,
      overrides: { database: { url: await freshPostgresUrl() }, instance: { node_name: 'one' }, ingest: { box_lease: '3s' } },
    });
    dirs.push(cfg.dir);
    const db = await openDb(cfg);
    dbs.push(db);
    const a = await start(cfg);
    // The second node: same database and boxes, its own name (and so its own pid lock).
    const cfgB = await writeTestConfig({
      imap: { host: dovecot.host, port: dovecot.port },
      mailboxes: FOUR,
      overrides: { ...cfg.doc, instance: { ...cfg.doc.instance, node_name: 'two' } },
    });
    dirs.push(cfgB.dir);
    await waitFor(async () => (await leases(db)).length === 4, { what: 'the first daemon to take all four boxes', timeoutMs: 30_000, intervalMs: 100 });
    const b = await start(cfgB);
    const [ha, hb] = [holderOf(a), holderOf(b)];
    await waitFor(
      async () => {
        const rows = await leases(db);
        return rows.filter((r) => r.holder === ha).length === 2 && rows.filter((r) => r.holder === hb).length === 2;
      },
      { what: 'the boxes to spread two and two', timeoutMs: 30_000, intervalMs: 100 },
    );
    const ids = await Promise.all(
      FOUR.map(async (box) => {
        const messageId = newMessageId();
        await appendMail(
          dovecot,
          box.address,
          'INBOX',
          buildMail({ from: 'c@customer.test', to: box.address, subject: `Shared ${box.id}`, text: 'hi', messageId }),
        );
        return messageId;
      }),
    );
    for (const id of ids) expect((await waitForInbound(db, id, 'mail in a shared box to become a case', 30_000)).outcome).toBe('case');

    expect(await a.stop()).toBe(0);
    await waitForLeases4(db, hb);
    const more = newMessageId();
    await appendMail(
      dovecot,
      FOUR[0]!.address,
      'INBOX',
      buildMail({ from: 'c@customer.test', to: FOUR[0]!.address, subject: 'After one stopped', text: 'hi', messageId: more }),
    );
    expect((await waitForInbound(db, more, 'mail after the first daemon stopped', 30_000)).outcome).toBe('case');
    expect(await b.stop()).toBe(0);

    // Each box moved from a to b only after a had stopped it and given it up.
    for (const box of FOUR.map((x) => x.id)) {
      const released = a.logs.filter((l) => l.mailbox === box && l.event === 'box.lease_released').map((l) => l.time as number);
      const takenByB = b.logs.filter((l) => l.mailbox === box && l.event === 'box.lease_taken').map((l) => l.time as number);
      expect(takenByB.length).toBeGreaterThan(0);
      for (const t of takenByB) expect(released.some((r) => r <= t)).toBe(true);
    }
  });
});

async function waitForLeases4(db: Opened, holder: string) {
  return waitFor(
    async () => {
      const rows = await leases(db);
      return rows.length === 4 && rows.every((r) => r.holder === holder);
    },
    { what: 'the remaining daemon to hold all four boxes', timeoutMs: 30_000, intervalMs: 100 },
  );
}
