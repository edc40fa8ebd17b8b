// In database mode (storage.files, src/db/content-store.ts) every node keeps local copies of the
// content it stored or read. An erasure (SPEC §9) deletes the chunks, and the copies on the node
// that ran it; this sweep lets every other node drop its own copies of content whose chunks are
// gone, so an erased message leaves no trace on any machine. A file younger than the grace is left
// alone: a store writes its file before its chunks, which may still be on their way.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ContentStore } from './content-store.js';
import type { ContentKind } from './stored-chunks.js';

/** Content files are named by SHA-256 under raw/<aa>/ and blobs/<aa>/ (stored-files.ts). */
const DIRS: Array<{ kind: ContentKind; dir: string }> = [
  { kind: 'raw', dir: 'raw' },
  { kind: 'blob', dir: 'blobs' },
];
const SHA256_NAME = /^[0-9a-f]{64}$/;
const BATCH = 500;
const DEFAULT_GRACE_MS = 60 * 60_000;

/** Deletes this node's copies of erased content; returns how many files went. Only in database mode. */
export async function dropErasedCopies(store: ContentStore, now = Date.now(), graceMs = DEFAULT_GRACE_MS): Promise<number> {
  if (store.mode !== 'database') return 0;
  let dropped = 0;
  for (const { kind, dir } of DIRS) {
    const root = path.join(store.root, dir);
    if (!fs.existsSync(root)) continue;
    for (const sub of await fsp.readdir(root)) {
      if (sub === 'tmp') continue;
      const files = await oldEnough(path.join(root, sub), now - graceMs);
      for (let i = 0; i < files.length; i += BATCH) dropped += await dropUnheld(store, kind, files.slice(i, i + BATCH));
    }
  }
  return dropped;
}

/** Content files in `dir` last written before `before` (ms). */
async function oldEnough(dir: string, before: number): Promise<string[]> {
  const out: string[] = [];
  for (const name of await fsp.readdir(dir)) {
    if (!SHA256_NAME.test(name)) continue;
    const file = path.join(dir, name);
    const stat = await fsp.stat(file).catch(() => null);
    if (stat?.isFile() && stat.mtimeMs < before) out.push(file);
  }
  return out;
}

/** Removes the files among these whose content the database no longer holds. */
async function dropUnheld(store: ContentStore, kind: ContentKind, files: string[]): Promise<number> {
  const names = files.map((f) => path.basename(f));
  const held = await store.db.selectFrom('stored_chunks').select('sha256').where('kind', '=', kind).where('seq', '=', 0).where('sha256', 'in', names).execute();
  const keep = new Set(held.map((r) => r.sha256));
  let dropped = 0;
  for (const file of files) {
    if (keep.has(path.basename(file))) continue;
    await fsp.rm(file, { force: true });
    dropped++;
  }
  return dropped;
}
