#!/usr/bin/env node
// bench/scale-out: what PostgreSQL (SPEC §10) buys and costs. Several daemons may share one
// PostgreSQL, so this measures LMTP ingest with 1, 2 and 3 daemons on it beside one daemon on
// SQLite, and `next` latency with 100k open cases on both, and prints one markdown table.
//   npx tsc -p tsconfig.json && node bench/scale-out.mjs [--messages 2000] [--cases 100000] [--takes 200] [--only ingest|next]
// Ingest: each daemon is a real `mailwarden run` (listener-only, own data dir and LMTP port, `file`
// transport so auto-responses are really rendered and written); 4 concurrent LMTP senders hand
// message i to daemon i mod D, each message from a new customer (so a case and an auto-response
// each). Rates are from the first send to the last 250, and to the last auto-response sent.
// PostgreSQL is started here with fsync on (durable, as in production) and stopped at the end;
// each scenario gets a fresh database. Only correctness is checked (loudly); times are printed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import nodemailer from 'nodemailer';
import YAML from 'yaml';
import { freePort, query, startBenchPostgres } from './pg.mjs';
import { nextLatency } from './scale-next.mjs';
import { customerMail, startDaemon, stopAllDaemons } from './lib/daemon.mjs';
import { countOption, numberOption, option } from './lib/args.mjs';

const MESSAGES = countOption('messages', 2000);
const CASES = numberOption('cases', 100_000);
const TAKES = countOption('takes', 200);
const ONLY = option('only', 'all');
const SENDERS = 4;
const BOX = 'help@bench.test';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const failures = [];

function writeDaemonConfig(dir, url, lmtpPort) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'mailwarden.yaml');
  const doc = {
    instance: {
      name: 'Bench',
      case_prefix: 'BENCH',
      data_dir: path.join(dir, 'data'),
      timezone: 'UTC',
      log_level: 'info',
      secret: 'bench-secret-0123456789-abcdefghijklmnop',
    },
    ...(url ? { database: { url } } : {}),
    smtp: { transport: 'file', outbox_dir: path.join(dir, 'outbox') },
    // Thousands of new customers in minutes is the benchmark's load, not a loop: lift the box's cap.
    auto_response: { box_cap: 1_000_000 },
    ingest: { listener: { enabled: true, protocol: 'lmtp', host: '127.0.0.1', port: lmtpPort } },
    pools: [{ id: 'general', name: 'General', response_deadline: '8h', languages: ['en', 'pl'] }],
    mailboxes: [{ id: 'help', address: BOX, pool: 'general' }],
    consultants: [{ id: 'sam', name: 'Sam', email: 'sam@staff.test', roles: ['consultant', 'supervisor', 'admin'], pools: [{ pool: 'general', priority: 1 }] }],
  };
  fs.writeFileSync(file, YAML.stringify(doc));
  return file;
}

/** The scenario's database, read by the bench: one row from SQLite (read-only) or PostgreSQL. */
function reader(url, sqliteFile) {
  if (url) return { get: async (sql) => (await query(url, sql)).rows[0], close: () => {} };
  let db;
  return {
    get: async (sql) => (db ??= new Database(sqliteFile, { readonly: true, fileMustExist: true })).prepare(sql).get(),
    close: () => db?.close(),
  };
}

const n = (expr) => `cast(${expr} as integer)`;

async function ingestScenario(base, label, daemonCount, pgServer) {
  const tag = label.replace(/\W+/g, '').toLowerCase();
  const url = pgServer ? await pgServer.createDatabase(`bench_${tag}`) : undefined;
  const daemons = [];
  const load = loadavg();
  try {
    for (let k = 0; k < daemonCount; k++) {
      const port = await freePort();
      const dir = path.join(base, tag, `d${k}`);
      const d = startDaemon(writeDaemonConfig(dir, url, port));
      Object.assign(d, { port, dir });
      daemons.push(d);
      // The first daemon migrates the fresh database alone; the others then start together.
      if (k === 0) await d.ready;
    }
    await Promise.all(daemons.map((d) => d.ready));
    const db = reader(url, path.join(daemons[0].dir, 'data', 'mailwarden.sqlite'));
    let next = 0;
    const firstSend = Date.now();
    let lastAnswer = 0;
    const sender = async () => {
      const transports = daemons.map((d) =>
        nodemailer.createTransport({ host: '127.0.0.1', port: d.port, lmtp: true, ignoreTLS: true, pool: true, maxConnections: 1 }),
      );
      try {
        for (let i = next++; i < MESSAGES; i = next++) {
          const m = customerMail(i, tag, BOX);
          await transports[i % daemonCount].sendMail({ envelope: { from: m.from, to: [BOX] }, raw: m.raw });
          lastAnswer = Math.max(lastAnswer, Date.now());
        }
      } finally {
        for (const t of transports) t.close();
      }
    };
    await Promise.all(Array.from({ length: SENDERS }, sender));
    const sentQuery = `select ${n('count(*)')} as n, max(sent_at) as last from outbox where kind = 'auto_response' and state = 'sent'`;
    let sent = await db.get(sentQuery);
    let progressAt = Date.now();
    for (let seen = sent.n; sent.n < MESSAGES && Date.now() - progressAt < 120_000; seen = sent.n) {
      if (daemons.some((d) => d.proc.exitCode !== null)) throw new Error('a daemon exited during the run');
      await sleep(100);
      sent = await db.get(sentQuery);
      if (sent.n > seen) progressAt = Date.now();
    }
    const lastSent = sent.last ? new Date(sent.last).getTime() : NaN;
    const checks = await verify(db, daemons, tag);
    db.close();
    return {
      label,
      daemons: daemonCount,
      load,
      accept: MESSAGES / ((lastAnswer - firstSend) / 1000),
      autoResponse: sent.n === MESSAGES ? MESSAGES / ((lastSent - firstSend) / 1000) : NaN,
      checks,
      logs: daemons.map((d) => d.log),
    };
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
  }
}

/** Exactly N cases, N inbound, N auto-responses (one per customer), each written once to a file. */
async function verify(db, daemons, tag) {
  const row = await db.get(`select
      (select ${n('count(*)')} from cases) as cases,
      (select ${n('count(distinct customer_address)')} from cases) as customers,
      (select ${n('count(*)')} from inbound) as inbound,
      (select ${n('count(*)')} from outbox where kind = 'auto_response') as auto,
      (select ${n('count(distinct to_addresses)')} from outbox where kind = 'auto_response') as auto_recipients,
      (select ${n('count(*)')} from outbox where kind = 'auto_response' and state = 'sent') as sent,
      (select ${n('count(*)')} from outbox where kind <> 'auto_response') as other`);
  const files = daemons.reduce((sum, d) => {
    const dir = path.join(d.dir, 'outbox');
    return sum + (fs.existsSync(dir) ? fs.readdirSync(dir).length : 0);
  }, 0);
  const problems = [];
  for (const key of ['cases', 'customers', 'inbound', 'auto', 'auto_recipients', 'sent']) {
    if (row[key] !== MESSAGES) problems.push(`${key}=${row[key]} (want ${MESSAGES})`);
  }
  if (files !== MESSAGES) problems.push(`outbox files=${files} (want ${MESSAGES})`);
  if (problems.length) failures.push(`ingest ${tag}: ${problems.join(', ')}`);
  return problems.length
    ? `FAIL: ${problems.join(', ')}`
    : `ok (${MESSAGES} cases, ${MESSAGES} auto-responses, ${files} files, other outbox rows ${row.other})`;
}

async function nextScenario(base, label, pgServer) {
  const load = loadavg();
  const url = pgServer ? await pgServer.createDatabase('bench_next') : undefined;
  const r = await nextLatency({ dir: path.join(base, `next-${label}`), url, cases: CASES, takes: TAKES });
  const want = 8 * TAKES;
  const problems = [];
  if (r.duplicates) problems.push(`${r.duplicates} cases taken twice`);
  if (r.taken !== want) problems.push(`taken=${r.taken} (want ${want})`);
  if (r.inProgressGained !== r.taken) problems.push(`in_progress grew by ${r.inProgressGained}, takes returned ${r.taken}`);
  if (problems.length) failures.push(`next ${label}: ${problems.join(', ')}`);
  return { label, load, ...r, checks: problems.length ? `FAIL: ${problems.join(', ')}` : `ok (${r.taken} taken, none twice)` };
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');

function printTable(ingest, next, pgServer) {
  console.log(`\n## bench/scale-out (${os.cpus().length} CPUs; PostgreSQL fsync=${pgServer?.fsync ?? 'n/a'}; SQLite WAL synchronous=NORMAL)\n`);
  if (ingest.length) {
    console.log(`Ingest: ${MESSAGES} messages over LMTP, ${SENDERS} concurrent senders, each message a new customer (case + auto-response).\n`);
    console.log('| backend | daemons | msgs/s to last 250 | msgs/s to last auto-response sent | load avg before | checks |');
    console.log('|---|---|---|---|---|---|');
    for (const r of ingest) console.log(`| ${r.label.split(' ')[0]} | ${r.daemons} | ${f1(r.accept)} | ${f1(r.autoResponse)} | ${r.load} | ${r.checks} |`);
  }
  if (next.length) {
    console.log(
      `\nnext: ${CASES} open cases seeded (about 87% waiting, the rest in progress or postponed), 8 processes × ${TAKES} takeNext calls at once (ms per call).\n`,
    );
    console.log('| backend | seed s | p50 ms | p90 ms | p99 ms | max ms | takes/s overall | load avg before | checks |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of next) {
      const s = [...r.times].sort((a, b) => a - b);
      console.log(
        `| ${r.label} | ${f1(r.seedMs / 1000)} | ${f1(pct(s, 0.5))} | ${f1(pct(s, 0.9))} | ${f1(pct(s, 0.99))} | ${f1(s.at(-1))} | ${f0((r.taken / r.wallMs) * 1000)} | ${r.load} | ${r.checks} |`,
      );
    }
  }
}

async function main() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-scale-'));
  console.log(`load average at start: ${loadavg()}`);
  const pgServer = await startBenchPostgres();
  console.log(`PostgreSQL on port ${pgServer.port}, fsync=${pgServer.fsync}`);
  const stopAll = async () => {
    stopAllDaemons();
    await pgServer.stop();
    fs.rmSync(base, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => stopAll().finally(() => process.exit(130)));
  process.once('exit', stopAllDaemons);
  const ingest = [];
  const next = [];
  try {
    if (ONLY !== 'next') {
      for (const [label, count, server] of [
        ['SQLite', 1, null],
        ['PostgreSQL 1', 1, pgServer],
        ['PostgreSQL 2', 2, pgServer],
        ['PostgreSQL 3', 3, pgServer],
      ]) {
        const r = await ingestScenario(base, label, count, server);
        console.log(`ingest ${label}: ${f1(r.accept)} msgs/s accepted, ${f1(r.autoResponse)} msgs/s auto-responded; ${r.checks}`);
        r.logs.forEach(
          (l, k) => (l.warn || l.error) && console.log(`  daemon ${k}: ${l.warn} warn, ${l.error} error lines, e.g. ${[...l.samples].join(' | ')}`),
        );
        ingest.push(r);
      }
    }
    if (ONLY !== 'ingest') {
      for (const [label, server] of [
        ['SQLite', null],
        ['PostgreSQL', pgServer],
      ]) {
        const r = await nextScenario(base, label, server);
        console.log(`next ${label}: seeded in ${(r.seedMs / 1000).toFixed(1)} s; ${r.checks}`);
        next.push(r);
      }
    }
  } finally {
    await stopAll();
  }
  printTable(ingest, next, pgServer);
  console.log(`\nload average at end: ${loadavg()}`);
  if (failures.length) {
    console.log(`\n!!!! CORRECTNESS FAILURES !!!!\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
