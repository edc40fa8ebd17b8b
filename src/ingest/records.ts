// The rows one accepted message writes for ingest itself: raw_messages, the inbound row that makes
// it exactly-once, and the box's high-water mark. (Its messages row with the attachments is
// src/db/message-rows.ts; what it does to a case, src/cases.)
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import type { ParsedMessage } from './message.js';

export type InboundSource = { kind: 'imap'; uidvalidity: number; uid: number } | { kind: 'lmtp' | 'smtp' | 'pipe'; queueId: string };

export interface InboundRow {
  id: number;
  outcome: string;
  case_id: string | null;
  message_row_id: number | null;
}

/** The inbound row already recorded for this (box, UIDVALIDITY, UID) or (listener, queue id). */
export async function findInbound(tx: Kysely<DB>, mailboxId: string, source: InboundSource): Promise<InboundRow | undefined> {
  let q = tx.selectFrom('inbound').select(['id', 'outcome', 'case_id', 'message_row_id']);
  if (source.kind === 'imap') {
    q = q.where('mailbox_id', '=', mailboxId).where('uidvalidity', '=', source.uidvalidity).where('uid', '=', source.uid);
  } else {
    q = q.where('source', '=', source.kind).where('queue_id', '=', source.queueId);
  }
  return q.executeTakeFirst();
}

/** An earlier inbound row for the same content (another box, another delivery, a rescan). */
export async function findSameContent(tx: Kysely<DB>, fingerprint: string): Promise<InboundRow | undefined> {
  return tx
    .selectFrom('inbound')
    .select(['id', 'outcome', 'case_id', 'message_row_id'])
    .where('content_sha256', '=', fingerprint)
    .orderBy('id')
    .executeTakeFirst();
}

export async function insertRaw(tx: Kysely<DB>, raw: { sha256: string; size: number }, at: string): Promise<void> {
  await tx
    .insertInto('raw_messages')
    .values({ sha256: raw.sha256, size: raw.size, stored_at: at, erased_at: null })
    .onConflict((oc) => oc.column('sha256').doNothing())
    .execute();
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

export async function insertInbound(tx: Kysely<DB>, r: InboundRecord): Promise<number> {
  const row = await tx
    .insertInto('inbound')
    .values({
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
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * Moves the box's high-water mark up to this UID, in the accept transaction: "done" and the
 * mark change together. Only for the UIDVALIDITY the worker recorded; never moves down.
 */
export async function advanceHighWater(tx: Kysely<DB>, mailboxId: string, source: InboundSource, at: string): Promise<void> {
  if (source.kind !== 'imap') return;
  const state = await tx.selectFrom('mailbox_state').selectAll().where('mailbox_id', '=', mailboxId).executeTakeFirst();
  if (!state) {
    await tx
      .insertInto('mailbox_state')
      .values({ mailbox_id: mailboxId, uidvalidity: source.uidvalidity, last_uid: source.uid, last_sync_at: at, last_error: null })
      .execute();
    return;
  }
  if (state.uidvalidity !== source.uidvalidity || state.last_uid >= source.uid) return;
  await tx.updateTable('mailbox_state').set({ last_uid: source.uid, last_sync_at: at }).where('mailbox_id', '=', mailboxId).execute();
}
