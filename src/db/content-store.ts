// Where raw mail and attachments live, by `storage.files` (SPEC §10): the one door every part of
// mailwarden goes through to store or read them, so that with several daemons on several machines
// each of them can read what another one took in.
//  - data_dir: content-addressed files under instance.data_dir (one machine; the default).
//  - directory: the same files under storage.directory, a directory every node mounts (NFS).
//  - database: the files under the data dir as before, and their bytes in `stored_chunks`
//    (src/db/stored-chunks.ts); a node that lacks a file rebuilds it from the chunks when asked.
// Why the local file stays in database mode: the parser thread, nodemailer and the export archive
// read files by path, and a local copy is read at disk speed. The order is the files' order: bytes
// durable (file fsynced, chunks committed) before any row names them, so before the 250 answer.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Config } from '../config/types.js';
import { dataError, unavailableError } from '../errors.js';
import type { Db } from './connection.js';
import type { DB } from './schema.js';
import { deleteChunks, hasChunks, pushChunks, readChunks, type ContentKind } from './stored-chunks.js';
import { blobPath, prepareStoreDirs, rawPath, storeBlob, storeRaw, sweepTemp, type StoredFile, type StoreOptions } from './stored-files.js';

export type { ContentKind } from './stored-chunks.js';
export type FilesMode = 'data_dir' | 'database' | 'directory';

export interface ContentStore {
  mode: FilesMode;
  /** the directory the files are under: the data dir, or storage.directory */
  root: string;
  db: Db;
}

/** The mode in force: as configured, else `database` when the database is a server, else `data_dir`. */
function filesMode(config: Config): FilesMode {
  return config.storage.files ?? (config.database.url ? 'database' : 'data_dir');
}

/** The directory the content files are under (the parser thread stores attachments there). */
function filesRoot(config: Config): string {
  return filesMode(config) === 'directory' && config.storage.directory ? config.storage.directory : config.instance.data_dir;
}

export function contentStore(config: Config, db: Db): ContentStore {
  return { mode: filesMode(config), root: filesRoot(config), db };
}

/** Stores a raw message: durable on disk, and in the database in database mode, when this resolves. */
export async function storeRawContent(store: ContentStore, input: Buffer | Readable, opts: StoreOptions = {}): Promise<StoredFile> {
  const stored = await storeRaw(store.root, input, opts);
  if (store.mode === 'database') await pushChunks(store.db, 'raw', stored.sha256, stored.path);
  return stored;
}

/** Stores an attachment's bytes, as storeRawContent. */
export async function storeBlobContent(store: ContentStore, input: Buffer | Readable): Promise<StoredFile> {
  const stored = await storeBlob(store.root, input);
  if (store.mode === 'database') await pushChunks(store.db, 'blob', stored.sha256, stored.path);
  return stored;
}

/** Attachments the parser thread stored as files under store.root: into the database too (database mode). */
export async function shareBlobs(store: ContentStore, sha256s: Iterable<string>): Promise<void> {
  if (store.mode !== 'database') return;
  for (const sha of new Set(sha256s)) await pushChunks(store.db, 'blob', sha, blobPath(store.root, sha));
}

/**
 * Where the content's file is on this node, without rebuilding it: for code inside a transaction
 * (which must not query the database beside it) that reads content this node has just stored.
 */
export function localPath(store: ContentStore, kind: ContentKind, sha256: string): string {
  return kind === 'raw' ? rawPath(store.root, sha256) : blobPath(store.root, sha256);
}

/**
 * The path of the content's file on this node, rebuilt from the database first when this node does
 * not have it (database mode). The path may not exist: the content was erased, or never kept.
 */
async function localFile(store: ContentStore, kind: ContentKind, sha256: string): Promise<string> {
  const file = localPath(store, kind, sha256);
  if (store.mode !== 'database' || fs.existsSync(file)) return file;
  if (!(await hasChunks(store.db, kind, sha256))) return file;
  // Streamed to tmp/, fsynced, checked against its SHA-256, renamed into place: as when it came in.
  const input = Readable.from(readChunks(store.db, kind, sha256));
  try {
    const stored = kind === 'raw' ? await storeRaw(store.root, input, { expect: sha256 }) : await storeBlob(store.root, input, { expect: sha256 });
    return stored.path;
  } catch (err) {
    const what = kind === 'raw' ? 'raw message' : 'attachment';
    throw dataError('ESTORED', `The ${what} ${sha256} cannot be rebuilt from the database: ${(err as Error).message}.`);
  }
}

export function localRawFile(store: ContentStore, sha256: string): Promise<string> {
  return localFile(store, 'raw', sha256);
}

export function localBlobFile(store: ContentStore, sha256: string): Promise<string> {
  return localFile(store, 'blob', sha256);
}

/**
 * Deletes content everywhere this node can: its file, and its chunks in the caller's transaction
 * (whatever the mode, so none are left behind by a change of mode). Returns whether anything was there.
 */
export async function removeContent(tx: Kysely<DB>, store: ContentStore, kind: ContentKind, sha256: string): Promise<boolean> {
  const file = localPath(store, kind, sha256);
  const hadFile = fs.existsSync(file);
  if (hadFile) await fsp.rm(file, { force: true });
  const hadChunks = await deleteChunks(tx, kind, sha256);
  return hadFile || hadChunks;
}

/** Removes temp files left by a crash mid-write, under the data dir and the shared directory. */
export async function sweepContentTemp(config: Config): Promise<number> {
  const roots = new Set([config.instance.data_dir, filesRoot(config)]);
  let removed = 0;
  for (const root of roots) removed += await sweepTemp(root);
  return removed;
}

/**
 * Makes the directories content is stored in, at a daemon's start (before it says it is ready):
 * on a new data dir, tmp/ and the 256 prefix directories under raw/ and under blobs/, and the
 * fsyncs of their parents, which the first message would otherwise wait for before its 250. A
 * directory that cannot be made stops the start with that one sentence, rather than every
 * message failing on it.
 */
export function prepareContentDirs(config: Config): void {
  const root = filesRoot(config);
  try {
    prepareStoreDirs(root);
  } catch (err) {
    throw unavailableError('ESTOREDIR', `Cannot make the directories raw mail is kept in, under ${root}: ${(err as Error).message}.`);
  }
}
