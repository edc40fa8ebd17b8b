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
  /**
   * Content of at most this many bytes is held in memory: handed to onWritten as `bytes`, and
   * written in one piece by `writer` once it is all there. Larger content is streamed to its file
   * as it comes. Default 0.
   */
  keepBytes?: number;
  /** Who makes content held in memory durable (a file thread: src/db/file-thread.ts); default writeDurablySync on this thread. */
  writer?: DurableWriter;
}

/** Makes `bytes`, whose SHA-256 is `sha256`, the durable file root/<aa>/<sha256>. */
export type DurableWriter = (root: string, sha256: string, bytes: Uint8Array) => Promise<void>;

/** Stores a raw message (a Buffer or a stream of its bytes). */
export function storeRaw(dataDir: string, input: Buffer | Readable, opts: StoreOptions = {}): Promise<StoredFile> {
  return storeContent(rawDir(dataDir), input, opts);
}

/** Stores an attachment's decoded bytes. */
export function storeBlob(dataDir: string, input: Buffer | Readable, opts: StoreOptions = {}): Promise<StoredFile> {
  return storeContent(blobsDir(dataDir), input, opts);
}

/** Roots (raw/, blobs/) made ready on this thread: their tmp/ and every prefix directory exist, durably. */
const readyRoots = new Set<string>();

/** The 256 prefix directories (<aa>: the first two hex digits of a SHA-256). */
const PREFIXES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * At a root's first use on this thread: creates its tmp/ and all 256 prefix directories that are
 * missing, then fsyncs the root and each directory above it up to the first one that existed.
 * Why: a file survives a crash only when each directory entry on its path does, and placeFile's
 * fsync of the file's own directory leaves that directory's entry in its parent to the file
 * system's good will. Made one by one as hashes need them, the first message in each prefix would
 * pay a mkdir and a second fsync before its 250; all at once it costs a few ms, once. The fsyncs
 * run even when nothing was made here: another process may have made a directory this one will
 * use and not synced its parent yet.
 */
function prepareRoot(root: string): void {
  if (readyRoots.has(root)) return;
  const firstMade = fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const present = new Set(fs.readdirSync(root));
  for (const name of ['tmp', ...PREFIXES]) {
    if (!present.has(name)) mkdirIfMissing(path.join(root, name));
  }
  const highest = path.dirname(firstMade ?? root);
  for (let dir = root; ; dir = path.dirname(dir)) {
    fsyncDir(dir);
    if (dir === highest || dir === path.dirname(dir)) break;
  }
  readyRoots.add(root);
}

/**
 * Makes the raw and attachment roots under `dataDir` ready on this thread (prepareRoot), for a
 * daemon's start: the first message then pays no mkdir. The daemon's file thread, which stores
 * the raw bytes, still checks once on its own first use, and finds them made.
 */
export function prepareStoreDirs(dataDir: string): void {
  for (const root of [rawDir(dataDir), blobsDir(dataDir)]) prepareRoot(root);
}

function mkdirIfMissing(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    // Another process (a CLI command storing a message beside the daemon) made it first.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function finalPath(root: string, sha256: string): string {
  return path.join(root, sha256.slice(0, 2), sha256);
}

function tempFile(root: string): string {
  return path.join(root, 'tmp', `${process.pid}-${crypto.randomBytes(8).toString('hex')}`);
}

async function storeContent(root: string, input: Buffer | Readable, opts: StoreOptions): Promise<StoredFile> {
  const keepBytes = opts.keepBytes ?? 0;
  const held = Buffer.isBuffer(input) ? input : await readUpTo(input, keepBytes);
  if (Buffer.isBuffer(held)) return storeHeld(root, held, opts);
  return storeStreamed(root, held.head, held.rest, opts);
}

/** Content in memory: hashed, handed to the writer in one piece, and shown to onWritten meanwhile. */
async function storeHeld(root: string, bytes: Buffer, opts: StoreOptions): Promise<StoredFile> {
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  if (opts.expect !== undefined && sha256 !== opts.expect) throw mismatch(opts.expect, sha256);
  const stored = { sha256, size: bytes.length, path: finalPath(root, sha256) };
  // The write is handed over before onWritten starts the parse: its two fsyncs are the longest
  // step before the 250, and a parser thread woken first can hold the CPU it is handed over on.
  const writing = (opts.writer ?? writeHere)(root, sha256, bytes);
  try {
    opts.onWritten?.({ ...stored, bytes: bytes.length <= (opts.keepBytes ?? 0) ? bytes : null });
  } finally {
    // Even when onWritten throws: the write in hand is seen through, and its failure not left unhandled.
    await writing;
  }
  return stored;
}

/**
 * Writes content to tmp/, fsyncs it, renames it into place and fsyncs its directory, all in one
 * synchronous run: the daemon's file thread calls this (src/db/file-thread.ts), where blocking
 * costs nobody anything and six steps through libuv's thread pool would cost six thread wake-ups
 * (measured on this 2-CPU VM: LMTP one sender +7 to +13%, against the same steps done async on
 * the main thread). A command storing a message (deliver, reprocess) blocks for it, as it waits anyway.
 */
export function writeDurablySync(root: string, sha256: string, bytes: Uint8Array): void {
  prepareRoot(root);
  const tmp = tempFile(root);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, bytes);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  placeFile(root, tmp, sha256);
}

/**
 * writeDurablySync as a DurableWriter: the default where no file thread is given (and a closed or
 * uncompiled file thread's). It yields first, so that the caller's onWritten (the parse, on its
 * own thread) starts before these fsyncs block.
 */
export const writeHere: DurableWriter = async (root, sha256, bytes) => {
  await Promise.resolve();
  writeDurablySync(root, sha256, bytes);
};

/** Content too large to hold: the first chunks (already read), then the rest of the stream, to tmp/ as they come. */
async function storeStreamed(root: string, head: Buffer[], rest: Readable, opts: StoreOptions): Promise<StoredFile> {
  prepareRoot(root);
  const tmp = tempFile(root);
  const hash = crypto.createHash('sha256');
  let size = 0;
  let sha256 = '';
  const handle = await fsp.open(tmp, 'wx', 0o600);
  try {
    const take = async (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
      await handle.write(chunk);
    };
    for (const chunk of head) await take(chunk);
    // pipeline into a Writable, not `for await`: the async iterator reads whatever the input has
    // buffered as one Buffer, so a producer that outruns the disk (mailparser's attachment
    // streams) would have its backlog copied into ever larger chunks.
    await pipeline(
      rest,
      new Writable({
        write(chunk: Buffer, _enc, done) {
          take(chunk).then(() => done(), done);
        },
      }),
    );
    sha256 = hash.digest('hex');
    if (opts.expect !== undefined && sha256 !== opts.expect) throw mismatch(opts.expect, sha256);
    opts.onWritten?.({ sha256, size, path: finalPath(root, sha256), bytes: null });
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  placeFile(root, tmp, sha256);
  return { sha256, size, path: finalPath(root, sha256) };
}

/** The fsynced temp file renamed to its name (its directory made by prepareRoot), the directory fsynced; a copy already there is kept instead. */
function placeFile(root: string, tmp: string, sha256: string): void {
  const final = finalPath(root, sha256);
  if (fs.existsSync(final)) {
    // Same content is already durable: keep the first copy.
    fs.rmSync(tmp, { force: true });
    return;
  }
  fs.renameSync(tmp, final);
  fsyncDir(path.dirname(final));
}

function mismatch(expected: string, got: string): Error {
  return new Error(`the stored bytes of ${expected} do not match their SHA-256 (got ${got})`);
}

/**
 * Reads a stream whole when it ends within `max` bytes (a Buffer); else stops at the chunk that
 * passes `max` and returns the chunks read and the paused stream, to be streamed on.
 */
function readUpTo(stream: Readable, max: number): Promise<Buffer | { head: Buffer[]; rest: Readable }> {
  if (max <= 0) return Promise.resolve({ head: [], rest: stream });
  return new Promise((resolve, reject) => {
    const head: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      head.push(chunk);
      size += chunk.length;
      if (size <= max) return;
      stream.pause();
      // Until the pipeline listens: an error meanwhile stays on the stream (pipeline sees it), never uncaught.
      stream.on('error', () => undefined);
      detach();
      resolve({ head, rest: stream });
    };
    const onEnd = () => {
      detach();
      resolve(head.length === 1 ? head[0]! : Buffer.concat(head, size));
    };
    const onError = (err: Error) => {
      detach();
      reject(err);
    };
    // Destroyed before its end (the sender went away): no message.
    const onClose = () => onError(new Error('premature close: the message stream ended before its end'));
    const detach = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
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
