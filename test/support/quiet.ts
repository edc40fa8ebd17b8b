// Proof that a set of running mailwarden instances has come to rest, instead of a fixed quiet
// period that would also pass if the daemon had simply stopped working. In these tests mail
// only moves when (a) an outbox row is queued or being sent, (b) a supervised box holds a
// message the daemon has not recorded yet, or (c) the relay is delivering, which happens only
// while a row is `sending` (the relay answers 250 after its own LMTP delivery). So: no pending
// row, then every box fully recorded, then the outbox again with the same totals — no row can
// have appeared in between — means no further mail can ever arrive or leave.
import { type Opened } from '../../src/db/connection';
import { openTestDatabase } from './backend';
import type { TestConfig } from './config';
import type { DovecotInstance } from './dovecot';
import { withImap } from './imap';
import { waitFor } from './wait';

export interface QuietInstance {
  cfg: TestConfig;
  /** The supervised boxes of this instance: config id and IMAP login (folder INBOX). */
  boxes: Array<{ id: string; user: string }>;
}

/** Rows of each instance's outbox: how many in total and how many not yet sent or given up. */
async function outboxTotals(dbs: Opened[]): Promise<Array<{ total: number; pending: number }>> {
  return Promise.all(
    dbs.map(async (o) => {
      const rows = await o.db.selectFrom('outbox').select('state').execute();
      return { total: rows.length, pending: rows.filter((r) => r.state === 'queued' || r.state === 'sending').length };
    }),
  );
}

async function boxesRecorded(dovecot: DovecotInstance, instance: QuietInstance, o: Opened): Promise<boolean> {
  for (const box of instance.boxes) {
    const inBox = await withImap(dovecot, box.user, async (c) => (await c.status('INBOX', { messages: true })).messages ?? 0);
    const recorded = await o.db.selectFrom('inbound').select('id').where('mailbox_id', '=', box.id).execute();
    if (recorded.length !== inBox) return false;
  }
  return true;
}

/** Waits until the instances are at rest (see above); returns each one's outbox total. */
export async function waitUntilQuiet(dovecot: DovecotInstance, instances: QuietInstance[], what: string, timeoutMs = 30_000): Promise<number[]> {
  const dbs = await Promise.all(instances.map((i) => openTestDatabase(i.cfg.dataDir)));
  try {
    return await waitFor(
      async () => {
        const before = await outboxTotals(dbs);
        if (before.some((t) => t.pending > 0)) return null;
        for (let i = 0; i < instances.length; i++) if (!(await boxesRecorded(dovecot, instances[i]!, dbs[i]!))) return null;
        const after = await outboxTotals(dbs);
        if (after.some((t, i) => t.pending > 0 || t.total !== before[i]!.total)) return null;
        return after.map((t) => t.total);
      },
      { what: `${what} to come to rest (no pending outbox row, every box message recorded)`, timeoutMs, intervalMs: 200 },
    );
  } finally {
    await Promise.all(dbs.map((o) => o.close()));
  }
}
