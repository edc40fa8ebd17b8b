// Content-addressed files under the data dir: raw RFC 822 messages (data/raw/<aa>/<sha256>) and
// decoded attachments (data/blobs/<aa>/<sha256>). They sit in src/db, beside the rows that name
// them, below both ingest (which stores them) and cases (which export, erase and attach them). A file is streamed to tmp/, fsynced, hashed,
// then renamed into place and its directory fsynced, so once a function here resolves the bytes
// survive a crash, and the database may name them (DESIGN: step 1 before step 3). A caller may
// read the bytes meanwhile (onWritten), never name them before the promise resolves. Writing the
// same content twice is harmless: the second copy is dropped.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredFile {
  sha256: string;
  size: number;
  path: string;
}

function rawDir(dataDir: string): string {
  return path.join(dataDir, 'raw');
}

function blobsDir(dataDir: string): string {
  return path.join(dataDir, 'blobs');
}

/** Where the raw message with this SHA-256 lives (whether or not it exists). */
export function rawPath(dataDir: string, sha256: string): string {
  return path.join(rawDir(dataDir), sha256.slice(0, 2), sha256);
}

/** Where the decoded attachment with this SHA-256 lives (whether or not it exists). */
export function blobPath(dataDir: string, sha256: string): string {
  return path.join(blobsDir(dataDir), sha256.slice(0, 2), sha256);
}

/** The content as written, before it is durable (see StoreOptions.onWritten). */
export interface WrittenContent extends StoredFile {
  /** the bytes themselves when there are at most StoreOptions.keepBytes of them, else null */
  bytes: Buffer | null;
}

export interface StoreOptions {
  /** Bytes whose SHA-256 is another are refused (a copy rebuilt from the database that came out incomplete) and nothing is kept. */
  expect?: string;
  /**
   * Called once every byte is written and hashed, before the fsync: a caller can start reading the
   * content (from `bytes`) while it becomes durable. The returned promise still says when it is.
   */
  onWritten?: (written: WrittenContent) => void;
  /** the largest content handed to onWritten as bytes (held in memory meanwhile); default 0 */
  keepBytes?: number;
}

/** Stores a raw message (a Buffer or a stream of its bytes). */
export function storeRaw(dataDir: string, input: Buffer | Readable, opts: StoreOptions = {}): Promise<StoredFile> {
  return storeContent(rawDir(dataDir), input, opts);
}

/** Stores an attachment's decoded bytes. */
export function storeBlob(dataDir: string, input: Buffer | Readable, opts: StoreOptions = {}): Promise<StoredFile> {
  return storeContent(blobsDir(dataDir), input, opts);
}

/** Directories known to exist, so the common case costs no mkdir call. */
const madeDirs = new Set<string>();

async function ensureDir(dir: string): Promise<void> {
  if (madeDirs.has(dir)) return;
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  madeDirs.add(dir);
}

async function storeContent(root: string, input: Buffer | Readable, opts: StoreOptions): Promise<StoredFile> {
  const { expect, onWritten, keepBytes = 0 } = opts;
  const tmpDir = path.join(root, 'tmp');
  await ensureDir(tmpDir);
  const tmp = path.join(tmpDir, `${process.pid}-${crypto.randomBytes(8).toString('hex')}`);
  const hash = crypto.createHash('sha256');
  let size = 0;
  // The chunks as they came, while they fit in keepBytes (for onWritten).
  let kept: Buffer[] | null = onWritten && keepBytes > 0 ? [] : null;
  let sha256 = '';
  const handle = await fsp.open(tmp, 'wx', 0o600);
  try {
    if (Buffer.isBuffer(input)) {
      hash.update(input);
      size = input.length;
      kept?.push(input);
      await handle.writeFile(input);
    } else {
      // pipeline into a Writable, not `for await`: the async iterator reads whatever the input has
      // buffered as one Buffer, so a producer that outruns the disk (mailparser's attachment
      // streams) would have its backlog copied into ever larger chunks.
      await pipeline(
        input,
        new Writable({
          write(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            size += chunk.length;
            if (kept && size <= keepBytes) kept.push(chunk);
            else kept = null;
            handle.write(chunk).then(() => done(), done);
          },
        }),
      );
    }
    sha256 = hash.digest('hex');
    if (onWritten && (expect === undefined || sha256 === expect)) {
      const bytes = !kept || size > keepBytes ? null : kept.length === 1 ? kept[0]! : Buffer.concat(kept, size);
      onWritten({ sha256, size, path: path.join(root, sha256.slice(0, 2), sha256), bytes });
    }
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();

  if (expect !== undefined && sha256 !== expect) {
    await fsp.rm(tmp, { force: true });
    throw new Error(`the stored bytes of ${expect} do not match their SHA-256 (got ${sha256})`);
  }
  const dir = path.join(root, sha256.slice(0, 2));
  const final = path.join(dir, sha256);
  await ensureDir(dir);
  if (fs.existsSync(final)) {
    // Same content is already durable: keep the first copy.
    await fsp.rm(tmp, { force: true });
  } else {
    await fsp.rename(tmp, final);
    await syncDir(dir);
  }
  return { sha256, size, path: final };
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes temp files left by a crash mid-write (they were never named by the database). */
export async function sweepTemp(dataDir: string, olderThanMs = 60 * 60_000): Promise<number> {
  let removed = 0;
  for (const root of [rawDir(dataDir), blobsDir(dataDir)]) {
    const tmpDir = path.join(root, 'tmp');
    let names: string[];
    try {
      names = await fsp.readdir(tmpDir);
    } catch {
      continue;
    }
    for (const name of names) {
      const file = path.join(tmpDir, name);
      try {
        const st = await fsp.stat(file);
        if (Date.now() - st.mtimeMs > olderThanMs) {
          await fsp.rm(file, { force: true });
          removed++;
        }
      } catch {
        // vanished meanwhile
      }
    }
  }
  return removed;
}
