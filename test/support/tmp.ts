import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Creates a fresh directory under os.tmpdir(); fs.mkdtemp gives it mode 0700. */
export function makeTempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Removes a directory tree; missing directories are fine (cleanup must never fail a test). */
export async function removeTempDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
