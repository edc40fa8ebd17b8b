#!/usr/bin/env node
// bench/cli: how fast the CLI answers, beside bare Node's own start (issue 18). Why a bench of
// its own: every figure here is process start-up plus one command, so it is measured the way a
// consultant meets it, `bin/mailwarden` as a child process, next to `node -e 0` started the same
// way in the same run. Prints figures and ratios, medians of three rounds; asserts nothing.
//   npx tsc -p . && node bench/cli.mjs [--cases 100000] [--rounds 3]
// The 100k cases are written straight into a migrated database with prepared statements in one
// transaction (as bench/next.mjs does): 100,000 open cases (most waiting, some in progress or
// postponed, every 50th under consultation, every 20th labelled) and 20,000 solved or closed ones
// before them.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeConfig } from './scale-next.mjs';
import { countOption, numberOption } from './lib/args.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const bin = path.join(here, '..', 'bin', 'mailwarden');
const CONSULTANTS = Array.from({ length: 8 }, (_, i) => `c${i + 1}`);
const POOLS = ['cards', 'api', 'loans'];
const PRIORITIES = ['low', 'normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'high', 'urgent', 'normal'];

function seed(sqlite, open, closed) {
  const insertCase =
    sqlite.prepare(`insert into cases (id, pool_id, mailbox_id, status, priority, subject, customer_address, customer_name, language, assignee, received_at, deadline_at, updated_at, closed_at, flags)
    values (?, ?, ?, ?, ?, ?, ?, ?, 'en', ?, ?, ?, ?, ?, '[]')`);
  const insertMsg = sqlite.prepare(
    `insert into messages (case_id, kind, at, from_address, subject, message_id, text, to_addresses) values (?, 'inbound', ?, ?, ?, ?, ?, '[]')`,
  );
  const insertLabel = sqlite.prepare(`insert into case_labels (case_id, label) values (?, ?)`);
  const insertConsult = sqlite.prepare(
    `insert into consultations (case_id, dept_id, consultant, sent_at, deadline_at, state) values (?, 'fraud', ?, ?, ?, 'open')`,
  );
  const start = Date.parse('2025-06-01T00:00:00Z');
  const total = open + closed;
  sqlite.transaction(() => {
    for (let i = 1; i <= total; i++) {
      const id = `BENCH-${String(i).padStart(6, '0')}`;
      const pool = POOLS[i % 3];
      const at = new Date(start + i * 7_000).toISOString();
      const isClosed = i <= closed;
      const status = isClosed
        ? i % 2
          ? 'solved'
          : 'closed'
        : i % 10 === 0
          ? 'in_progress'
          : i % 50 === 1
            ? 'under_consultation'
            : i % 37 === 0
              ? 'postponed'
              : 'received';
      const assignee = status === 'received' ? null : CONSULTANTS[i % 8];
      const customer = `customer${i % 20000}@example.org`;
      const deadline = new Date(Date.parse(at) + 8 * 3600_000).toISOString();
      insertCase.run(
        id,
        pool,
        pool,
        status,
        PRIORITIES[i % 10],
        `Question number ${i}`,
        customer,
        `Customer ${i}`,
        assignee,
        at,
        deadline,
        at,
        isClosed ? deadline : null,
      );
      insertMsg.run(id, at, customer, `Question number ${i}`, `<q${i}@example.org>`, `Hello, this is question ${i}.\n`);
      if (i % 20 === 0) insertLabel.run(id, i % 40 === 0 ? 'vip' : 'card-block');
      if (status === 'under_consultation') insertConsult.run(id, assignee, at, new Date(Date.parse(at) + 86_400_000).toISOString());
    }
    sqlite.prepare(`insert into case_sequences (prefix, last_value) values ('BENCH', ?)`).run(total);
  })();
}

function run(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { ...process.env, NO_COLOR: '1', ...env } });
    let out = 0;
    let err = '';
    child.stdout.on('data', (d) => (out += d.length));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, bytes: out, err, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const bare = () => run(process.execPath, ['-e', '0']);
const cli = (args, env) => run(process.execPath, [bin, ...args], env);

/** The median over rounds of one figure: `once` returns ms for one round. */
async function figure(rounds, once) {
  const xs = [];
  for (let r = 0; r < rounds; r++) xs.push(await once());
  return median(xs);
}

/** p50 of the 8 processes' wall times when all 8 start at once. */
async function eightAtOnce(start) {
  const rs = await Promise.all(CONSULTANTS.map((c) => start(c)));
  for (const r of rs) if (r.code !== 0) throw new Error(`failed: ${r.err}`);
  return median(rs.map((r) => r.ms));
}

async function single(args, env) {
  const r = await cli(args, env);
  if (r.code !== 0) throw new Error(`mailwarden ${args.join(' ')} failed: ${r.err}`);
  return r.ms;
}

function line(name, ms, base) {
  console.log(`${name.padEnd(46)} ${(ms / 1000).toFixed(3).padStart(7)} s   bare node ${(base / 1000).toFixed(3)} s   ratio ${(ms / base).toFixed(2)}x`);
}

async function main() {
  const { openDatabase } = await import(path.join(dist, 'db/connection.js'));
  const { requireConfig } = await import(path.join(dist, 'config/load.js'));
  const openCount = numberOption('cases', 100_000);
  const rounds = countOption('rounds', 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-cli-'));
  try {
    const emptyConfig = writeConfig(path.join(dir, 'empty'));
    const bigConfig = writeConfig(path.join(dir, 'big'));
    const config = requireConfig(bigConfig);
    const opened = await openDatabase({ dataDir: config.instance.data_dir });
    const t0 = Date.now();
    seed(opened.sqlite, openCount, Math.round(openCount / 5));
    opened.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    opened.sqlite.exec('analyze');
    await opened.close();
    console.log(`seeded ${openCount} open + ${Math.round(openCount / 5)} closed cases in ${Date.now() - t0} ms; ${rounds} rounds, medians`);
    const empty = { MAILWARDEN_CONFIG: emptyConfig };
    const big = { MAILWARDEN_CONFIG: bigConfig };
    await single(['cases'], empty); // creates and migrates the empty database once
    await single(['cases'], big); // warms the file cache

    const node1 = await figure(rounds, async () => (await bare()).ms);
    line('mailwarden --help', await figure(rounds, () => single(['--help'])), node1);
    line('mailwarden cases (empty database)', await figure(rounds, () => single(['cases'], empty)), node1);
    line('mailwarden cases (100k open, table)', await figure(rounds, () => single(['cases'], big)), node1);
    line('mailwarden cases --json (100k open)', await figure(rounds, () => single(['cases', '--json'], big)), node1);
    line('mailwarden cases --pool cards --label vip', await figure(rounds, () => single(['cases', '--pool', 'cards', '--label', 'vip'], big)), node1);
    const node8 = await figure(rounds, () => eightAtOnce(() => bare()));
    line('next --json, 8 consultants at once, p50', await figure(rounds, () => eightAtOnce((c) => cli(['next', '--as', c, '--json'], big))), node8);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
