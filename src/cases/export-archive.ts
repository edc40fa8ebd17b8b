// Packs a customer export (src/cases/customer-export.ts) into one ZIP file with yazl: ZIP because
// the customer who asked for their data opens it with a double click on any system; yazl because
// it streams (a raw mail may be 50 MB) and is small. customer.json and every file go in as they
// are, hashed on the way through, and MANIFEST.sha256 (sha256sum's format, so `sha256sum -c`
// checks an unpacked copy) comes last. The file is created exclusively (never overwriting
// anything) and readable by its owner only (SPEC §9), and removed again if writing fails.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import yazl from 'yazl';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { usageError } from '../errors.js';
import type { ExportContent } from './customer-export.js';

export interface ArchiveResult {
  file: string;
  /** names inside the archive with their SHA-256, MANIFEST.sha256 itself excepted */
  entries: Array<{ name: string; sha256: string; size: number }>;
}

/** Writes the archive to `file`, refusing one that exists. */
export async function writeExportArchive(db: Kysely<DB>, content: ExportContent, file: string): Promise<ArchiveResult> {
  let out: fs.WriteStream;
  try {
    out = fs.createWriteStream(file, { flags: 'wx', mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      out.once('open', () => resolve());
      out.once('error', reject);
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw usageError('EOUTPUTEXISTS', `The file ${file} exists; an export never overwrites a file, so name another with --output.`);
    throw err;
  }
  try {
    const entries = await pack(db, content, out);
    fs.chmodSync(file, 0o600);
    return { file, entries };
  } catch (err) {
    out.destroy();
    fs.rmSync(file, { force: true });
    throw err;
  }
}

async function pack(db: Kysely<DB>, content: ExportContent, out: fs.WriteStream): Promise<ArchiveResult['entries']> {
  const zip = new yazl.ZipFile();
  const written = finished(zip.outputStream.pipe(out));
  const entries: ArchiveResult['entries'] = [];
  const hashes: Array<Promise<void>> = [];
  const add = (name: string, source: Readable) => {
    const hash = crypto.createHash('sha256');
    let size = 0;
    // Hashed as yazl reads it (a transform, not a 'data' listener, which would let bytes flow past yazl).
    const through = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const entry = { name, sha256: '', size: 0 };
    entries.push(entry);
    hashes.push(
      finished(through).then(() => {
        entry.sha256 = hash.digest('hex');
        entry.size = size;
      }),
    );
    source.on('error', (err) => through.destroy(err));
    zip.addReadStream(source.pipe(through), name, { mode: 0o100600 });
  };
  add('customer.json', bufferStream(Buffer.from(JSON.stringify(content.document, null, 2) + '\n')));
  for (const f of content.files) {
    if ('path' in f) add(f.name, fs.createReadStream(f.path));
    else add(f.name, bufferStream(await sentMime(db, f.outboxId)));
  }
  await Promise.all(hashes);
  const manifest = entries.map((e) => `${e.sha256}  ${e.name}\n`).join('');
  zip.addBuffer(Buffer.from(manifest), 'MANIFEST.sha256', { mode: 0o100600 });
  zip.end();
  await written;
  return entries;
}

function bufferStream(bytes: Buffer): Readable {
  const s = new PassThrough();
  s.end(bytes);
  return s;
}

/** The frozen bytes of an outbox row: the mail exactly as it was (or will be) sent. */
async function sentMime(db: Kysely<DB>, id: number): Promise<Buffer> {
  const row = await db.selectFrom('outbox').select('mime').where('id', '=', id).executeTakeFirstOrThrow();
  return Buffer.from(row.mime);
}
