// FIFO retrieval (SPEC §5): the oldest waiting case from the consultant's pools, highest-priority
// pool first, urgent before high before normal before low within a pool. The pick and the take
// share one transaction, and the take only applies to the version of the case that was picked.
import type { Kysely } from 'kysely';
import type { ConsultantConfig } from '../config/types.js';
import { writeTx, type Db } from '../db/connection.js';
import { skippingLocked } from '../db/dialect.js';
import type { DB } from '../db/schema.js';
import { nowIso } from '../clock.js';
import { MailwardenError, usageError } from '../errors.js';
import { activeAbsence } from './absence.js';
import { recordEvent } from '../db/history.js';
import { setStatus } from './status.js';
import type { CaseRow } from './view.js';

const PRIORITY_ORDER = ['urgent', 'high', 'normal', 'low'] as const;

/** The consultant's pools grouped by their retrieval priority, 1 first. */
function poolTiers(consultant: ConsultantConfig): string[][] {
  const byPriority = new Map<number, string[]>();
  for (const p of consultant.pools) byPriority.set(p.priority, [...(byPriority.get(p.priority) ?? []), p.pool]);
  return [...byPriority.entries()].sort((a, b) => a[0] - b[0]).map(([, pools]) => pools);
}

/**
 * The case `next` would take, without taking it. Each lookup is one step down the
 * (status, pool_id, priority, received_at) index, so the cost does not grow with the queue.
 */
async function peekNext(tx: Kysely<DB>, consultant: ConsultantConfig): Promise<CaseRow | null> {
  for (const pools of poolTiers(consultant)) {
    for (const priority of PRIORITY_ORDER) {
      let best: CaseRow | null = null;
      for (const pool of pools) {
        const waiting = tx
          .selectFrom('cases')
          .selectAll()
          .where('status', '=', 'received')
          .where('pool_id', '=', pool)
          .where('priority', '=', priority)
          .where('assignee', 'is', null)
          .orderBy('received_at')
          .orderBy('id')
          .limit(1);
        // A case another consultant is taking right now is passed over, not waited for.
        const row = await skippingLocked(tx, waiting).executeTakeFirst();
        if (row && (!best || row.received_at < best.received_at || (row.received_at === best.received_at && row.id < best.id))) best = row;
      }
      if (best) return best;
    }
  }
  return null;
}

/** How often `next` looks again when another consultant took the case it picked. */
const TAKE_ATTEMPTS = 5;

/** An absent consultant gets no case (SPEC §5D); `timeZone` is the instance's, for the sentence. */
async function checkHere(db: Db, consultant: ConsultantConfig, timeZone: string): Promise<void> {
  const away = await activeAbsence(db, consultant.id);
  if (!away) return;
  // Loaded only here: zoned formatting (luxon) is no part of a take that goes through.
  const { formatInZone } = await import('../time-format.js');
  const until = formatInZone(new Date(away.until), timeZone, true);
  throw usageError('EABSENT', `${consultant.id} is absent until ${until} and gets no cases.`);
}

/**
 * Takes the next waiting case for the consultant: assigned to them, in_progress. Null when none
 * waits; refused while the consultant is absent. The take is a compare-and-set on the case's version (src/cases/history.ts), so two
 * consultants can never both take a case whatever the database's locking; the one who loses
 * looks again.
 */
export async function takeNext(db: Db, consultant: ConsultantConfig, timeZone: string): Promise<CaseRow | null> {
  await checkHere(db, consultant, timeZone);
  for (let attempt = 1; ; attempt++) {
    try {
      return await writeTx(db, async (tx) => {
        const row = await peekNext(tx, consultant);
        if (!row) return null;
        const at = nowIso();
        await setStatus(tx, row, consultant.id, { status: 'in_progress', assignee: consultant.id }, at);
        await recordEvent(tx, { caseId: row.id, actor: consultant.id, kind: 'taken', to: consultant.id, at, data: { via: 'next' } });
        return await tx.selectFrom('cases').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
      });
    } catch (err) {
      if (!(err instanceof MailwardenError && err.code === 'ECONFLICT') || attempt >= TAKE_ATTEMPTS) throw err;
    }
  }
}
