// Temporary directories for tests, under os.tmpdir(). Each one makeTempDir makes is also removed
// when its test file is over (test/support/setup.ts, after the file's processes are gone), so a
// test that forgets to, or fails before its own cleanup, leaves nothing behind: the suite used to
// leave its config and data directories in /tmp (875 of them on the dev VM after a day of runs).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** What makeTempDir made in this test file (each file runs in a process of its own). */
const made = new Set<string>();

/** Creates a fresh directory under os.tmpdir(); fs.mkdtemp gives it mode 0700. */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Removes a directory tree; missing directories are fine (cleanup must never fail a test). */
export async function removeTempDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Removes every directory makeTempDir made in this file; setup.ts calls it once the file's processes are gone. */
export async function removeTempDirsMade(): Promise<void> {
  for (const dir of made) await removeTempDir(dir);
  made.clear();
}
