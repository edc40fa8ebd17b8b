// The drainer sends a mail only once the commit that queued it is durable (src/db/commit-sync.ts):
// the daemon commits without an fsync of its own, and a power loss after the send would undo the
// case the mail speaks of while the mail is out. It asks for the sync after the claim, so a search
// cannot take a row committed while the sync ran, and before the send; a sync that fails gives
// the rows back, queued as before. Rows the daemon's own commits woke come with a mark of those
// commits, and their sync is the one the delivery that queued them asked for: no fsync of its own.
// Proven with a sync the test holds back or fails, and on SQLite with the fsyncs counted.
import { afterEach, describe, expect, it } from 'vitest';
import { writeTx } from '../../src/db/connection';
import { commitMark, fsyncFileSync, syncCommits } from '../../src/db/commit-sync';
import { drainOnce } from '../../src/outbound/drainer';
import { queueMail } from '../../src/outbound/queue';
import { silentLogger } from '../../src/log';
import { testBackend } from '../support/backend';
import { waitFor } from '../support/wait';
import { diskError, heldGates, heldSyncer } from '../support/held';
import { insertCase, outboundEnv, replyInput, type OutboundEnv } from './helpers';

describe('the drainer and the sync of commits', () => {
  let env: OutboundEnv | null = null;
  afterEach(async () => {
    await env?.close();
    env = null;
  });

  async function queued(opts: { deferCommitSync?: boolean } = {}) {
    env = await outboundEnv({ database: opts });
    const caseId = await insertCase(env);
    const q = await writeTx(env.opened.db, (tx) => queueMail(tx, replyInput(env!, caseId)));
    const row = async () => env!.opened.db.selectFrom('outbox').select(['state', 'attempts']).where('id', '=', q.outboxId).executeTakeFirstOrThrow();
    return { outboxId: q.outboxId, row };
  }

  it('sends a claimed mail only after the sync it asked for, and asks none for a round that finds nothing (fails if a mail goes out before its rows are durable)', async () => {
    const { row } = await queued();
    const held = heldGates();
    const draining = drainOnce({ config: env!.config, db: env!.opened.db, log: silentLogger() }, { syncCommits: held.wait });
    await waitFor(() => held.waiting === 1, { what: 'the drainer to ask for the sync' });
    expect((await row()).state).toBe('sending');
    held.release();
    expect(await draining).toBe(1);
    expect((await row()).state).toBe('sent');
    expect(held.waiting).toBe(0);
  });

  it('gives the row back when the sync fails, and the next round sends the mail (fails if a row is left claimed)', async () => {
    const { row } = await queued();
    const held = heldGates();
    const first = drainOnce({ config: env!.config, db: env!.opened.db, log: silentLogger() }, { syncCommits: held.wait });
    await waitFor(() => held.waiting === 1, { what: 'the drainer to ask for the sync' });
    held.fail(diskError());
    await expect(first).rejects.toMatchObject({ code: 'EIO' });
    expect(await row()).toEqual({ state: 'queued', attempts: 0 });
    expect(await drainOnce({ config: env!.config, db: env!.opened.db, log: silentLogger() }, { syncCommits: async () => undefined })).toBe(1);
    expect(await row()).toEqual({ state: 'sent', attempts: 1 });
  });

  it.skipIf(testBackend() === 'postgres')(
    "shares the fsync its woken rows' delivery asked for, and fsyncs for what came after (fails if the drainer pays an fsync of its own, or is answered by one that began before a commit)",
    async () => {
      const { outboxId, row } = await queued({ deferCommitSync: true });
      const db = env!.opened.db;
      const held = heldSyncer(fsyncFileSync);
      // As the daemon: the wake's mark right after the commit, then the delivery's wait for it.
      const upTo = commitMark(db);
      const woken = [outboxId];
      const delivery = syncCommits(db, held.syncer);
      await waitFor(() => held.waiting === 1, { what: "the delivery's fsync to start" });
      const draining = drainOnce(
        { config: env!.config, db, log: silentLogger() },
        { takeWoken: (max) => ({ ids: woken.splice(0, max), upTo }), searchForDue: false, syncCommits: (mark) => syncCommits(db, held.syncer, mark) },
      );
      await waitFor(async () => (await row()).state === 'sending', { what: 'the drainer to claim the woken row' });
      expect(held.calls).toHaveLength(1);
      held.release();
      await delivery;
      // Sent, or held at an fsync of its own (which the test never lets finish).
      await waitFor(async () => held.waiting > 0 || (await row()).state === 'sent', { what: 'the drainer to send or to ask for an fsync' });
      expect(held.calls).toHaveLength(1);
      expect(await draining).toBe(1);

      // The claim and the `sent` mark were committed after that fsync began: the next wait fsyncs them.
      const later = syncCommits(db, held.syncer);
      await held.letThrough(later, "an fsync for the drainer's own commits");
      expect(held.calls).toHaveLength(2);
    },
  );
});
