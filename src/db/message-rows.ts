// The `messages` row an inbound message writes, with its attachment rows: for a new case, for a
// message threading onto one, for a bounce (all in the accept transaction), and again when
// `reprocess` re-reads the headers. It sits in src/db, below both ingest and cases, which both
// write it; so it names only the fields it reads (MessageFields), which ingest's ParsedMessage
// (src/ingest/message.ts) has: no import of ingest from here.
import type { Insertable, Kysely } from 'kysely';
import type { DB, MessageKind, MessagesTable } from './schema.js';
import { prepared } from './prepared.js';
import { recordReceived } from './report-rows.js';

/** The parts of an inbound message its rows are made of (ingest's ParsedMessage fits). */
export interface MessageFields {
  status: 'parsed' | 'unparsed' | 'oversize';
  problem: string | null;
  size: number;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  from: { address: string; name?: string } | null;
  to: Array<{ address: string }>;
  cc: Array<{ address: string }>;
  subject: string;
  text: string;
  attachments: Array<{ filename: string | null; contentType: string; size: number; sha256: string; contentId: string | null; inline: boolean }>;
}

export interface MessageRecord {
  caseId: string;
  kind: MessageKind;
  parsed: MessageFields;
  rawSha256: string;
  at: string;
  flags: string[];
  isFeedback: boolean;
  isAutoReply: boolean;
}

/**
 * The `messages` columns taken from a parsed message's headers (ingest and reprocess alike). Typed
 * by the statement's columns: a header column not among them is refused here, not left unwritten.
 */
export function headerColumns(m: MessageFields) {
  return {
    from_address: m.from?.address ?? null,
    from_name: m.from?.name ?? null,
    to_addresses: JSON.stringify(m.to.map((a) => a.address)),
    cc_addresses: JSON.stringify(m.cc.map((a) => a.address)),
    subject: m.subject,
    message_id: m.messageId,
    in_reply_to: m.inReplyTo,
    references: m.references.length > 0 ? m.references.join(' ') : null,
  } satisfies Partial<MessageRowValues>;
}

/**
 * Every column of a `messages` row that mailwarden writes, each a value of the one statement below:
 * for inbound mail here, for mail we send in src/outbound/queue.ts.
 */
const MESSAGE_COLUMNS = [
  'case_id',
  'kind',
  'at',
  'author',
  'from_address',
  'from_name',
  'to_addresses',
  'cc_addresses',
  'subject',
  'message_id',
  'in_reply_to',
  'references',
  'text',
  'raw_sha256',
  'state',
  'is_feedback',
  'is_auto_reply',
  'flags',
] as const satisfies ReadonlyArray<keyof MessagesTable>;

/** One `messages` row: a value for each of MESSAGE_COLUMNS. */
export type MessageRowValues = Required<Pick<Insertable<MessagesTable>, (typeof MESSAGE_COLUMNS)[number]>>;

const insertRow = prepared<MessageRowValues, { id: number }>((db, p) => db.insertInto('messages').values(p.columns(MESSAGE_COLUMNS)).returning('id'));

/** Inserts a `messages` row; its id. */
export async function insertMessageRow(tx: Kysely<DB>, values: MessageRowValues): Promise<number> {
  return (await insertRow.execute(tx, values)).rows[0]!.id;
}

export async function insertMessage(tx: Kysely<DB>, r: MessageRecord): Promise<number> {
  const m = r.parsed;
  const id = await insertMessageRow(tx, {
    case_id: r.caseId,
    kind: r.kind,
    at: r.at,
    author: null,
    ...headerColumns(m),
    text: m.text || placeholderText(m),
    raw_sha256: r.rawSha256,
    state: null,
    is_feedback: r.isFeedback ? 1 : 0,
    is_auto_reply: r.isAutoReply ? 1 : 0,
    flags: JSON.stringify([...new Set(r.flags)]),
  });
  await insertAttachments(tx, id, m.attachments);
  if (r.kind === 'inbound' && !r.isAutoReply) await recordReceived(tx, r.caseId, r.at);
  return id;
}

/** What `show` says for mail whose text could not be read. */
function placeholderText(m: MessageFields): string {
  if (m.status === 'oversize') return `[mailwarden: this message (${m.size} bytes) is over the size limit; it is kept raw and was not parsed]`;
  if (m.status === 'unparsed') return `[mailwarden: this message could not be parsed (${m.problem ?? 'unknown problem'}); it is kept raw]`;
  return '';
}

/** The attachment rows of a message (the files themselves are already in data/blobs). */
export async function insertAttachments(tx: Kysely<DB>, messageRowId: number, attachments: MessageFields['attachments']): Promise<void> {
  for (const a of attachments) {
    await tx
      .insertInto('attachments')
      .values({
        message_row_id: messageRowId,
        filename: a.filename,
        content_type: a.contentType,
        size: a.size,
        sha256: a.sha256,
        content_id: a.contentId,
        inline: a.inline ? 1 : 0,
      })
      .execute();
  }
}
