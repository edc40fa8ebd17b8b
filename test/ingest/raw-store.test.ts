// The raw store as the pipeline uses it (src/db/stored-files.ts): the bytes handed over for parsing
// before the file is durable, only when they are small enough to hold in memory, and a message cut
// off mid-way (the sender dropped the connection) never stored as if it were whole.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { prepareStoreDirs, storeRaw, writeDurablySync, type WrittenContent } from '../../src/db/stored-files';
import { makeTempDir, removeTempDir } from '../support/tmp';

/** A stream of `parts`, then either its end or, with `cut`, a destroy (a connection gone mid-DATA). */
function delivery(parts: string[], cut = false): Readable {
  const queue = [...parts];
  return new Readable({
    read() {
      const next = queue.shift();
      if (next !== undefined) this.push(Buffer.from(next));
      else if (cut) setImmediate(() => this.destroy());
      else this.push(null);
    },
  });
}

/** Every file under the data dir's raw/ tree (temp files included). */
function rawFiles(dataDir: string): string[] {
  const root = path.join(dataDir, 'raw');
  return fs.existsSync(root) ? (fs.readdirSync(root, { recursive: true }) as string[]).filter((p) => fs.statSync(path.join(root, p)).isFile()) : [];
}

/** The 256 prefix directories and tmp/ that a ready root holds, sorted. */
const READY_ROOT = [...Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')), 'tmp'].sort();

/** Lets fsyncs through and notes the path of each, in order, until `spy.mockRestore()`. */
function watchFsyncs() {
  const synced: string[] = [];
  const real = fs.fsyncSync.bind(fs);
  const spy = vi.spyOn(fs, 'fsyncSync').mockImplementation((fd) => {
    synced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
    real(fd);
  });
  return { synced, spy };
}

describe('raw store', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('mw-raw-store-');
  });
  afterAll(async () => {
    await removeTempDir(dir);
  });

  it('hands the bytes over before the file is stored, then stores exactly them (fails if the copy differs or comes after)', async () => {
    const dataDir = path.join(dir, 'handed');
    const parts = ['From: a@example.org\r\n', 'Subject: hi\r\n\r\n', 'Hello\r\n'];
    let written: WrittenContent | null = null;
    let storedYet = false;
    const result = await storeRaw(dataDir, delivery(parts), {
      keepBytes: 1024,
      onWritten: (w) => {
        written = w;
        storedYet = fs.existsSync(w.path);
      },
    });
    expect(written).not.toBeNull();
    const w = written as unknown as WrittenContent;
    expect(storedYet).toBe(false);
    expect(w.bytes?.toString()).toBe(parts.join(''));
    expect(w.sha256).toBe(result.sha256);
    expect(w.path).toBe(result.path);
    expect(fs.readFileSync(result.path).toString()).toBe(parts.join(''));
  });

  it('hands no bytes over for a message larger than keepBytes (fails if it holds big mail in memory)', async () => {
    const dataDir = path.join(dir, 'large');
    let bytes: Buffer | null | undefined;
    const result = await storeRaw(dataDir, delivery(['x'.repeat(600), 'y'.repeat(600)]), { keepBytes: 1000, onWritten: (w) => (bytes = w.bytes) });
    expect(bytes).toBeNull();
    expect(result.size).toBe(1200);
  });

  it('refuses a message cut off mid-way and keeps no file of it (fails if half a message is stored as whole)', async () => {
    const dataDir = path.join(dir, 'cut');
    let handed = false;
    await expect(
      storeRaw(dataDir, delivery(['From: a@example.org\r\n', 'Subject: half'], true), { keepBytes: 1024, onWritten: () => (handed = true) }),
    ).rejects.toThrow(/premature close/i);
    expect(handed).toBe(false);
    expect(rawFiles(dataDir)).toEqual([]);
  });

  it('gives a message held in memory to the writer in one piece, and nothing to a writer for a larger one (fails if held mail is written here or streamed mail is held)', async () => {
    const dataDir = path.join(dir, 'writer');
    const given: Array<{ sha256: string; text: string }> = [];
    const writer = async (root: string, sha256: string, bytes: Uint8Array) => {
      given.push({ sha256, text: Buffer.from(bytes).toString() });
      writeDurablySync(root, sha256, bytes);
    };
    const small = await storeRaw(dataDir, delivery(['From: a@example.org\r\n', '\r\nHi\r\n']), { keepBytes: 1024, writer });
    expect(given).toEqual([{ sha256: small.sha256, text: 'From: a@example.org\r\n\r\nHi\r\n' }]);
    expect(fs.readFileSync(small.path).toString()).toBe('From: a@example.org\r\n\r\nHi\r\n');
    // Past keepBytes after two chunks: those two and the rest of the stream go to the file as they come.
    const parts = ['a'.repeat(600), 'b'.repeat(600), 'c'.repeat(600), 'd'.repeat(10)];
    const large = await storeRaw(dataDir, delivery(parts), { keepBytes: 1000, writer });
    expect(given).toHaveLength(1);
    expect(fs.readFileSync(large.path).toString()).toBe(parts.join(''));
    expect(large.size).toBe(1810);
  });

  it('hands a held message to a writer before it shows the bytes to onWritten, and resolves only once written (fails if the parse is started first)', async () => {
    const dataDir = path.join(dir, 'writer-first');
    const order: string[] = [];
    let finish: () => void = () => undefined;
    const writer = async (root: string, sha256: string, bytes: Uint8Array) => {
      order.push('writer');
      // A file thread's write: it answers later, as the thread does.
      await new Promise<void>((resolve) => (finish = resolve));
      writeDurablySync(root, sha256, bytes);
      order.push('durable');
    };
    const storing = storeRaw(dataDir, delivery(['From: a@example.org\r\n', '\r\nFirst\r\n']), {
      keepBytes: 1024,
      writer,
      onWritten: () => order.push('onWritten'),
    });
    await vi.waitFor(() => expect(order).toEqual(['writer', 'onWritten']));
    let resolved = false;
    void storing.then(() => (resolved = true));
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(false);
    finish();
    const stored = await storing;
    expect(order).toEqual(['writer', 'onWritten', 'durable']);
    expect(fs.readFileSync(stored.path).toString()).toBe('From: a@example.org\r\n\r\nFirst\r\n');
  });

  it('sees a write in hand through when onWritten throws, then fails with that error (fails if the write is left running unwatched)', async () => {
    const dataDir = path.join(dir, 'written-throws');
    let written = false;
    const writer = async (root: string, sha256: string, bytes: Uint8Array) => {
      await new Promise((r) => setImmediate(r));
      writeDurablySync(root, sha256, bytes);
      written = true;
    };
    const storing = storeRaw(dataDir, delivery(['From: a@example.org\r\n', '\r\nThrown\r\n']), {
      keepBytes: 1024,
      writer,
      onWritten: () => {
        throw new Error('the parse could not start');
      },
    });
    await expect(storing).rejects.toThrow('the parse could not start');
    expect(written).toBe(true);
  });

  it('refuses held bytes that are not the expected content and keeps nothing (fails if a damaged rebuild is stored)', async () => {
    const dataDir = path.join(dir, 'expect');
    await expect(storeRaw(dataDir, Buffer.from('damaged'), { expect: 'f'.repeat(64) })).rejects.toThrow(/do not match their SHA-256/);
    await expect(storeRaw(dataDir, delivery(['x'.repeat(700), 'y'.repeat(700)]), { expect: 'f'.repeat(64) })).rejects.toThrow(/do not match/);
    expect(rawFiles(dataDir)).toEqual([]);
  });

  it("makes every directory on a stored file's path durable, its root's once per thread (fails if a new directory's entry is left unsynced)", async () => {
    const top = path.join(dir, 'fresh');
    const dataDir = path.join(top, 'data');
    const raw = path.join(dataDir, 'raw');
    const { synced, spy } = watchFsyncs();
    try {
      const first = await storeRaw(dataDir, Buffer.from('Subject: first\r\n\r\nfirst\r\n'));
      // Made at the first store: tmp/ and all 256 prefixes; synced: the root and each new directory's parent.
      expect(fs.readdirSync(raw).sort()).toEqual(READY_ROOT);
      expect(synced).toEqual(expect.arrayContaining([raw, dataDir, top, dir, path.dirname(first.path)]));
      const before = synced.length;
      const second = await storeRaw(dataDir, Buffer.from('Subject: second\r\n\r\nsecond\r\n'));
      // From then on a store syncs its file and its prefix directory, nothing above.
      expect(synced.slice(before)).toEqual([expect.stringContaining(path.join(raw, 'tmp')), path.dirname(second.path)]);
      expect(fs.readFileSync(second.path, 'utf8')).toContain('second');
    } finally {
      spy.mockRestore();
    }
  });

  it("makes raw/ and blobs/ ready before any message, as a daemon's start does, so the first store syncs only its own file and directory (fails if the first message still pays for the directories)", async () => {
    const dataDir = path.join(dir, 'started', 'data');
    prepareStoreDirs(dataDir);
    for (const root of ['raw', 'blobs']) expect(fs.readdirSync(path.join(dataDir, root)).sort()).toEqual(READY_ROOT);
    const { synced, spy } = watchFsyncs();
    try {
      const first = await storeRaw(dataDir, Buffer.from('Subject: first\r\n\r\nfirst\r\n'));
      expect(synced).toEqual([expect.stringContaining(path.join(dataDir, 'raw', 'tmp')), path.dirname(first.path)]);
    } finally {
      spy.mockRestore();
    }
  });
});
