// The raw mail and attachment files of a SQLite installation (data/raw/<aa>/<sha256>,
// data/blobs/<aa>/<sha256>), as migrate-store sees them. Each file is read once and hashed: its
// name is its SHA-256, so a file that does not match is damaged and the move stops rather than
// carry it over. Where the bytes go is not decided here: a RawCopier (the database's stored_chunks
// table, when it exists) takes the checked list inside the target transaction; without one the
// files stay where they are and the daemons read them from a shared directory (SPEC §10).
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { dataError } from '../errors.js';
import type { Kysely } from 'kysely';
import type { DB } from './schema.js';
import { chunkCount, copyChunks } from './stored-chunks.js';
import type { StoreDb } from './store-tables.js';

export interface RawFile {
  kind: 'raw' | 'blob';
  sha256: string;
  path: string;
  size: number;
}

/** Copies checked files into the target database inside its migration transaction. */
export type RawCopier = (tx: StoreDb, files: RawFile[]) => Promise<void>;

export interface RawSummary {
  files: number;
  bytes: number;
  /** true when the files were copied into the database; false when they stay on disk. */
  copied: boolean;
}

const ROOTS = [
  { kind: 'raw', dir: 'raw' },
  { kind: 'blob', dir: 'blobs' },
] as const;

/** Every stored file under the data dir, hashed and checked against its name (temp files skipped). */
export async function checkedRawFiles(dataDir: string): Promise<RawFile[]> {
  const files: RawFile[] = [];
  for (const root of ROOTS) {
    const base = path.join(dataDir, root.dir);
    if (!fs.existsSync(base)) continue;
    for (const shard of (await fsp.readdir(base)).sort()) {
      if (shard === 'tmp' || !/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of (await fsp.readdir(path.join(base, shard))).sort()) {
        const file = path.join(base, shard, name);
        const { sha256, size } = await hashFile(file);
        if (sha256 !== name) throw dataError('EMIGRATESTORE', `The stored file ${file} does not match its SHA-256, so the installation is not copied.`);
        files.push({ kind: root.kind, sha256, path: file, size });
      }
    }
  }
  return files;
}

async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * The files into `stored_chunks` (storage.files: database, the default on PostgreSQL), streamed a
 * chunk at a time inside the target transaction, then counted back: each file must have exactly
 * the chunks its size makes, or the whole move is undone.
 */
export const copyRawIntoChunks: RawCopier = async (tx, files) => {
  const db = tx as unknown as Kysely<DB>;
  for (const f of files) await copyChunks(db, f.kind, f.sha256, f.path);
  for (const f of files) {
    const row = await db
      .selectFrom('stored_chunks')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', f.kind)
      .where('sha256', '=', f.sha256)
      .executeTakeFirstOrThrow();
    if (Number(row.n) !== chunkCount(f.size)) {
      throw dataError('EMIGRATESTORE', `The stored file ${f.path} did not arrive whole in the database, so the installation is not copied.`);
    }
  }
};
