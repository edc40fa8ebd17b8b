// The CLI's kept compiled code (src/cli/code-cache.ts, issue 18): the first run of a command
// leaves V8's code for the bundle in the private cache directory and the next run starts from it.
// What could go wrong with it is provoked here: an entry damaged on disk (V8 refuses it, the
// command runs from source and the entry is replaced), runs under other V8 flags (which would
// otherwise replace each other's entry on every run), a directory others may read (nothing is
// read or written there), and a bundle that tests would otherwise silently not use (a stale one).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../support/cli';
import { makeTempDir, removeTempDir } from '../support/tmp';

const BUNDLE = path.join(REPO_ROOT, 'dist', 'bundle', 'main.cjs');
const COMPILED = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');
let base: string;

beforeAll(async () => {
  // Without a bundle at least as new as tsc's output, bin/mailwarden runs dist/ unbundled and
  // nothing here would be about the code cache.
  if (!fs.existsSync(BUNDLE) || fs.statSync(BUNDLE).mtimeMs < fs.statSync(COMPILED).mtimeMs) {
    throw new Error('dist/bundle/main.cjs is missing or older than dist/cli/main.js: run `npm run build` first');
  }
  base = await makeTempDir('mw-code-cache-');
});
afterAll(async () => {
  await removeTempDir(base);
});

function codeEntries(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.startsWith('code-')) : [];
}

async function version(cacheDir: string): Promise<string> {
  const r = await runCli(['--version'], { env: { MAILWARDEN_CACHE_DIR: cacheDir } });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

describe('the kept compiled code of the CLI', () => {
  it('is written by the first run of a command, private, and taken as it is by the next', async () => {
    const dir = path.join(base, 'fresh');
    const first = await version(dir);
    const [entry, ...more] = codeEntries(dir);
    expect(more).toEqual([]);
    expect(entry).toMatch(/^code-[0-9a-f]{24}\.bin$/);
    const file = path.join(dir, entry!);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const before = fs.statSync(file);
    expect(await version(dir)).toBe(first);
    // An entry V8 refused would have been replaced (a new file renamed over it): the same inode
    // and time say it was taken.
    const after = fs.statSync(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('gives each command word its own entry', async () => {
    const dir = path.join(base, 'words');
    await version(dir);
    const help = await runCli(['--help'], { env: { MAILWARDEN_CACHE_DIR: dir } });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: mailwarden');
    expect(codeEntries(dir)).toHaveLength(2);
  });

  it('keeps runs under other V8 flags (NODE_OPTIONS) apart, so neither replaces the other', async () => {
    const dir = path.join(base, 'flags');
    const expected = await version(dir);
    const [plain] = codeEntries(dir);
    const before = fs.statSync(path.join(dir, plain!)).ino;
    const flagged = await runCli(['--version'], { env: { MAILWARDEN_CACHE_DIR: dir, NODE_OPTIONS: '--stack-trace-limit=20' } });
    expect(flagged.stdout).toBe(expected);
    expect(codeEntries(dir)).toHaveLength(2);
    expect(await version(dir)).toBe(expected);
    expect(fs.statSync(path.join(dir, plain!)).ino).toBe(before);
  });

  it('refuses a damaged entry, runs the command from source and replaces the entry', async () => {
    const dir = path.join(base, 'damaged');
    const expected = await version(dir);
    const [entry] = codeEntries(dir);
    const file = path.join(dir, entry!);
    const garbage = Buffer.alloc(fs.statSync(file).size, 0x5a);
    fs.writeFileSync(file, garbage);
    expect(await version(dir)).toBe(expected);
    const replaced = fs.readFileSync(file);
    expect(replaced.equals(garbage)).toBe(false);
    // The replacement is taken as it is by the run after.
    const ino = fs.statSync(file).ino;
    expect(await version(dir)).toBe(expected);
    expect(fs.statSync(file).ino).toBe(ino);
  });

  it('neither reads nor writes a directory that others may read', async () => {
    const dir = path.join(base, 'shared');
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    expect(await version(dir)).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(codeEntries(dir)).toEqual([]);
  });
});
