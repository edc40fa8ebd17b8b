// The drainer sends a mail only once the commit that queued it is durable (src/db/commit-sync.ts):
// the daemon commits without an fsync of its own, and a power loss after the send would undo the
// case the mail speaks of while the mail is out. It asks for the sync before it claims: a sync
// that fails leaves the row queued, not claimed and waiting for its lease. Proven with a sync the
// test holds back or fails.
import { afterEach, describe, expect, it } from 'vitest';
import { writeTx } from '../../src/db/connection';
import { drainOnce } from '../../src/outbound/drainer';
import { queueMail } from '../../src/outbound/queue';
import { silentLogger } from '../../src/log';
import { waitFor } from '../support/wait';
import { insertCase, outboundEnv, replyInput, type OutboundEnv } from './helpers';

function heldSync() {
  const gates: Array<{ release: () => void; fail: (err: Error) => void }> = [];
  return {
    sync: () => new Promise<void>((release, fail) => gates.push({ release, fail })),
    release: () => (gates.splice(0).forEach((g) => g.release()), undefined),
    fail: (err: Error) => (gates.splice(0).forEach((g) => g.fail(err)), undefined),
    get waiting() {
      return gates.length;
    },
  };
}

describe('the drainer and the sync of commits', () => {
  let env: OutboundEnv | null = null;
  afterEach(async () => {
    await env?.close();
    env = null;
  });

  async function queued() {
    env = await outboundEnv();
    const caseId = await insertCase(env);
    const q = await writeTx(env.opened.db, (tx) => queueMail(tx, replyInput(env!, caseId)));
    const state = async () => (await env!.opened.db.selectFrom('outbox').select('state').where('id', '=', q.outboxId).executeTakeFirstOrThrow()).state;
    return { state };
  }

  it('sends a queued mail only after the sync it asked for (fails if a mail goes out before its rows are durable)', async () => {
    const { state } = await queued();
    const held = heldSync();
    const draining = drainOnce({ config: env!.config, db: env!.opened.db, log: silentLogger() }, { syncCommits: held.sync });
    await waitFor(() => held.waiting === 1, { what: 'the drainer to ask for the sync' });
    expect(await state()).toBe('queued');
    held.release();
    // After the batch, it asks again before looking for the next one.
    await waitFor(() => held.waiting === 1, { what: 'the drainer to ask again after sending' });
    expect(await state()).toBe('sent');
    held.release();
    expect(await draining).toBe(1);
  });

  it('claims nothing when the sync fails, and the next round sends the mail (fails if a row is left claimed)', async () => {
    const { state } = await queued();
    const held = heldSync();
    const first = drainOnce({ config: env!.config, db: env!.opened.db, log: silentLogger() }, { syncCommits: held.sync });
    await waitFor(() => held.waiting === 1, { what: 'the drainer to ask for the sync' });
    held.fail(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await expect(first).rejects.toMatchObject({ code: 'EIO' });
    expect(await state()).toBe('queued');
    expect(await drainOnce({ config: env!.config, db: env!.opened.db, log: silentLogger() }, { syncCommits: async () => undefined })).toBe(1);
    expect(await state()).toBe('sent');
  });
});
