#!/usr/bin/env node
// bench/report: how long `mailwarden report` takes over a year of a busy desk (issue 15: one
// million cases, per consultant, target under 2 s on the 2-core machine).
//   npx tsc -p . && node bench/report.mjs [--cases 1000000] [--runs 3] [--dir DIR] [--regenerate]
// 1. Generates the year once (bench/report-data.mjs: the rows the application writes, through
//    prepared statements) into a real database opened with the app's openDatabase, so every
//    migration ran; it is cached in DIR (default: $TMPDIR/mw-bench-report-<cases>) and reused.
// 2. Times buildReport(db, config, { from: 2026-01-01, to: 2026-12-31, by: consultant }) in this
//    process, --runs times, and the real `mailwarden report ... --by consultant --json` process
//    (start-up included), --runs times; prints each time and the medians. Asserts nothing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONSULTANTS, generate, writeBenchConfig } from './report-data.mjs';
import { countOption, numberOption, option } from './lib/args.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const bin = path.join(here, '..', 'bin', 'mailwarden');
const { openDatabase } = await import(path.join(dist, 'db/connection.js'));
const { requireConfig } = await import(path.join(dist, 'config/load.js'));
const { buildReport } = await import(path.join(dist, 'reports/build.js'));

const CASES = numberOption('cases', 1_000_000);
const RUNS = countOption('runs', 3);
const DIR = path.resolve(option('dir', path.join(os.tmpdir(), `mw-bench-report-${CASES}`)));
/** Bumped whenever the generator's rows change, so an old cache is not reused. */
const DATA_VERSION = 2;
const OPTS = { from: '2026-01-01', to: '2026-12-31', by: 'consultant' };

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

function dbSize(file) {
  return ['', '-wal'].reduce((n, s) => n + (fs.existsSync(file + s) ? fs.statSync(file + s).size : 0), 0);
}

async function ensureData() {
  const marker = path.join(DIR, 'generated.json');
  const configPath = path.join(DIR, 'mailwarden.yaml');
  const file = path.join(DIR, 'data', 'mailwarden.sqlite');
  const cached = fs.existsSync(marker) ? JSON.parse(fs.readFileSync(marker, 'utf8')) : null;
  if (cached && cached.version === DATA_VERSION && cached.cases === CASES && !process.argv.includes('--regenerate')) {
    console.log(`data: reusing ${file} (${CASES} cases, generated in ${(cached.ms / 1000).toFixed(1)} s; ${mb(dbSize(file))})`);
    return configPath;
  }
  fs.rmSync(DIR, { recursive: true, force: true });
  writeBenchConfig(DIR);
  const config = requireConfig(configPath);
  const t0 = process.hrtime.bigint();
  const opened = await openDatabase({ dataDir: config.instance.data_dir });
  const counts = generate(opened.sqlite, {
    cases: CASES,
    onProgress: (n, _counts, note) => console.log(`  ${n} cases, ${(ms(t0) / 1000).toFixed(0)} s${note ? `: ${note}` : ''}`),
  });
  opened.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  await opened.close();
  const took = ms(t0);
  fs.writeFileSync(marker, JSON.stringify({ version: DATA_VERSION, cases: CASES, ms: took, counts }));
  console.log(`data: generated ${CASES} cases in ${(took / 1000).toFixed(1)} s; ${mb(dbSize(file))} at ${file}`);
  console.log(
    `  rows: ${Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  return configPath;
}

/** A one-line summary of the report, to see that it counted something. */
function summary(report) {
  const all = report.rows[0];
  if (!all) return 'no rows';
  return `${report.rows.length - 1} consultant rows; desk: ${all.emails_received} e-mails, ${all.closed} closed (${all.closed_on_time_without_consulting}+${all.closed_on_time_with_consulting} on time, ${all.closed_late_with_consulting}+${all.closed_late_without_consulting} late), consultations ${all.consultations_on_time} in time / ${all.consultations_late} late, feedback ${all.feedback_after_closing}, ratings ${all.ratings.count}`;
}

async function inProcess(configPath) {
  const config = requireConfig(configPath);
  const { db, close } = await openDatabase({ dataDir: config.instance.data_dir });
  const times = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const t0 = process.hrtime.bigint();
      let report;
      try {
        report = await buildReport(db, config, OPTS);
      } catch (err) {
        if (/not yet/.test(err.message)) {
          console.log(`buildReport: STILL THE PLACEHOLDER (src/reports/build.ts throws "${err.message}"); nothing to time`);
          return null;
        }
        throw err;
      }
      times.push(ms(t0));
      console.log(`buildReport run ${i + 1}: ${times[i].toFixed(0)} ms${i === 0 ? `  (${summary(report)})` : ''}`);
    }
  } finally {
    await close();
  }
  console.log(`buildReport median of ${RUNS}: ${median(times).toFixed(0)} ms (target < 2000 ms)`);
  await explain(config);
  return times;
}

/**
 * One more run, with each SQL statement buildReport sends timed and its query plan printed
 * (slowest first): where the time goes, and which statement scans a whole table.
 */
async function explain(config) {
  const { db, sqlite, close } = await openDatabase({ dataDir: config.instance.data_dir });
  const prepare = sqlite.prepare.bind(sqlite);
  const seen = [];
  const timed = (stmt, source, method) => (params) => {
    const t0 = process.hrtime.bigint();
    const result = stmt[method](params ?? []);
    seen.push({ source, params: params ?? [], ms: ms(t0) });
    return result;
  };
  sqlite.prepare = (source) => {
    const stmt = prepare(source);
    return {
      reader: stmt.reader,
      all: timed(stmt, source, 'all'),
      run: timed(stmt, source, 'run'),
      get: timed(stmt, source, 'get'),
      iterate: (p) => stmt.iterate(p),
    };
  };
  try {
    await buildReport(db, config, OPTS);
  } finally {
    sqlite.prepare = prepare;
  }
  const total = seen.reduce((n, s) => n + s.ms, 0);
  console.log(`statements of one more run: ${seen.length}, ${total.toFixed(0)} ms in SQLite; the slowest, with their plans:`);
  for (const s of [...seen].sort((a, b) => b.ms - a.ms).slice(0, 8)) {
    console.log(`  ${s.ms.toFixed(0)} ms  ${s.source.replace(/\s+/g, ' ').slice(0, 300)}`);
    for (const row of prepare(`explain query plan ${s.source}`).all(s.params)) console.log(`      plan: ${row.detail}`);
  }
  await close();
}

function runCli(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err, ms: ms(t0) }));
  });
}

async function viaCli(configPath) {
  const args = ['report', '--from', OPTS.from, '--to', OPTS.to, '--by', 'consultant', '--json'];
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await runCli(args, { MAILWARDEN_CONFIG: configPath });
    if (r.code !== 0) {
      console.log(`mailwarden ${args.join(' ')}: exit ${r.code}: ${r.err.trim().split('\n')[0] || r.out.trim().split('\n')[0]}`);
      return null;
    }
    times.push(r.ms);
    const rows = JSON.parse(r.out).rows?.length;
    console.log(`mailwarden report --json run ${i + 1}: ${r.ms.toFixed(0)} ms (${rows} rows)`);
  }
  console.log(`mailwarden report --by consultant --json median of ${RUNS}: ${median(times).toFixed(0)} ms (process start-up included)`);
  const startup = [];
  for (let i = 0; i < RUNS; i++) startup.push((await runCli(['--version'], { MAILWARDEN_CONFIG: configPath })).ms);
  console.log(`  for comparison, mailwarden --version (process start-up alone) median of ${RUNS}: ${median(startup).toFixed(0)} ms`);
  return times;
}

console.log(
  `bench/report: ${CASES} cases, ${CONSULTANTS.length} consultants; ${os.cpus().length} CPUs, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
const configPath = await ensureData();
await inProcess(configPath);
await viaCli(configPath);
