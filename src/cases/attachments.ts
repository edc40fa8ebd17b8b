// Files a consultant attaches to a reply: checked before anything is written, described for the
// case's `attachments` rows, handed to the outbox by path, and kept in the blob store like the
// customers' attachments, so `mailwarden attachment` can write them out later.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { detectMimeType } from 'nodemailer/lib/mime-funcs';
import { dataError } from '../errors.js';
import { storeBlobContent, type ContentStore } from '../db/content-store.js';

export interface FileAttachment {
  path: string;
  filename: string;
  contentType: string;
  size: number;
  sha256: string;
  cid?: string;
}

/** Every file readable, or a data error naming the ones that are not (nothing queued yet). */
export function checkAttachments(paths: string[]): FileAttachment[] {
  const problems: string[] = [];
  const out: FileAttachment[] = [];
  for (const p of paths) {
    const full = path.resolve(p);
    try {
      const stat = fs.statSync(full);
      if (!stat.isFile()) throw new Error('not a regular file');
      const bytes = fs.readFileSync(full);
      out.push(describe(full, bytes));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(`${p}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw dataError('EATTACH', `Cannot attach ${problems.length === 1 ? 'a file' : `${problems.length} files`}; nothing was sent: ${problems.join('; ')}.`);
  }
  return out;
}

export function describe(full: string, bytes: Buffer, cid?: string): FileAttachment {
  const filename = path.basename(full);
  return {
    path: full,
    filename,
    contentType: detectMimeType(filename),
    size: bytes.length,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    ...(cid ? { cid } : {}),
  };
}

/**
 * Copies the files into the content-addressed blob store (before the transaction that names them:
 * a blob nobody names is harmless, a row naming a missing blob is not).
 */
export async function keepAttachments(store: ContentStore, files: FileAttachment[]): Promise<void> {
  for (const f of files) {
    try {
      await storeBlobContent(store, fs.createReadStream(f.path));
    } catch (err) {
      throw dataError('EATTACH', `Cannot keep a copy of ${f.filename}; nothing was sent: ${(err as Error).message}.`);
    }
  }
}
