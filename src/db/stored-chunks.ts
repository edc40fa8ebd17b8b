// Raw mail and attachments as rows of `stored_chunks` (migration 019), for `storage.files: database`:
// every daemon on every machine reads them from the one database (SPEC §10). Why chunks of 1 MiB,
// read and written one at a time: a 50 MB message must never sit whole in memory, neither in this
// process nor in one statement. Chunk boundaries are fixed (seq n holds bytes n MiB to n+1 MiB), so
// storing the same content again inserts the same rows, and ON CONFLICT DO NOTHING makes it a no-op.
// Each chunk commits in its own short transaction: a 50 MB message never holds the write lock for
// long, and all chunks are committed before the transaction that names the content (the caller's
// order, as for files: content first, rows after). Chunks are written in order, so the last one
// being there means all are; a crash half-way leaves a prefix that the next store completes.
import fsp from 'node:fs/promises';
import type { Kysely } from 'kysely';
import { writeTx, type Db } from './connection.js';
import type { DB } from './schema.js';

export type ContentKind = 'raw' | 'blob';

/** Bytes per chunk row. */
export const CHUNK_BYTES = 1024 * 1024;

/** How many rows content of `size` bytes takes (empty content still has one, so it is known to exist). */
export function chunkCount(size: number): number {
  return Math.max(1, Math.ceil(size / CHUNK_BYTES));
}

/** Copies the file (already durable on disk) into the database, chunk by chunk; a no-op when it is there. */
export async function pushChunks(db: Db, kind: ContentKind, sha256: string, file: string): Promise<void> {
  const { size } = await fsp.stat(file);
  if (await hasChunk(db, kind, sha256, chunkCount(size) - 1)) return;
  // Each chunk in its own short transaction: 50 MB never holds a write lock for its whole upload.
  await eachChunk(file, (seq, bytes) => writeTx(db, (tx) => insertChunk(tx, kind, sha256, seq, bytes)));
}

/** Copies the file into the database inside the caller's transaction (migrate-store moves a store at once). */
export async function copyChunks(tx: Kysely<DB>, kind: ContentKind, sha256: string, file: string): Promise<void> {
  await eachChunk(file, (seq, bytes) => insertChunk(tx, kind, sha256, seq, bytes));
}

function insertChunk(tx: Kysely<DB>, kind: ContentKind, sha256: string, seq: number, bytes: Buffer) {
  return tx
    .insertInto('stored_chunks')
    .values({ kind, sha256, seq, bytes })
    .onConflict((oc) => oc.columns(['kind', 'sha256', 'seq']).doNothing())
    .execute();
}

/** Reads the file one chunk at a time into one reused buffer, never the whole file; `write` has sent the bytes when it resolves. */
async function eachChunk(file: string, write: (seq: number, bytes: Buffer) => Promise<unknown>): Promise<void> {
  const handle = await fsp.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, Math.max(size, 1)));
    for (let seq = 0; seq < chunkCount(size); seq++) {
      const length = await readFully(handle, buffer, seq * CHUNK_BYTES);
      await write(seq, length === buffer.length ? buffer : buffer.subarray(0, length));
    }
  } finally {
    await handle.close();
  }
}

/** Fills `buffer` from `position` (a short read is the end of the file); returns the bytes read. */
async function readFully(handle: fsp.FileHandle, buffer: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

/** The one chunk row (kind, sha256, seq). */
function chunkRow(db: Kysely<DB>, kind: ContentKind, sha256: string, seq: number) {
  return db.selectFrom('stored_chunks').where('kind', '=', kind).where('sha256', '=', sha256).where('seq', '=', seq);
}

async function hasChunk(db: Kysely<DB>, kind: ContentKind, sha256: string, seq: number): Promise<boolean> {
  return (await chunkRow(db, kind, sha256, seq).select('seq').executeTakeFirst()) !== undefined;
}

/** Whether the database holds this content at all (its first chunk). */
export function hasChunks(db: Db, kind: ContentKind, sha256: string): Promise<boolean> {
  return hasChunk(db, kind, sha256, 0);
}

/** The content's bytes, one chunk per query, in order; ends at the first missing chunk. */
export async function* readChunks(db: Db, kind: ContentKind, sha256: string): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const row = await chunkRow(db, kind, sha256, seq).select('bytes').executeTakeFirst();
    if (!row) return;
    yield Buffer.isBuffer(row.bytes) ? row.bytes : Buffer.from(row.bytes);
  }
}

/** Deletes the content's chunks (erasure), in the caller's transaction; returns whether there were any. */
export async function deleteChunks(tx: Kysely<DB>, kind: ContentKind, sha256: string): Promise<boolean> {
  const result = await tx.deleteFrom('stored_chunks').where('kind', '=', kind).where('sha256', '=', sha256).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
