// bench/lib/figures-cli: the command-line figures of bench/side-by-side, one round each —
// `cases` / `cases --json` over a 100k-case database beside `sqlite3 -json` reading the same rows
// (or, without the sqlite3 binary, better-sqlite3 in a bare node process), `--help` and `cases`
// on an empty database beside `node -e 0`, and 8 `next --json` at once beside 8 bare node starts.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedSqlite, writeConfig } from '../scale-next.mjs';
import { pct, timed } from './measure.mjs';

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

/** `cases` and `cases --json` at scale; `--help` and `cases` on an empty database; `next --json` × 8. */
export async function cliFigures(env) {
  const { configPath, dbFile } = env.scale;
  // As on a consultant's desk, the config was read before: these commands start from the kept
  // result of its validation (src/config/cache.ts). The first command after an edit pays ~190 ms more.
  await cli(configPath, ['cases', '--limit', '1']);
  await cli(env.empty.configPath, ['cases', '--limit', '1']);
  const table = await cli(configPath, ['cases']);
  const json = await cli(configPath, ['cases', '--json']);
  const peer = await peerRead(dbFile);
  const bare = await timed(node, ['-e', '0']);
  const help = await cli(env.empty.configPath, ['--help']);
  const emptyCases = await cli(env.empty.configPath, ['cases']);
  const next = await Promise.all(env.consultants.map((c) => cli(configPath, ['next', '--as', c, '--json'])));
  const bare8 = await Promise.all(env.consultants.map(() => timed(node, ['-e', '0'])));
  return [
    { key: 'casesTable', mw: table.ms, peer: peer.ms },
    { key: 'casesJson', mw: json.ms, peer: peer.ms },
    { key: 'help', mw: help.ms, peer: bare.ms },
    { key: 'casesEmpty', mw: emptyCases.ms, peer: bare.ms },
    {
      key: 'next8',
      mw: pct(
        next.map((r) => r.ms),
        0.5,
      ),
      peer: pct(
        bare8.map((r) => r.ms),
        0.5,
      ),
    },
  ];
}
