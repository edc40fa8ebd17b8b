// Saving one attachment of a case (SPEC §5 "Attachments": `attachment <case> <n>`). Why it reads
// through the blob store and checks the SHA-256: attachments are stored once, content-addressed
// (src/db/stored-files.ts), and the database names them by hash; a file that is gone or was
// altered on disk must be refused in one sentence rather than written out as if it were the
// customer's. Numbering is the order `show` lists them: by message, then as they came, from 1.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { dataError, usageError } from '../errors.js';
import { localBlobFile, type ContentStore } from '../db/content-store.js';
import { getCaseRow } from './queries.js';

export interface CaseAttachment {
  caseId: string;
  n: number;
  filename: string | null;
  contentType: string;
  size: number;
  /** null when the content was not kept (e.g. past the size limit) */
  sha256: string | null;
  messageRowId: number;
}

/** The case's attachments in `show` order (messages by row, then attachments by row). */
async function caseAttachments(db: Kysely<DB>, caseId: string) {
  return db
    .selectFrom('attachments')
    .innerJoin('messages', 'messages.id', 'attachments.message_row_id')
    .select(['attachments.message_row_id', 'attachments.filename', 'attachments.content_type', 'attachments.size', 'attachments.sha256'])
    .where('messages.case_id', '=', caseId)
    .orderBy('messages.id')
    .orderBy('attachments.id')
    .execute();
}

/** Attachment number `n` (1-based) of the case, or a usage error saying how many it has. */
export async function findAttachment(db: Kysely<DB>, caseId: string, n: number): Promise<CaseAttachment> {
  const row = await getCaseRow(db, caseId);
  const all = await caseAttachments(db, row.id);
  const a = Number.isInteger(n) && n >= 1 ? all[n - 1] : undefined;
  if (!a) {
    const has = all.length === 0 ? 'has no attachments' : all.length === 1 ? 'has 1 attachment' : `has attachments 1 to ${all.length}`;
    throw usageError('ENOATTACHMENT', `Case ${row.id} ${has}, so there is no attachment ${n}.`);
  }
  return { caseId: row.id, n, filename: a.filename, contentType: a.content_type, size: a.size, sha256: a.sha256, messageRowId: a.message_row_id };
}

/** The stored bytes of an attachment, checked against its SHA-256. */
export async function readAttachment(store: ContentStore, a: CaseAttachment): Promise<Buffer> {
  if (a.sha256 === null) throw dataError('EBLOB', `The content of attachment ${a.n} of case ${a.caseId} was not kept, so it cannot be written.`);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(await localBlobFile(store, a.sha256));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'is not in the blob store' : `cannot be read (${(err as Error).message})`;
    throw dataError('EBLOB', `The content of attachment ${a.n} of case ${a.caseId} ${why}.`);
  }
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== a.sha256)
    throw dataError('EBLOB', `The stored content of attachment ${a.n} of case ${a.caseId} does not match its SHA-256; it was not written.`);
  return bytes;
}

/**
 * A file name from a mail, safe to create in the current directory: no directories, no control
 * or path characters, no leading dots (hidden files, `..`); `attachment-<n>` when nothing is left.
 */
export function safeFilename(name: string | null, n: number): string {
  const base = (name ?? '').split(/[/\\]/).pop() ?? '';
  const cleaned = base
    .replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_')
    .replace(/^[.\s]+/, '')
    .trim()
    .slice(0, 200);
  return cleaned || `attachment-${n}`;
}
