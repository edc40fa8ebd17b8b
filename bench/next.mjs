#!/usr/bin/env node
// bench/next: time per `next` with 100k open cases and 8 consultants taking cases at once.
//   npx tsc -p . && node bench/next.mjs [--cases 100000] [--takes 200] [--cli-rounds 5]
// Part 1: 8 worker processes, each calling takeNext (the domain function `next` uses) in a loop on
// its own connection; prints per-call latency. Part 2: 8 real `bin/mailwarden next --json`
// processes at once, several rounds; prints wall time per process (Node start-up included).
// Both check that no case was taken twice.
import { spawn, fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { countOption, numberOption } from './lib/args.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const bin = path.join(here, '..', 'bin', 'mailwarden');
const { openDatabase } = await import(path.join(dist, 'db/connection.js'));
const { requireConfig } = await import(path.join(dist, 'config/load.js'));
const { takeNext } = await import(path.join(dist, 'cases/next.js'));

const CONSULTANTS = Array.from({ length: 8 }, (_, i) => `c${i + 1}`);

if (process.argv[2] === '--worker') await worker();
else await main();

async function worker() {
  const [, , , configPath, consultantId, takesText] = process.argv;
  const config = requireConfig(configPath);
  const consultant = config.consultants.find((c) => c.id === consultantId);
  const { db, close } = await openDatabase({ dataDir: config.instance.data_dir });
  const times = [];
  const ids = [];
  process.send({ ready: true });
  await new Promise((resolve) => process.once('message', resolve));
  for (let i = 0; i < Number(takesText); i++) {
    const t0 = process.hrtime.bigint();
    const row = await takeNext(db, consultant);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (row) ids.push(row.id);
  }
  await close();
  process.send({ times, ids });
}

function writeConfig(dir) {
  const doc = {
    instance: { name: 'Bench', case_prefix: 'BENCH', data_dir: path.join(dir, 'data'), timezone: 'UTC' },
    smtp: { transport: 'file', outbox_dir: path.join(dir, 'outbox') },
    pools: [
      { id: 'cards', name: 'Cards', response_deadline: '8h', languages: ['en'] },
      { id: 'api', name: 'API', response_deadline: '2d', languages: ['en'] },
      { id: 'loans', name: 'Loans', response_deadline: '1d', languages: ['en'] },
    ],
    mailboxes: [
      { id: 'cards', address: 'cards@bench.test', pool: 'cards' },
      { id: 'api', address: 'api@bench.test', pool: 'api' },
      { id: 'loans', address: 'loans@bench.test', pool: 'loans' },
    ],
    consultants: CONSULTANTS.map((id, i) => ({
      id,
      name: `Consultant ${id}`,
      email: `${id}@staff.bench.test`,
      roles: ['consultant'],
      // Half take cards first, half api first; everyone also works loans last.
      pools:
        i % 2
          ? [
              { pool: 'cards', priority: 1 },
              { pool: 'api', priority: 2 },
              { pool: 'loans', priority: 3 },
            ]
          : [
              { pool: 'api', priority: 1 },
              { pool: 'cards', priority: 2 },
              { pool: 'loans', priority: 3 },
            ],
    })),
  };
  const file = path.join(dir, 'mailwarden.yaml');
  fs.writeFileSync(file, YAML.stringify(doc));
  return file;
}

/** 100k open cases: most waiting, some already in progress or postponed; a few urgent/high. */
function seed(sqlite, n) {
  const pools = ['cards', 'api', 'loans'];
  const priorities = ['low', 'normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'high', 'urgent', 'normal'];
  const insertCase =
    sqlite.prepare(`insert into cases (id, pool_id, mailbox_id, status, priority, subject, customer_address, customer_name, language, assignee, received_at, deadline_at, updated_at, flags)
    values (?, ?, ?, ?, ?, ?, ?, ?, 'en', ?, ?, ?, ?, '[]')`);
  const insertMsg = sqlite.prepare(
    `insert into messages (case_id, kind, at, from_address, subject, message_id, text, to_addresses) values (?, 'inbound', ?, ?, ?, ?, ?, '[]')`,
  );
  const start = Date.parse('2026-01-01T00:00:00Z');
  sqlite.transaction(() => {
    for (let i = 1; i <= n; i++) {
      const id = `BENCH-${String(i).padStart(6, '0')}`;
      const pool = pools[i % 3];
      const at = new Date(start + i * 7_000).toISOString();
      const status = i % 10 === 0 ? 'in_progress' : i % 37 === 0 ? 'postponed' : 'received';
      const assignee = status === 'received' ? null : CONSULTANTS[i % 8];
      const customer = `customer${i % 20000}@example.org`;
      insertCase.run(
        id,
        pool,
        pool,
        status,
        priorities[i % 10],
        `Question number ${i}`,
        customer,
        `Customer ${i}`,
        assignee,
        at,
        new Date(Date.parse(at) + 8 * 3600_000).toISOString(),
        at,
      );
      insertMsg.run(id, at, customer, `Question number ${i}`, `<q${i}@example.org>`, `Hello, this is question ${i}.\n`);
    }
    sqlite.prepare(`insert into case_sequences (prefix, last_value) values ('BENCH', ?)`).run(n);
  })();
}

function stats(times) {
  const s = [...times].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `n=${s.length} mean=${mean.toFixed(2)}ms p50=${q(0.5).toFixed(2)}ms p95=${q(0.95).toFixed(2)}ms p99=${q(0.99).toFixed(2)}ms max=${s[s.length - 1].toFixed(2)}ms`;
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
    child.on('close', (code) => resolve({ code, out, err, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  });
}

async function main() {
  const total = numberOption('cases', 100_000);
  const takes = countOption('takes', 200);
  const cliRounds = countOption('cli-rounds', 5);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-next-'));
  try {
    const configPath = writeConfig(dir);
    const config = requireConfig(configPath);
    const opened = await openDatabase({ dataDir: config.instance.data_dir });
    let t0 = Date.now();
    seed(opened.sqlite, total);
    opened.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    opened.sqlite.exec('analyze');
    const open = opened.sqlite.prepare(`select count(*) n from cases where status not in ('solved','closed')`).get().n;
    const waiting = opened.sqlite.prepare(`select count(*) n from cases where status = 'received'`).get().n;
    console.log(`seeded ${total} cases (${open} open, ${waiting} waiting) in ${Date.now() - t0} ms`);

    // Part 1: the domain call, 8 processes at once.
    const workers = CONSULTANTS.map((c) => fork(fileURLToPath(import.meta.url), ['--worker', configPath, c, String(takes)], { stdio: 'inherit' }));
    await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
    t0 = Date.now();
    const results = workers.map((w) => new Promise((r) => w.once('message', r)));
    for (const w of workers) w.send('go');
    const done = await Promise.all(results);
    const wall = Date.now() - t0;
    const allTimes = done.flatMap((d) => d.times);
    const allIds = done.flatMap((d) => d.ids);
    console.log(`takeNext, 8 concurrent processes x ${takes}: ${stats(allTimes)}`);
    console.log(
      `  ${allIds.length} cases taken in ${wall} ms wall (${((allIds.length / wall) * 1000).toFixed(0)} takes/s overall); duplicates: ${allIds.length - new Set(allIds).size}`,
    );

    // Part 2: the real command, as 8 consultants typing `mailwarden next` at the same instant.
    const cliTimes = [];
    const cliIds = [];
    for (let round = 0; round < cliRounds; round++) {
      const rs = await Promise.all(CONSULTANTS.map((c) => runCli(['next', '--as', c, '--json'], { MAILWARDEN_CONFIG: configPath })));
      for (const r of rs) {
        if (r.code !== 0) throw new Error(`mailwarden next failed: ${r.err}`);
        cliTimes.push(r.ms);
        const d = JSON.parse(r.out);
        if (d) cliIds.push(d.case.id);
      }
    }
    console.log(`mailwarden next --json, 8 processes at once x ${cliRounds} rounds (process start-up included): ${stats(cliTimes)}`);
    console.log(
      `  duplicates: ${cliIds.length - new Set(cliIds).size}; total duplicates across both parts: ${[...allIds, ...cliIds].length - new Set([...allIds, ...cliIds]).size}`,
    );
    const single = [];
    for (let i = 0; i < 5; i++) single.push((await runCli(['next', '--as', 'c1', '--json'], { MAILWARDEN_CONFIG: configPath })).ms);
    console.log(`mailwarden next --json alone (no contention): ${stats(single)}`);
    await opened.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
