// The CLI as a few bundled files (dist/bundle/), built after tsc by `npm run build` / `prepare`.
// Why: Node 20 loads ES modules one file at a time, and kysely (about 260 files), zod (about 100)
// and mailwarden's own modules made every command spend most of its start-up resolving and
// compiling files. esbuild folds those into chunks; each command's implementation stays a chunk
// of its own, loaded by the command's `await import()` (src/cli/commands/index.ts), so `--help`
// loads no database code at all. The other packages stay outside the bundle (native code, files
// read relative to the package, worker threads), loaded from node_modules when a command needs them.
// The two worker threads (ingest parsing, parallel reads) are started from a file beside the
// module that starts them: a stub beside the chunks starts tsc's own compiled worker.
// bin/mailwarden runs this bundle only when it is at least as new as dist/cli/main.js, so a tsc
// run alone never leaves the CLI on an older bundle.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'bundle');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
/** Pure-JS packages of many small modules: bundled. Everything else stays in node_modules. */
const INLINE = new Set(['kysely', 'zod', 'yaml', 'commander']);
const WORKERS = {
  'parse-worker.js': '../ingest/parse-worker.js',
  'read-worker.js': '../db/read-worker.js',
  'checkpoint-worker.js': '../db/checkpoint-worker.js',
  'file-worker.js': '../db/file-worker.js',
};

fs.rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'dist', 'cli', 'main.js')],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: out,
  external: Object.keys(pkg.dependencies).filter((name) => !INLINE.has(name)),
  // commander is CommonJS: its require() of node built-ins needs a real require in an ES module.
  banner: { js: "import { createRequire as __mwCreateRequire } from 'node:module'; const require = __mwCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
for (const [stub, target] of Object.entries(WORKERS)) {
  if (!fs.existsSync(path.join(out, target))) throw new Error(`bundle: the worker ${target} is not in dist/`);
  fs.writeFileSync(path.join(out, stub), `// Started as a worker thread by a bundled chunk: runs tsc's compiled worker.\nimport '${target}';\n`);
}
