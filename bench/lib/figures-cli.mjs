// bench/lib/figures-cli: the command-line figures of bench/side-by-side, one round each —
// `cases` / `cases --json` over a 100k-case database beside `sqlite3 -json` reading the same rows
// (or, without the sqlite3 binary, better-sqlite3 in a bare node process), `--help` and `cases`
// on an empty database beside `node -e 0`, and 8 `next --json` at once beside 8 bare node starts;
// each the median of 5 runs per round.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedSqlite, writeConfig } from '../scale-next.mjs';
import { median, pct, timed } from './measure.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/mailwarden');
const node = process.execPath;
// `cases` lists every case, oldest first: the peer reads the same rows in the same order.
const SAME_ROWS = 'select * from cases order by received_at, id';

function hasSqlite3() {
  try {
    execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Seeds `cases` open cases (bench/scale-next's rows) under `dir`; returns the config and the db file. */
export async function seedDesk(dir, cases) {
  const configPath = writeConfig(dir);
  const { openDatabase } = await import(path.join(ROOT, 'dist/db/connection.js'));
  const opened = await openDatabase({ dataDir: path.join(dir, 'data') }); // migrates
  if (cases) seedSqlite(opened.sqlite, cases);
  await opened.close();
  return { configPath, dbFile: path.join(dir, 'data', 'mailwarden.sqlite') };
}

export function peerDescription() {
  return hasSqlite3() ? '`sqlite3 -json`' : 'better-sqlite3 in bare node';
}

function peerRead(dbFile) {
  if (hasSqlite3()) return timed('sqlite3', ['-json', dbFile, SAME_ROWS]);
  const code = `const D=require('better-sqlite3');const db=new D(process.argv[1],{readonly:true});process.stdout.write(JSON.stringify(db.prepare(process.argv[2]).all()))`;
  return timed(node, ['-e', code, dbFile, SAME_ROWS], { NODE_PATH: path.join(ROOT, 'node_modules') });
}

const cli = (configPath, args) => timed(node, [BIN, ...args], { MAILWARDEN_CONFIG: configPath });

/** How many times each command runs per round: one process start on this VM varies by a third. */
const SAMPLES = 5;

/**
 * The median of SAMPLES runs of each timing, the runs of all of them taken in turn (one of each,
 * then again), so that a slow spell of the machine falls on both sides of a ratio alike.
 */
async function inTurn(timings) {
  const got = Object.fromEntries(Object.keys(timings).map((k) => [k, []]));
  for (let i = 0; i < SAMPLES; i++) for (const [k, time] of Object.entries(timings)) got[k].push(await time());
  return Object.fromEntries(Object.entries(got).map(([k, v]) => [k, median(v)]));
}

/** `cases` and `cases --json` at scale; `--help` and `cases` on an empty database; `next --json` × 8. */
export async function cliFigures(env) {
  const { configPath, dbFile } = env.scale;
  // As on a consultant's desk, the config was read before: these commands start from the kept
  // result of its validation (src/config/cache.ts), and from the compiled code their first run
  // kept (src/cli/code-cache.ts). The first command after an edit pays ~190 ms more.
  for (const args of [['cases', '--limit', '1'], ['--help'], ['next', '--as', env.consultants[0], '--json']]) await cli(configPath, args);
  await cli(env.empty.configPath, ['cases', '--limit', '1']);
  const ms = async (run) => (await run).ms;
  const p50 = async (runs) =>
    pct(
      (await Promise.all(runs)).map((r) => r.ms),
      0.5,
    );
  const m = await inTurn({
    table: () => ms(cli(configPath, ['cases'])),
    json: () => ms(cli(configPath, ['cases', '--json'])),
    peer: () => ms(peerRead(dbFile)),
    bare: () => ms(timed(node, ['-e', '0'])),
    help: () => ms(cli(env.empty.configPath, ['--help'])),
    emptyCases: () => ms(cli(env.empty.configPath, ['cases'])),
    next8: () => p50(env.consultants.map((c) => cli(configPath, ['next', '--as', c, '--json']))),
    bare8: () => p50(env.consultants.map(() => timed(node, ['-e', '0']))),
  });
  return [
    { key: 'casesTable', mw: m.table, peer: m.peer },
    { key: 'casesJson', mw: m.json, peer: m.peer },
    { key: 'help', mw: m.help, peer: m.bare },
    { key: 'casesEmpty', mw: m.emptyCases, peer: m.bare },
    { key: 'next8', mw: m.next8, peer: m.bare8 },
  ];
}
