// The daemon's file thread (src/db/file-thread.ts): a message held in memory made a durable file
// on a thread of its own, exactly the bytes given, under its SHA-256's name. A write that fails
// there (no directory can be made) fails with the reason; a thread that dies fails the write in
// hand, and the next write starts a new thread. The compiled module is used (dist/): only there
// does the thread's entry file exist.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileThread as FileThreadType } from '../../src/db/file-thread';
import { REPO_ROOT } from '../support/cli';
import { makeTempDir, removeTempDir } from '../support/tmp';

type Module = { FileThread: typeof FileThreadType };
const load = async () => (await import(path.join(REPO_ROOT, 'dist', 'db/file-thread.js'))) as Module;
const sha = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

describe('the file thread', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('mw-file-thread-');
  });
  afterAll(async () => {
    await removeTempDir(dir);
  });

  it('writes the bytes on its thread under their SHA-256, from a view into a larger buffer too (fails if the pool around the view is written)', async () => {
    const { FileThread } = await load();
    const files = new FileThread();
    try {
      expect(files.running).toBe(false);
      const pool = Buffer.from('xxxxFrom: a@example.org\r\n\r\nHello\r\nyyyy');
      const view = pool.subarray(4, pool.length - 4);
      const root = path.join(dir, 'raw');
      await files.write(root, sha(view), view);
      expect(files.running).toBe(true);
      const file = path.join(root, sha(view).slice(0, 2), sha(view));
      expect(fs.readFileSync(file).toString()).toBe('From: a@example.org\r\n\r\nHello\r\n');
      // The caller's buffer is untouched (the thread got a copy of its own).
      expect(pool.toString()).toContain('Hello');
      // The same content again: the first copy stays, no temp file is left.
      await files.write(root, sha(view), view);
      expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
    } finally {
      await files.close();
    }
  });

  it('fails a write it cannot do with the reason and its code, and goes on writing (fails if an error hangs the write or ends the thread)', async () => {
    const { FileThread } = await load();
    const files = new FileThread();
    try {
      const blocked = path.join(dir, 'a-file');
      fs.writeFileSync(blocked, 'not a directory');
      const bytes = Buffer.from('Subject: x\r\n\r\ny\r\n');
      // The reason keeps its system code: callers tell storage trouble (ENOSPC…) by it.
      await expect(files.write(blocked, sha(bytes), bytes)).rejects.toMatchObject({ code: expect.stringMatching(/^(ENOTDIR|EEXIST)$/) });
      const root = path.join(dir, 'after-error');
      await files.write(root, sha(bytes), bytes);
      expect(fs.existsSync(path.join(root, sha(bytes).slice(0, 2), sha(bytes)))).toBe(true);
    } finally {
      await files.close();
    }
  });

  it('fails the write in hand when its thread dies, and starts a new thread for the next (fails if a write waits forever)', async () => {
    const { FileThread } = await load();
    const files = new FileThread();
    try {
      const root = path.join(dir, 'died');
      const first = Buffer.from('Subject: first\r\n\r\n1\r\n');
      await files.write(root, sha(first), first);
      // The thread goes away with a write in hand (as if it had crashed): ended in the same turn as
      // the write was handed over, before the thread could have written 8 MB and fsynced them.
      const worker = (files as unknown as { worker: { terminate(): Promise<number> } }).worker;
      const second = Buffer.alloc(8 * 1024 * 1024, 'second\r\n');
      const inHand = files.write(root, sha(second), second);
      void worker.terminate();
      await expect(inHand).rejects.toThrow(/file thread exited/);
      expect(files.running).toBe(false);
      await files.write(root, sha(second), second);
      expect(files.running).toBe(true);
      expect(fs.readFileSync(path.join(root, sha(second).slice(0, 2), sha(second))).equals(second)).toBe(true);
    } finally {
      await files.close();
    }
  });
});
