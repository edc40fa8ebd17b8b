// The language detector's table as a parser thread loads it: only the languages the desk's pools
// use. Why: a parser thread starts whenever mail comes after the last one retired (parse.ts: 30 s
// without mail), and that mail waits for it. eld's whole table (60 languages, 49,553 n-grams) took
// about 120 ms of the thread's 270 ms start to read and build, and 25 MB of its heap, for scores
// of which the accept side reads only its pool's languages (src/cases/case-language.ts).
// eld scores each language on its own, a sum over the text's n-grams of that language's entries
// divided by their number, so a table holding only some languages gives each of them exactly the
// score the whole table gives it. Measured on the 2-core VM, new Worker() to "ready" and the
// process's RSS growth with the thread: the whole table as one JSON file 260-316 ms, +57 MB; for
// [en, pl] 141-167 ms, +32 MB; for six languages 202 ms, +40 MB. All 60 read file by file cost
// more than one file did (380-415 ms, +84 MB); only a thread started without languages does that.
// The build (scripts/bundle-parser.mjs) writes eld's table beside the parser thread's bundle with
// splitLanguageTable: one file per language, so a thread reads only the ones it needs; the bundle
// reads them with readLanguageTable for the languages the pool gave the thread (workerData, see
// ParserThreadData). Run from tsc's output instead (no bundle), the thread loads eld's own whole
// table: the same scores, more of them.
import fs from 'node:fs';
import type { Config } from '../config/types.js';

/** eld's table, as its `ngrams/*.js` modules export it and its loadData() takes it. */
export interface EldTable {
  type: string;
  /** index -> ISO 639-1 code */
  languages: Record<string, string>;
  /** n-gram -> (language index -> score) */
  ngrams: Record<string, Record<string, number>>;
}

/** What a parser thread is started with (ParserPool, parse.ts). */
export interface ParserThreadData {
  /** The languages to score; null: every language the detector knows (the daemon and the CLI always name them). */
  languages: readonly string[] | null;
}

/** The table split for writing: its index (type, language codes) and each language's n-gram -> score. */
export interface SplitTable {
  index: Pick<EldTable, 'type' | 'languages'>;
  byLanguage: Record<string, Record<string, number>>;
}

const INDEX_FILE = 'index.json';

/** The languages the daemon's detector needs: those of every pool, each once, in a stable order. */
export function detectedLanguages(config: Pick<Config, 'pools'>): string[] {
  return [...new Set(config.pools.flatMap((p) => p.languages ?? []))].sort();
}

/** @public (the build's, scripts/bundle-parser.mjs: eld's table split by language) */
export function splitLanguageTable(table: EldTable): SplitTable {
  const byLanguage: Record<string, Record<string, number>> = {};
  for (const code of Object.values(table.languages)) byLanguage[code] = {};
  for (const [ngram, scores] of Object.entries(table.ngrams)) {
    for (const [index, score] of Object.entries(scores)) byLanguage[table.languages[index]!]![ngram] = score;
  }
  return { index: { type: table.type, languages: table.languages }, byLanguage };
}

/** @public (the build's) Writes a split table into `dir` (index.json and one `<code>.json` per language). */
export function writeLanguageTable(dir: string, split: SplitTable): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${dir}/${INDEX_FILE}`, JSON.stringify(split.index));
  for (const [code, ngrams] of Object.entries(split.byLanguage)) fs.writeFileSync(`${dir}/${code}.json`, JSON.stringify(ngrams));
}

/**
 * The table of `languages` (null: all) from a directory writeLanguageTable wrote. The language
 * indices stay eld's, so its scores name the same languages; a language it does not know is
 * left out, as eld would never score it.
 */
export function readLanguageTable(dir: URL, languages: readonly string[] | null): EldTable {
  const index = JSON.parse(fs.readFileSync(new URL(INDEX_FILE, dir), 'utf8')) as SplitTable['index'];
  // Without a prototype, no n-gram can be mistaken for an inherited name.
  const ngrams: EldTable['ngrams'] = Object.create(null) as EldTable['ngrams'];
  for (const [i, code] of Object.entries(index.languages)) {
    if (languages && !languages.includes(code)) continue;
    const scores = JSON.parse(fs.readFileSync(new URL(`${code}.json`, dir), 'utf8')) as Record<string, number>;
    for (const [ngram, score] of Object.entries(scores)) (ngrams[ngram] ??= {})[i] = score;
  }
  return { type: index.type, languages: index.languages, ngrams };
}
