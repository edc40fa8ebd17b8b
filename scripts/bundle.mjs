// The CLI as one bundled file (dist/bundle/main.cjs), built after tsc by `npm run build` / `prepare`.
// Why: Node 20 loads ES modules one file at a time, and kysely (about 260 files), zod (about 100)
// and mailwarden's own modules made every command spend most of its start-up resolving and
// compiling files. esbuild folds them into one CommonJS file, which src/cli/code-cache.ts runs from
// V8's compiled code kept by an earlier run (CommonJS because V8's code cache is offered to
// scripts, not to ES modules). Each command's implementation is still only evaluated when the
// command's `await import()` runs (src/cli/commands/index.ts): esbuild turns it into a lazy init,
// so `--help` runs no database code at all. The other packages stay outside the bundle (native
// code, files read relative to the package, worker threads), loaded from node_modules when a
// command needs them. The worker threads are started from a file beside the module that starts
// them: beside the bundle, the parser thread's own bundle (scripts/bundle-parser.mjs says why),
// and for the others a stub that starts tsc's own compiled worker.
// bin/mailwarden runs this bundle only when it is at least as new as dist/cli/main.js, so a tsc
// run alone never leaves the CLI on an older bundle.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleParserThread } from './bundle-parser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'bundle');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
/**
 * Packages of many small modules, bundled: their code is then kept compiled with the rest.
 * better-sqlite3's JavaScript is bundled too, its compiled addon is not: src/db/connection.ts
 * names the addon's file, because the lookup the package would otherwise run (`bindings`) starts
 * from the caller's file. Everything else stays in node_modules.
 */
const INLINE = new Set(['kysely', 'commander', 'better-sqlite3']);
/**
 * Packages only reading and validating the configuration file needs (and `init`, `demo`): each
 * bundled into a file of its own beside main.cjs (dist/bundle/zod.cjs, yaml.cjs), required when
 * that code runs. The commands a consultant runs all day start from the kept validated config
 * (src/config/cache.ts) and never run them, yet inside main.cjs they were a third of the bytes
 * every command reads and decodes, and the first run after a build (which validates, and writes
 * the kept compiled code) put their compiled code into every command's code cache entry too.
 */
const COLD = ['zod', 'yaml'];
/** The worker threads started from a stub (the parser thread has a bundle of its own). */
const WORKERS = {
  'read-worker.js': '../db/read-worker.js',
  'checkpoint-worker.js': '../db/checkpoint-worker.js',
  'file-worker.js': '../db/file-worker.js',
};

const EXTERNAL = Object.keys(pkg.dependencies).filter((name) => !INLINE.has(name) && !COLD.includes(name));

/** Whether Node's `require(specifier)` from here loads an ES module (a package without a CommonJS build). */
function requiresAnEsModule(specifier) {
  let file;
  try {
    file = createRequire(path.join(root, 'package.json')).resolve(specifier);
  } catch {
    return false;
  }
  if (/\.[cm]js$/.test(file)) return file.endsWith('.mjs');
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) return JSON.parse(fs.readFileSync(manifest, 'utf8')).type === 'module';
  }
  return false;
}

/**
 * A package without a CommonJS build (email-reply-parser) comes back from Node's require() as its
 * ES module namespace. esbuild imports an external into a module of a "type": "module" package as
 * Node imports CommonJS, the whole of it as the default, so the default import would be that
 * namespace. Such a package is imported through a small module of esbuild's own, outside any
 * package, where the namespace's `default` is the default, as when an ES module imports it.
 * A dynamic import() stays one in the bundle, and needs none of this.
 */
const esModuleDefaults = {
  name: 'es-module-defaults',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.namespace === 'es-module-defaults' || args.kind === 'dynamic-import') return undefined;
      const name = args.path
        .split('/')
        .slice(0, args.path.startsWith('@') ? 2 : 1)
        .join('/');
      if (!EXTERNAL.includes(name) || !requiresAnEsModule(args.path)) return undefined;
      return { path: args.path, namespace: 'es-module-defaults' };
    });
    b.onLoad({ filter: /.*/, namespace: 'es-module-defaults' }, (args) => {
      const from = JSON.stringify(args.path);
      return { contents: `import * as ns from ${from};\nexport * from ${from};\nexport default ns.default;\n`, loader: 'js', resolveDir: root };
    });
  },
};

/**
 * commander requires child_process when it loads, for subcommands run as their own executables,
 * which mailwarden has none of. child_process brings net, dgram and their kin, about 3 ms of every
 * command's start, so here it is required when a subcommand would spawn, never otherwise.
 */
const COMMANDER_SPAWN = "const childProcess = require('node:child_process');";
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      if (!source.includes(COMMANDER_SPAWN)) {
        throw new Error(`bundle: commander's ${args.path} no longer requires child_process as this script expects; look at lazyChildProcess`);
      }
      const lazy = "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };";
      return { contents: source.replace(COMMANDER_SPAWN, lazy), loader: 'js' };
    });
  },
};

/** `zod`, `yaml` (COLD): required from their own bundle beside main.cjs; a deeper path of theirs is refused. */
const coldPackages = {
  name: 'cold-packages',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${COLD.join('|')})(/|$)`) }, (args) => {
      if (!COLD.includes(args.path)) throw new Error(`bundle: ${args.path} is imported, but only ${COLD.join(', ')} themselves have a bundle of their own`);
      return { path: `./${args.path}.cjs`, external: true };
    });
  },
};

fs.rmSync(out, { recursive: true, force: true });
/** Both files: one CommonJS file each, for the Node these machines run. */
const COMMON = { bundle: true, format: 'cjs', platform: 'node', target: 'node20', logLevel: 'warning' };
// The loader bin/mailwarden runs first (src/cli/code-cache.ts), CommonJS too: with an ES module
// as its entry, Node starts its ES module loader (about 4 ms of every command) before the first
// line runs. Written before the bundle, so a bundle on disk always has its loader beside it.
await build({ ...COMMON, entryPoints: [path.join(root, 'dist', 'cli', 'code-cache.js')], outfile: path.join(out, 'load.cjs') });
for (const name of COLD) {
  const entry = createRequire(path.join(root, 'package.json')).resolve(name);
  await build({ ...COMMON, entryPoints: [entry], outfile: path.join(out, `${name}.cjs`), minifyWhitespace: true });
}
await build({
  ...COMMON,
  entryPoints: [path.join(root, 'dist', 'cli', 'main.js')],
  outfile: path.join(out, 'main.cjs'),
  external: EXTERNAL,
  plugins: [coldPackages, esModuleDefaults, lazyChildProcess],
  // The modules find their files (package.json, templates, workers) from their own URL; in one
  // CommonJS file that is the bundle's, which sits as deep in dist/ as they do.
  define: { 'import.meta.url': '__mwImportMetaUrl' },
  banner: { js: "const __mwImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  // Without comments the bundle is ASCII (esbuild escapes the rest), which code-cache.ts reads fast.
  minifyWhitespace: true,
});
const bundle = fs.readFileSync(path.join(out, 'main.cjs'));
if (bundle.some((byte) => byte > 0x7f)) {
  // esbuild escapes strings but leaves regular expression literals as written: write \u00e9, not é.
  throw new Error('bundle: dist/bundle/main.cjs is not ASCII (a regular expression with a non-ASCII character?); src/cli/code-cache.ts reads it as latin1');
}
// Code run from V8's kept code cannot import() on Node 20: the dynamic import callback vm takes
// is not restored with the cached data (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING). So the bundle
// holds no import() that runs: a built-in is required (createRequire), a package bundled. eld's is
// only reached by the parser's in-process fallback, for when its worker file is missing, which
// beside the bundle (the stubs below) it never is.
const dynamicImports = [...bundle.toString('latin1').matchAll(/\bimport\("([^"]+)"\)/g)].map((m) => m[1]);
const unexpected = dynamicImports.filter((specifier) => specifier !== 'eld/extrasmall');
if (unexpected.length > 0) {
  throw new Error(
    `bundle: dist/bundle/main.cjs has import() of ${unexpected.join(', ')}, which fails in code run from V8's kept code: require it or bundle it`,
  );
}
await bundleParserThread(root, out);
for (const [stub, target] of Object.entries(WORKERS)) {
  if (!fs.existsSync(path.join(out, target))) throw new Error(`bundle: the worker ${target} is not in dist/`);
  fs.writeFileSync(path.join(out, stub), `// Started as a worker thread by the bundle: runs tsc's compiled worker.\nimport '${target}';\n`);
}
