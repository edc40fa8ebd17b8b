// The per-user directory where the CLI keeps what it may reuse between runs: the validated
// configuration (src/config/cache.ts) and V8's compiled code of the bundled CLI
// (src/cli/code-cache.ts). Both are only ever a head start: a missing, unreadable or stale entry
// costs the next command its time, never its result.
// Both are trusted only in a directory that is this user's and that nobody else may read or write:
// a kept configuration must not leak, and compiled code must not be planted by another user. A
// directory that fails the test is neither read nor written. This module loads only node built-ins,
// since the code cache is read before anything else of mailwarden is.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** $MAILWARDEN_CACHE_DIR, else $XDG_CACHE_HOME/mailwarden, else ~/.cache/mailwarden; null without a home. */
export function cacheDir(env: NodeJS.ProcessEnv): string | null {
  if (env.MAILWARDEN_CACHE_DIR) return path.resolve(env.MAILWARDEN_CACHE_DIR);
  if (env.XDG_CACHE_HOME) return path.join(env.XDG_CACHE_HOME, 'mailwarden');
  const home = env.HOME ?? os.homedir();
  return home ? path.join(home, '.cache', 'mailwarden') : null;
}

/** Only a directory of this user's that nobody else may read or write holds entries we trust. */
function privateDir(dir: string): boolean {
  try {
    const st = fs.statSync(dir);
    return st.isDirectory() && (process.getuid === undefined || st.uid === process.getuid()) && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/** The entry `name` in the cache directory; undefined when there is none, or no private directory to trust it from. */
export function readCacheEntry(dir: string | null, name: string): Buffer | undefined {
  if (!dir || !privateDir(dir)) return undefined;
  try {
    return fs.readFileSync(path.join(dir, name));
  } catch {
    return undefined;
  }
}

/**
 * Writes `bytes` as `name` in the cache directory, whole or not at all (a temporary file renamed
 * into place, so a reader never sees half an entry), and keeps at most `keep` entries whose names
 * start with `prefix`: the least recently written go first. Throws on trouble; callers ignore it.
 * Returns false when there is no private directory to write to.
 */
export function writeCacheEntry(dir: string, name: string, bytes: string | Uint8Array, prune: { prefix: string; keep: number }): boolean {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!privateDir(dir)) return false;
  const target = path.join(dir, name);
  const tmp = `${target}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, bytes, { mode: 0o600 });
  fs.renameSync(tmp, target);
  pruneEntries(dir, prune.prefix, prune.keep);
  return true;
}

function pruneEntries(dir: string, prefix: string, keep: number): void {
  // Temporary files share the prefix. One left by a crash between write and rename goes with the
  // rest once it is among the oldest; one that another process is still writing may go too, and
  // that process's rename then fails, which costs it only its entry.
  const names = fs.readdirSync(dir).filter((n) => n.startsWith(prefix));
  if (names.length <= keep) return;
  const byAge = names
    .map((n) => {
      try {
        return { n, at: fs.statSync(path.join(dir, n)).mtimeMs };
      } catch {
        return { n, at: 0 };
      }
    })
    .sort((a, b) => a.at - b.at);
  for (const { n } of byAge.slice(0, names.length - keep)) fs.rmSync(path.join(dir, n), { force: true });
}
