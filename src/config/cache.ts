// The validated configuration kept between runs, for the commands a consultant runs all day
// (`cases`, `show`, `next`, `pools`). Reading the YAML and validating it loads the YAML parser,
// zod and node-cron: about 190 ms of a command that otherwise starts in 250 ms (issue 18's
// figures). A command that read a valid file keeps the result here; the next run of one of those
// commands reads the file's bytes, and when they (and the snippets file) are the same as then,
// takes the kept result without loading any of the three.
// What a kept result may not stand for, and how that is ruled out:
//  - another file or another version of mailwarden: the entry is named by the file's path and
//    holds the SHA-256 of its bytes and of the snippets file, and the build it was made by;
//  - values from outside the files: a config whose ordinary fields expand `${NAME}` or
//    `${file:…}` is never kept (such a value may be a secret that must not be copied to disk,
//    and the environment may change between runs). Passwords stay references either way;
//  - another user's file: the directory must be this user's and private, else it is not used.
// Templates are not looked at: the commands that take a kept result render no mail. Every other
// command, `config check` and the daemon validate the file in full, every time.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cacheDir, readCacheEntry, writeCacheEntry } from '../cache-dir.js';
import type { Config } from './types.js';

/** What a kept result was made from, besides the config file's own bytes. */
export interface ConfigSources {
  /** The snippets file the config names, with the SHA-256 of its bytes. */
  snippets: { file: string; sha256: string } | null;
  /** How many ordinary fields expanded a `${…}` reference (any: not kept). */
  expanded: number;
}

interface Entry {
  build: string;
  file: string;
  sha256: string;
  snippets: ConfigSources['snippets'];
  config: Omit<Config, 'sourcePath'>;
}

/** How many entries the directory keeps (one per config file): the least recently written go first. */
const MAX_ENTRIES = 32;

export function sha256(bytes: string | Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** The build that wrote an entry: this module's file changes with every build of mailwarden. */
function buildId(): string {
  const self = fileURLToPath(import.meta.url);
  const st = fs.statSync(self);
  return `${process.version}:${st.mtimeMs}:${st.size}`;
}

function entryName(file: string): string {
  return `config-${sha256(file).slice(0, 24)}.json`;
}

function fileSha(file: string): string | null {
  try {
    return sha256(fs.readFileSync(file));
  } catch {
    return null;
  }
}

/**
 * The kept result for this config file when its bytes, its snippets file and the build are the
 * ones it was made from; null otherwise (and on any trouble reading: then the file is validated).
 */
export function readCachedConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config | null {
  const bytes = readCacheEntry(cacheDir(env), entryName(file));
  if (!bytes) return null;
  try {
    const entry = JSON.parse(bytes.toString('utf8')) as Entry;
    if (entry.file !== file || entry.build !== buildId()) return null;
    if (entry.sha256 !== fileSha(file)) return null;
    if (entry.snippets && entry.snippets.sha256 !== fileSha(entry.snippets.file)) return null;
    return { ...entry.config, sourcePath: file };
  } catch {
    return null;
  }
}

/**
 * Keeps a result just validated in full, unless it expanded `${…}` references (see the top).
 * Best effort: a cache that cannot be written only costs the next command its head start.
 */
export function writeCachedConfig(config: Config, text: string, sources: ConfigSources, env: NodeJS.ProcessEnv = process.env): void {
  if (sources.expanded > 0) return;
  const dir = cacheDir(env);
  if (!dir) return;
  try {
    const { sourcePath, ...rest } = config;
    const entry: Entry = { build: buildId(), file: sourcePath, sha256: sha256(text), snippets: sources.snippets, config: rest };
    writeCacheEntry(dir, entryName(sourcePath), JSON.stringify(entry), { prefix: 'config-', keep: MAX_ENTRIES });
  } catch {
    // not kept: the next command validates the file again
  }
}
