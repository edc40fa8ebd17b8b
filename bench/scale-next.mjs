// bench/scale-next: the `next` half of bench/scale-out — time per takeNext with many open cases and
// 8 consultants taking at once, on SQLite or on PostgreSQL (database.url), so the two backends are
// measured by the same code. bench/next.mjs stays the SQLite-only bench with the CLI rounds; this
// one seeds in bulk (one INSERT … SELECT generate_series per batch on PostgreSQL, a prepared loop
// in one transaction on SQLite) so 100k cases take seconds, not minutes, on a loaded machine.
// Run alone by bench/scale-out.mjs; `--worker` is the forked consultant process.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { query } from './pg.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const CONSULTANTS = Array.from({ length: 8 }, (_, i) => `c${i + 1}`);
const POOLS = ['cards', 'api', 'loans'];
const PRIORITIES = ['low', 'normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'high', 'urgent', 'normal'];
const START = Date.parse('2026-01-01T00:00:00Z');

if (process.argv[2] === '--worker') await worker();

async function worker() {
  const [, , , configPath, consultantId, takesText] = process.argv;
  const { requireConfig } = await import(path.join(dist, 'config/load.js'));
  const { openDatabase } = await import(path.join(dist, 'db/connection.js'));
  const { takeNext } = await import(path.join(dist, 'cases/next.js'));
  const config = requireConfig(configPath);
  const consultant = config.consultants.find((c) => c.id === consultantId);
  const { db, close } = await openDatabase({ dataDir: config.instance.data_dir, url: config.database.url });
  const times = [];
  const ids = [];
  process.send({ ready: true });
  await new Promise((resolve) => process.once('message', resolve));
  for (let i = 0; i < Number(takesText); i++) {
    const t0 = process.hrtime.bigint();
    const row = await takeNext(db, consultant, config.instance.timezone);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (row) ids.push(row.id);
  }
  await close();
  process.send({ times, ids });
}

export function writeConfig(dir, url) {
  const doc = {
    instance: { name: 'Bench', case_prefix: 'BENCH', data_dir: path.join(dir, 'data'), timezone: 'UTC', secret: 'bench-secret-0123456789-abcdefghijklmnop' },
    ...(url ? { database: { url } } : {}),
    smtp: { transport: 'file', outbox_dir: path.join(dir, 'outbox') },
    pools: POOLS.map((id) => ({ id, name: id, response_deadline: '8h', languages: ['en'] })),
    mailboxes: POOLS.map((id) => ({ id, address: `${id}@bench.test`, pool: id })),
    // bench/cli.mjs seeds cases under consultation with this department.
    departments: [{ id: 'fraud', name: 'Fraud', email: 'fraud@bench.test', deadline: '1d' }],
    // Half take cards first, half api first; everyone also works loans last (as bench/next.mjs).
    consultants: CONSULTANTS.map((id, i) => ({
      id,
      name: `Consultant ${id}`,
      email: `${id}@staff.bench.test`,
      roles: ['consultant'],
      pools: (i % 2 ? ['cards', 'api', 'loans'] : ['api', 'cards', 'loans']).map((pool, p) => ({ pool, priority: p + 1 })),
    })),
  };
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'mailwarden.yaml');
  fs.writeFileSync(file, YAML.stringify(doc));
  return file;
}

/** The same rows as bench/next.mjs: most waiting, every 10th in progress, every 37th postponed. */
export function seedSqlite(sqlite, n) {
  const insertCase = sqlite.prepare(`insert into cases (id, pool_id, mailbox_id, status, priority, subject, customer_address, customer_name,
    language, assignee, received_at, deadline_at, updated_at, flags) values (?, ?, ?, ?, ?, ?, ?, ?, 'en', ?, ?, ?, ?, '[]')`);
  const insertMsg = sqlite.prepare(
    `insert into messages (case_id, kind, at, from_address, subject, message_id, text, to_addresses) values (?, 'inbound', ?, ?, ?, ?, ?, '[]')`,
  );
  sqlite.transaction(() => {
    for (let i = 1; i <= n; i++) {
      const id = `BENCH-${String(i).padStart(6, '0')}`;
      const pool = POOLS[i % 3];
      const at = new Date(START + i * 7_000).toISOString();
      const status = i % 10 === 0 ? 'in_progress' : i % 37 === 0 ? 'postponed' : 'received';
      const assignee = status === 'received' ? null : CONSULTANTS[i % 8];
      const customer = `customer${i % 20000}@example.org`;
      const deadline = new Date(Date.parse(at) + 8 * 3600_000).toISOString();
      insertCase.run(id, pool, pool, status, PRIORITIES[i % 10], `Question number ${i}`, customer, `Customer ${i}`, assignee, at, deadline, at);
      insertMsg.run(id, at, customer, `Question number ${i}`, `<q${i}@example.org>`, `Hello, this is question ${i}.\n`);
    }
    sqlite.prepare(`insert into case_sequences (prefix, last_value) values ('BENCH', ?)`).run(n);
  })();
  sqlite.pragma('wal_checkpoint(TRUNCATE)');
  sqlite.exec('analyze');
}

/** The same rows, built by the server itself, BATCH per statement (each its own commit). */
async function seedPostgres(url, n) {
  const BATCH = 20_000;
  const pools = `(array['cards','api','loans'])[i % 3 + 1]`;
  const at = `timestamptz '2026-01-01T00:00:00Z' + i * interval '7 seconds'`;
  const status = `case when i % 10 = 0 then 'in_progress' when i % 37 = 0 then 'postponed' else 'received' end`;
  const assignee = `case when i % 10 = 0 or i % 37 = 0 then 'c' || (i % 8 + 1) end`;
  const priority = `(array[${PRIORITIES.map((p) => `'${p}'`).join(',')}])[i % 10 + 1]`;
  for (let from = 1; from <= n; from += BATCH) {
    const to = Math.min(n, from + BATCH - 1);
    await query(
      url,
      `with s as (select i from generate_series($1::int, $2::int) i),
        c as (insert into cases (id, pool_id, mailbox_id, status, priority, subject, customer_address, customer_name, language, assignee,
                received_at, deadline_at, updated_at, flags)
              select 'BENCH-' || lpad(i::text, 6, '0'), ${pools}, ${pools}, ${status}, ${priority}, 'Question number ' || i,
                'customer' || (i % 20000) || '@example.org', 'Customer ' || i, 'en', ${assignee}, ${at}, ${at} + interval '8 hours', ${at}, '[]'
              from s returning id, received_at, customer_address, subject)
       insert into messages (case_id, kind, at, from_address, subject, message_id, text, to_addresses)
       select id, 'inbound', received_at, customer_address, subject, '<q' || substr(id, 7)::int || '@example.org>',
         'Hello, this is question ' || substr(id, 7)::int || '.' || chr(10), '[]' from c`,
      [from, to],
    );
  }
  await query(url, `insert into case_sequences (prefix, last_value) values ('BENCH', $1)`, [n]);
  await query(url, 'analyze');
}

const taken = `select cast(count(*) as integer) as n from cases where status = 'in_progress'`;

/**
 * Seeds `cases` open cases into a fresh database (SQLite under `dir`, or PostgreSQL at `url`),
 * runs 8 processes × `takes` takeNext calls at once; returns the per-call times and the checks.
 */
export async function nextLatency({ dir, url, cases, takes }) {
  const configPath = writeConfig(dir, url);
  const { requireConfig } = await import(path.join(dist, 'config/load.js'));
  const { openDatabase } = await import(path.join(dist, 'db/connection.js'));
  const config = requireConfig(configPath);
  const opened = await openDatabase({ dataDir: config.instance.data_dir, url }); // migrates
  const count = async (text) => (url ? (await query(url, text)).rows[0].n : opened.sqlite.prepare(text).get().n);
  let t0 = Date.now();
  if (url) await seedPostgres(url, cases);
  else seedSqlite(opened.sqlite, cases);
  const seedMs = Date.now() - t0;
  const open = await count(`select cast(count(*) as integer) as n from cases where status not in ('solved','closed')`);
  const before = await count(taken);

  const workers = CONSULTANTS.map((c) => fork(fileURLToPath(import.meta.url), ['--worker', configPath, c, String(takes)], { stdio: 'inherit' }));
  try {
    await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
    t0 = Date.now();
    const results = workers.map((w) => new Promise((r, j) => (w.once('message', r), w.once('exit', (code) => code && j(new Error(`worker exited ${code}`))))));
    for (const w of workers) w.send('go');
    const done = await Promise.all(results);
    const wallMs = Date.now() - t0;
    const times = done.flatMap((d) => d.times);
    const ids = done.flatMap((d) => d.ids);
    const after = await count(taken);
    return { seedMs, open, times, taken: ids.length, wallMs, duplicates: ids.length - new Set(ids).size, inProgressGained: after - before };
  } finally {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await opened.close();
  }
}
