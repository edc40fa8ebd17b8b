// Runs the bundled CLI (dist/bundle/main.cjs, scripts/bundle.mjs) from V8's compiled code kept
// by an earlier run, so a command does not parse the bundle again (issue 18: a consultant's
// command should start close to a bare `node`). Node 20 has no compile cache for modules; this is
// the one V8 offers any script (vm.Script's cachedData), which is why the bundle is one CommonJS
// file: it is compiled here as the function body Node itself would wrap a CommonJS module in.
// Measured on the 2-core VM (medians of 31 runs, taken in turn with the ES module bundle before it
// and `node -e 0` at 74 ms): `cases` on an empty database 159 → 143 ms; eight `next --json` at
// once, p50, 2.9× → 2.2× eight bare starts. `--help`, which runs no database code, went 104 →
// 112 ms: even its kept code (0.6 MB, against 1.3 MB for `cases`) holds the top level of the
// whole bundle, where the ES modules before loaded only the command line's own chunk.
// The kept code lives in the private cache directory (src/cache-dir.ts says why only there), one
// entry per command word (the first argument), bundle file, build, Node version and set of V8
// flags (V8 refuses code made under other flags or by another V8, and the bundle is then compiled
// from source as if nothing were kept). An entry is written once, when the process that found
// none ends: then it holds every function that command compiled. A process that ran long (the
// daemon, a large import) writes none, since its functions are not the ones the command's next run
// needs and would only make the entry larger to load.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { cacheDir, readCacheEntry, writeCacheEntry } from '../cache-dir.js';

/** What the bundle exports: src/cli/main.ts. */
export interface CliModule {
  main(argv: string[]): Promise<void>;
}

/** A process that ran longer than this leaves the writing to a short command (see the top). */
const WRITE_BEFORE_MS = 10_000;
/** The command words a consultant uses, for a build or two. */
const KEEP_ENTRIES = 24;

function entryName(file: string, source: Buffer, argv: string[], env: NodeJS.ProcessEnv): string {
  const st = fs.statSync(file);
  // V8's flags come from the command line and from NODE_OPTIONS: runs with other flags keep their own.
  const flags = [process.execArgv.join(' '), env.NODE_OPTIONS ?? ''];
  const key = [file, st.mtimeMs, source.length, process.version, process.arch, ...flags, argv[2] ?? ''].join('\0');
  return `code-${crypto.createHash('sha256').update(key).digest('hex').slice(0, 24)}.bin`;
}

/**
 * Loads the bundle at `file` and returns its exports. The bundle is ASCII (the build checks), so
 * it is read as latin1: the same string as UTF-8 would give, decoded in a third of the time.
 */
export function loadBundle(file: string, argv: string[] = process.argv, env: NodeJS.ProcessEnv = process.env): CliModule {
  const source = fs.readFileSync(file);
  const dir = cacheDir(env);
  const name = entryName(file, source, argv, env);
  const cachedData = readCacheEntry(dir, name);
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source.toString('latin1')}\n})`;
  // No import() runs in the bundle (scripts/bundle.mjs checks): on Node 20, code compiled from
  // kept data loses vm's dynamic import callback, so one would work on the first run only.
  const script = new vm.Script(wrapped, { filename: file, cachedData });
  if (dir && (cachedData === undefined || script.cachedDataRejected)) {
    process.once('exit', () => {
      if (process.uptime() * 1000 > WRITE_BEFORE_MS) return;
      try {
        writeCacheEntry(dir, name, script.createCachedData(), { prefix: 'code-', keep: KEEP_ENTRIES });
      } catch {
        // not kept: the next command compiles the bundle from source
      }
    });
  }
  const module = { exports: {} as CliModule };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return module.exports;
}
