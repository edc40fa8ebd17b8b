// The rows one accepted message writes for ingest itself: raw_messages, the inbound row that makes
// it exactly-once, and the box's high-water mark. (Its messages row with the attachments is
// src/db/message-rows.ts; what it does to a case, src/cases.)
import type { Insertable, Kysely } from 'kysely';
import { prepared } from '../db/prepared.js';
import type { DB, InboundTable } from '../db/schema.js';
import type { ParsedMessage } from './message.js';

export type InboundSource = { kind: 'imap'; uidvalidity: number; uid: number } | { kind: 'lmtp' | 'smtp' | 'pipe'; queueId: string };

export interface InboundRow {
  id: number;
  outcome: string;
  case_id: string | null;
  message_row_id: number | null;
}

const INBOUND_ROW = ['id', 'outcome', 'case_id', 'message_row_id'] as const;

const findByUid = prepared<{ mailboxId: string; uidvalidity: number; uid: number }, InboundRow>((db, p) =>
  db.selectFrom('inbound').select(INBOUND_ROW).where('mailbox_id', '=', p('mailboxId')).where('uidvalidity', '=', p('uidvalidity')).where('uid', '=', p('uid')),
);
const findByQueueId = prepared<{ source: string; queueId: string }, InboundRow>((db, p) =>
  db.selectFrom('inbound').select(INBOUND_ROW).where('source', '=', p('source')).where('queue_id', '=', p('queueId')),
);

/** The inbound row already recorded for this (box, UIDVALIDITY, UID) or (listener, queue id). */
export async function findInbound(tx: Kysely<DB>, mailboxId: string, source: InboundSource): Promise<InboundRow | undefined> {
  const { rows } =
    source.kind === 'imap'
      ? await findByUid.execute(tx, { mailboxId, uidvalidity: source.uidvalidity, uid: source.uid })
      : await findByQueueId.execute(tx, { source: source.kind, queueId: source.queueId });
  return rows[0];
}

const findByContent = prepared<{ fingerprint: string }, InboundRow>((db, p) =>
  db.selectFrom('inbound').select(INBOUND_ROW).where('content_sha256', '=', p('fingerprint')).orderBy('id').limit(1),
);

/** An earlier inbound row for the same content (another box, another delivery, a rescan). */
export async function findSameContent(tx: Kysely<DB>, fingerprint: string): Promise<InboundRow | undefined> {
  return (await findByContent.execute(tx, { fingerprint })).rows[0];
}

const insertRawRow = prepared<{ sha256: string; size: number; at: string }, never>((db, p) =>
  db
    .insertInto('raw_messages')
    .values({ sha256: p('sha256'), size: p('size'), stored_at: p('at'), erased_at: null })
    .onConflict((oc) => oc.column('sha256').doNothing()),
);

export async function insertRaw(tx: Kysely<DB>, raw: { sha256: string; size: number }, at: string): Promise<void> {
  await insertRawRow.execute(tx, { sha256: raw.sha256, size: raw.size, at });
}

export interface InboundRecord {
  mailboxId: string;
  source: InboundSource;
  rawSha256: string;
  parsed: ParsedMessage;
  outcome: 'case' | 'duplicate' | 'bounce' | 'staff' | 'quarantine' | 'rating' | 'rating_ignored';
  caseId: string | null;
  messageRowId: number | null;
  at: string;
}

const INBOUND_COLUMNS = [
  'source',
  'mailbox_id',
  'uidvalidity',
  'uid',
  'queue_id',
  'sha256',
  'content_sha256',
  'message_id',
  'outcome',
  'case_id',
  'message_row_id',
  'at',
] as const satisfies ReadonlyArray<keyof InboundTable>;

const insertInboundRow = prepared<Required<Pick<Insertable<InboundTable>, (typeof INBOUND_COLUMNS)[number]>>, { id: number }>((db, p) =>
  db.insertInto('inbound').values(p.columns(INBOUND_COLUMNS)).returning('id'),
);

export async function insertInbound(tx: Kysely<DB>, r: InboundRecord): Promise<number> {
  const { rows } = await insertInboundRow.execute(tx, {
    source: r.source.kind,
    mailbox_id: r.mailboxId,
    uidvalidity: r.source.kind === 'imap' ? r.source.uidvalidity : null,
    uid: r.source.kind === 'imap' ? r.source.uid : null,
    queue_id: r.source.kind === 'imap' ? null : r.source.queueId,
    sha256: r.rawSha256,
    content_sha256: r.parsed.fingerprint,
    message_id: r.parsed.messageId,
    outcome: r.outcome,
    case_id: r.caseId,
    message_row_id: r.messageRowId,
    at: r.at,
  });
  return rows[0]!.id;
}

/**
 * Moves the box's high-water mark up to this UID, in the accept transaction: "done" and the
 * mark change together. Only for the UIDVALIDITY the worker recorded; never moves down.
 */
export async function advanceHighWater(tx: Kysely<DB>, mailboxId: string, source: InboundSource, at: string): Promise<void> {
  if (source.kind !== 'imap') return;
  const state = (await findHighWater.execute(tx, { mailboxId })).rows[0];
  if (!state) {
    await tx
      .insertInto('mailbox_state')
      .values({ mailbox_id: mailboxId, uidvalidity: source.uidvalidity, last_uid: source.uid, last_sync_at: at, last_error: null })
      .execute();
    return;
  }
  if (state.uidvalidity !== source.uidvalidity || state.last_uid >= source.uid) return;
  await moveHighWater.execute(tx, { mailboxId, uid: source.uid, at });
}

const findHighWater = prepared<{ mailboxId: string }, { uidvalidity: number | null; last_uid: number }>((db, p) =>
  db.selectFrom('mailbox_state').select(['uidvalidity', 'last_uid']).where('mailbox_id', '=', p('mailboxId')),
);
const moveHighWater = prepared<{ mailboxId: string; uid: number; at: string }, never>((db, p) =>
  db
    .updateTable('mailbox_state')
    .set({ last_uid: p('uid'), last_sync_at: p('at') })
    .where('mailbox_id', '=', p('mailboxId')),
);
