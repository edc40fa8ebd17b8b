// The parser thread's entry as one bundled file (dist/bundle/parse-worker.js), built by
// scripts/bundle.mjs. Why: a parser thread starts whenever mail comes after the last one retired
// (src/ingest/parse.ts: after 30 s without mail), and the message that starts it waits for it.
// Started from tsc's output it resolved and compiled mailparser's and its kin's hundred-odd files
// one by one (280 ms) and then evaluated eld's language table, 0.9 MB of JavaScript object
// literal (480 ms). Bundled, the code loads in about 115 ms, and the table is read as JSON:
// new Worker() to the thread's "ready", 743-885 ms -> 316-419 ms (2-core VM, three runs each).
// The table is read only for the languages the desk's pools use (src/ingest/language-table.ts
// says why that scores them the same): written here one file per language into
// dist/bundle/eld-extrasmall/, from the eld installed beside it, so the two can never disagree.
// A test compares the bundled thread's scores with eld's (test/ingest/language.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/** eld's table module, whose one export is the object literal `ngramsData`. */
const ELD_TABLE = /[\\/]eld[\\/]src[\\/]ngrams[\\/]extrasmall\.js$/;
const TABLE_DIR = 'eld-extrasmall';

/** Bundles dist/ingest/parse-worker.js into `out`, with eld's table beside it, a JSON file per language. */
export async function bundleParserThread(root, out) {
  const tableModule = path.join(root, 'dist', 'ingest', 'language-table.js');
  const { splitLanguageTable, writeLanguageTable } = await import(pathToFileURL(tableModule).href);
  let tableWritten = false;
  const tableAsJson = {
    name: 'eld-table-as-json',
    setup(b) {
      b.onLoad({ filter: ELD_TABLE }, async (args) => {
        const { ngramsData } = await import(pathToFileURL(args.path).href);
        if (!ngramsData?.ngrams || !ngramsData.languages) throw new Error(`bundle: ${args.path} no longer exports eld's table as ngramsData`);
        writeLanguageTable(path.join(out, TABLE_DIR), splitLanguageTable(ngramsData));
        tableWritten = true;
        // The thread's languages come from its pool (ParserThreadData); a thread started without them scores all.
        const contents =
          "import { workerData } from 'node:worker_threads';\n" +
          `import { readLanguageTable } from ${JSON.stringify(tableModule)};\n` +
          `export const ngramsData = readLanguageTable(new URL('./${TABLE_DIR}/', import.meta.url), workerData?.languages ?? null);\n`;
        return { contents, loader: 'js' };
      });
    },
  };
  await build({
    bundle: true,
    // An ES module, as the rest of dist/ (the package's "type"); the CommonJS packages inside
    // it get a require() of their own for Node's built-in modules.
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    entryPoints: [path.join(root, 'dist', 'ingest', 'parse-worker.js')],
    outfile: path.join(out, 'parse-worker.js'),
    plugins: [tableAsJson],
    banner: { js: "import { createRequire as __mwCreateRequire } from 'node:module';\nconst require = __mwCreateRequire(import.meta.url);" },
    minifyWhitespace: true,
  });
  if (!tableWritten) {
    throw new Error("bundle: eld's extrasmall table was not found in the parser thread's modules (eld's layout changed?): look at scripts/bundle-parser.mjs");
  }
}
