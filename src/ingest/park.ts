// No poison message (SPEC §3). A message whose accept fails for a reason that is not transient (a
// bug, a broken template, a config mistake the check did not catch) would otherwise be fetched
// again and again and hold up every message behind it. Each such failure is counted in `parked`,
// one row per (box, raw message), in its own transaction; once the count reaches
// `ingest.max_attempts` the message is parked: the box's high-water mark moves past it, the
// supervisors of its pool get one mail, and `mailwarden parked` shows it until `reprocess --parked`
// takes it up again. The raw bytes were on disk before the first attempt, so parking loses nothing.
import { sql, type Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config, MailboxConfig } from '../config/types.js';
import { writeTx, type Db, type TxOptions } from '../db/connection.js';
import type { DB, ParkedState } from '../db/schema.js';
import { MailwardenError } from '../errors.js';
import { boxSender, queueMail } from '../outbound/queue.js';
import { poolSupervisors } from '../cases/actors.js';
import type { ParsedMessage } from './message.js';
import { advanceHighWater, type InboundSource } from './records.js';

export interface FailedAccept {
  mailbox: MailboxConfig;
  source: InboundSource;
  raw: { sha256: string; size: number };
  parsed: ParsedMessage;
  envelopeFrom: string | null;
  receivedAt: string | null;
  error: string;
}

export type FailureOutcome =
  /** counted; the message is tried again (attempt `attempts` of `max`) */
  | { parked: false; id: number; attempts: number; max: number }
  /** parked now or before; `notice` is the outbox row of the supervisors' mail, `noticeProblem` why there is none */
  | { parked: true; id: number; attempts: number; max: number; newly: boolean; notice: number | null; noticeProblem: string | null };

/** Counts one failed accept of a message and parks it when the count reaches the limit. */
export async function recordAcceptFailure(db: Db, config: Config, failed: FailedAccept, lock: TxOptions = {}): Promise<FailureOutcome> {
  const max = config.ingest.max_attempts;
  const at = nowIso();
  return writeTx(
    db,
    async (tx): Promise<FailureOutcome> => {
      const row = await countFailure(tx, failed, at);
      if (row.state === 'parked') {
        // Another copy of a message parked before (same box, same bytes): it waits with the first.
        await advanceHighWater(tx, failed.mailbox.id, failed.source, at);
        return { parked: true, id: row.id, attempts: row.attempts, max, newly: false, notice: null, noticeProblem: null };
      }
      if (row.attempts < max) return { parked: false, id: row.id, attempts: row.attempts, max };
      await park(tx, row.id, failed, at);
      // In the same transaction: no crash can leave a message parked and its notice never written.
      const notice = await queueParkedNotice(tx, config, failed, { ...row, state: 'parked', parked_at: at }, at);
      return { parked: true, id: row.id, attempts: row.attempts, max, newly: true, ...notice };
    },
    lock,
  );
}

async function countFailure(tx: Kysely<DB>, f: FailedAccept, at: string): Promise<ParkedRow> {
  const where =
    f.source.kind === 'imap'
      ? { uidvalidity: f.source.uidvalidity, uid: f.source.uid, queue_id: null }
      : { uidvalidity: null, uid: null, queue_id: f.source.queueId };
  const error = f.error.slice(0, 2000);
  // One statement, so two daemons counting the same message at once both count (no lost update).
  return tx
    .insertInto('parked')
    .values({
      mailbox_id: f.mailbox.id,
      sha256: f.raw.sha256,
      size: f.raw.size,
      source: f.source.kind,
      ...where,
      envelope_from: f.envelopeFrom,
      received_at: f.receivedAt,
      message_id: f.parsed.messageId,
      from_address: f.parsed.from?.address ?? null,
      subject: f.parsed.subject.slice(0, 500),
      state: 'failing',
      attempts: 1,
      error,
      first_failed_at: at,
      last_failed_at: at,
    })
    .onConflict((oc) =>
      oc.columns(['mailbox_id', 'sha256']).doUpdateSet({
        // A message reprocessed once and failing again (another copy) starts a new count.
        attempts: sql<number>`case when parked.state = 'reprocessed' then 1 else parked.attempts + 1 end`,
        state: sql<ParkedState>`case when parked.state = 'reprocessed' then 'failing' else parked.state end`,
        ...where,
        error,
        last_failed_at: at,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

async function park(tx: Kysely<DB>, id: number, f: FailedAccept, at: string): Promise<void> {
  await tx.updateTable('parked').set({ state: 'parked', parked_at: at }).where('id', '=', id).where('state', '=', 'failing').execute();
  await advanceHighWater(tx, f.mailbox.id, f.source, at);
}

/**
 * The one mail to the supervisors of the box's pool. Its notice key makes it once per parked
 * message whatever retries. A template or address problem (the kind of fault that may have parked
 * the message in the first place) leaves the message parked without a mail, and says why; queueMail
 * finds those before it writes anything, so the transaction stays whole.
 */
async function queueParkedNotice(
  tx: Kysely<DB>,
  config: Config,
  f: FailedAccept,
  row: ParkedRow,
  at: string,
): Promise<{ notice: number | null; noticeProblem: string | null }> {
  const to = poolSupervisors(config, f.mailbox.pool);
  if (to.length === 0) return { notice: null, noticeProblem: 'no consultant has the supervisor role' };
  try {
    const queued = await queueMail(tx, {
      config,
      caseId: null,
      kind: 'parked_notice',
      template: 'message-parked',
      scope: { pool: f.mailbox.pool, mailbox: f.mailbox.id },
      from: boxSender(config, f.mailbox),
      to: to.map((c) => ({ address: c.email, name: c.name })),
      vars: {
        consultant: { id: to[0]!.id, name: to[0]!.name, email: to[0]!.email },
        parked: { ...parkedEntry(row), mailbox_address: f.mailbox.address, at },
      },
      messageKind: null,
      autoSubmitted: 'auto-generated',
      noticeKey: `parked:${row.id}:${row.first_failed_at}`,
    });
    await tx.updateTable('parked').set({ notice_outbox_id: queued.outboxId }).where('id', '=', row.id).execute();
    return { notice: queued.outboxId, noticeProblem: null };
  } catch (err) {
    if (err instanceof MailwardenError && ['ENOTEMPLATE', 'EBADTEMPLATE', 'EBADADDRESS'].includes(err.code))
      return { notice: null, noticeProblem: err.message };
    throw err;
  }
}

/** A parked message as `mailwarden parked --json` prints it. */
export interface ParkedEntry {
  id: number;
  state: ParkedState;
  mailbox: string;
  source: string;
  uid: number | null;
  queue_id: string | null;
  message_id: string | null;
  from: string | null;
  subject: string | null;
  size: number;
  sha256: string;
  attempts: number;
  error: string;
  first_failed_at: string;
  parked_at: string | null;
  reprocessed_at: string | null;
  case: string | null;
}

type ParkedRow = Awaited<ReturnType<typeof parkedRows>>[number];

function parkedRows(db: Kysely<DB>, states: ParkedState[]) {
  return db.selectFrom('parked').selectAll().where('state', 'in', states).orderBy('id').execute();
}

function parkedEntry(r: ParkedRow): ParkedEntry {
  return {
    id: r.id,
    state: r.state,
    mailbox: r.mailbox_id,
    source: r.source,
    uid: r.uid,
    queue_id: r.queue_id,
    message_id: r.message_id,
    from: r.from_address,
    subject: r.subject,
    size: r.size,
    sha256: r.sha256,
    attempts: r.attempts,
    error: r.error,
    first_failed_at: r.first_failed_at,
    parked_at: r.parked_at,
    reprocessed_at: r.reprocessed_at,
    case: r.case_id,
  };
}

/** Parked messages, oldest first; with `all`, also those reprocessed since. */
export async function listParked(db: Db, opts: { all?: boolean } = {}): Promise<ParkedEntry[]> {
  const rows = await parkedRows(db, opts.all ? ['parked', 'reprocessed'] : ['parked']);
  return rows.map(parkedEntry);
}

/** The parked rows `reprocess --parked` takes, with what it needs to accept each again. */
export async function parkedForReprocess(db: Db): Promise<ParkedRow[]> {
  return parkedRows(db, ['parked']);
}

/** The source a parked message came from, as the accept transaction keys it. */
export function parkedSource(r: ParkedRow): InboundSource {
  if (r.source === 'imap') return { kind: 'imap', uidvalidity: r.uidvalidity!, uid: r.uid! };
  return { kind: r.source === 'smtp' ? 'smtp' : 'lmtp', queueId: r.queue_id! };
}

/** After a successful reprocess: the message is a case now (or a duplicate of one). */
export async function markReprocessed(db: Db, id: number, caseId: string | null): Promise<void> {
  await db
    .updateTable('parked')
    .set({ state: 'reprocessed', reprocessed_at: nowIso(), case_id: caseId })
    .where('id', '=', id)
    .where('state', '=', 'parked')
    .execute();
}

/** After a failed reprocess: still parked, with the newest error and one more attempt counted. */
export async function markStillParked(db: Db, id: number, error: string): Promise<void> {
  await db
    .updateTable('parked')
    .set((eb) => ({ error: error.slice(0, 2000), attempts: eb('attempts', '+', 1), last_failed_at: nowIso() }))
    .where('id', '=', id)
    .execute();
}
