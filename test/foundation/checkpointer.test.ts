// The daemon's checkpoint thread (src/db/checkpointer.ts, issue 18): while writes flow it copies
// the write-ahead log into the database file so that commits do not, then ends after a quiet
// spell and gives the job back to the commits; a thread that dies does the same at once. The
// thread is compiled code (the test runner loads sources, where it is skipped), so this drives
// the compiled module from dist/ on a real SQLite file.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli';
import { makeTempDir, removeTempDir } from '../support/tmp';
import { waitFor } from '../support/wait';

type CheckpointerModule = typeof import('../../src/db/checkpointer');
type ConnectionModule = typeof import('../../src/db/connection');

const dist = (p: string) => path.join(REPO_ROOT, 'dist', p);
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeTempDir(d);
});

async function openScratch() {
  const { openDatabase } = (await import(dist('db/connection.js'))) as ConnectionModule;
  const dir = await makeTempDir('mw-checkpoint-');
  dirs.push(dir);
  const opened = await openDatabase({ dataDir: dir });
  const sqlite = opened.sqlite!;
  sqlite.exec('create table scratch (x blob)');
  const insert = sqlite.prepare('insert into scratch (x) values (?)');
  // About 2,500 pages in 250 commits, well past SQLite's own threshold of 1,000.
  const write = () => {
    for (let i = 0; i < 250; i++) sqlite.transaction(() => insert.run(Buffer.alloc(40_000, i)))();
  };
  const autocheckpoint = () => sqlite.pragma('wal_autocheckpoint', { simple: true }) as number;
  return { opened, sqlite, write, autocheckpoint };
}

describe('the checkpoint thread', () => {
  it('checkpoints while writes flow, with the commits’ own threshold raised, then ends when quiet', async () => {
    const { Checkpointer } = (await import(dist('db/checkpointer.js'))) as CheckpointerModule;
    const { BACKSTOP_PAGES, DEFAULT_PAGES } = Checkpointer;
    const { opened, sqlite, write, autocheckpoint } = await openScratch();
    const failures: Error[] = [];
    const cp = new Checkpointer(sqlite, opened.file!, (err) => failures.push(err), 1_500);
    try {
      expect(autocheckpoint()).toBe(DEFAULT_PAGES);
      cp.wanted();
      expect(cp.running).toBe(true);
      expect(autocheckpoint()).toBe(BACKSTOP_PAGES);
      write();
      await waitFor(() => cp.checkpointed >= 2_000, { what: 'the thread to copy the written pages' });
      await waitFor(() => !cp.running, { what: 'the thread to end after a quiet spell' });
      expect(autocheckpoint()).toBe(DEFAULT_PAGES);
      expect(failures).toEqual([]);
    } finally {
      await cp.stop();
      await opened.close();
    }
  });

  it('a thread that cannot start gives checkpoints back to the commits for good and says why, once', async () => {
    const { Checkpointer } = (await import(dist('db/checkpointer.js'))) as CheckpointerModule;
    const { DEFAULT_PAGES } = Checkpointer;
    const { opened, sqlite, autocheckpoint } = await openScratch();
    const failures: Error[] = [];
    const cp = new Checkpointer(sqlite, path.join(path.dirname(opened.file!), 'no-such.sqlite'), (err) => failures.push(err));
    try {
      cp.wanted();
      await waitFor(() => failures.length > 0, { what: 'the failure to be reported' });
      expect(failures[0]!.message).toMatch(/unable to open|no such|exited/i);
      expect(cp.running).toBe(false);
      expect(autocheckpoint()).toBe(DEFAULT_PAGES);
      // The next messages start no thread and report nothing more: one line, not one per message.
      cp.wanted();
      cp.wanted();
      expect(cp.running).toBe(false);
      expect(failures).toHaveLength(1);
    } finally {
      await cp.stop();
      await opened.close();
    }
  });
});
