#!/usr/bin/env node
// bench/outbox: how fast mail is queued (render + compose + insert, in one transaction per mail,
// as domain actions do) and drained to a local SMTP server (smtp-server, accepting everything).
//   npx tsc -p . && node bench/outbox.mjs [--mails 1000]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { startSink } from './lib/sink.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const { openDatabase, writeTx } = await import(path.join(dist, 'db/connection.js'));
const { requireConfig } = await import(path.join(dist, 'config/load.js'));
const { queueMail } = await import(path.join(dist, 'outbound/queue.js'));
const { drainOnce } = await import(path.join(dist, 'outbound/drainer.js'));
const { silentLogger } = await import(path.join(dist, 'log.js'));

const i = process.argv.indexOf('--mails');
const MAILS = i > 0 ? Number(process.argv[i + 1]) : 1000;

const sink = await startSink();
const port = sink.port;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-outbox-'));
const configPath = path.join(dir, 'mailwarden.yaml');
fs.writeFileSync(
  configPath,
  YAML.stringify({
    instance: { name: 'Bench Desk', case_prefix: 'BENCH', data_dir: path.join(dir, 'data') },
    smtp: { transport: 'smtp', host: '127.0.0.1', port },
    pools: [{ id: 'general', name: 'General', response_deadline: '8h', languages: ['en'] }],
    mailboxes: [{ id: 'desk', address: 'desk@bench.example', pool: 'general' }],
    consultants: [{ id: 'sam', name: 'Sam', email: 'sam@bench.example', roles: ['consultant', 'supervisor'], pools: [{ pool: 'general', priority: 1 }] }],
  }),
);
const config = requireConfig(configPath);
const { db, close } = await openDatabase({ dataDir: config.instance.data_dir });
const now = new Date().toISOString();
await db
  .insertInto('cases')
  .values({
    id: 'BENCH-000001',
    pool_id: 'general',
    mailbox_id: 'desk',
    status: 'in_progress',
    customer_address: 'c@bench.example',
    customer_name: 'C',
    language: 'en',
    assignee: 'sam',
    received_at: now,
    deadline_at: now,
    first_response_at: null,
    closed_at: null,
    remind_at: null,
    overdue_notified_at: null,
    linked_case_id: null,
    updated_at: now,
    subject: 'Bench',
  })
  .execute();

let t = performance.now();
for (let n = 0; n < MAILS; n++) {
  await writeTx(db, (tx) =>
    queueMail(tx, {
      config,
      caseId: 'BENCH-000001',
      kind: 'reply',
      template: 'reply',
      scope: {},
      from: { address: 'desk@bench.example' },
      to: [{ address: `c${n}@bench.example` }],
      vars: { reply: { text: `Answer ${n}.\n`.repeat(20) } },
      messageKind: 'outbound',
      author: 'sam',
    }),
  );
}
const queueMs = performance.now() - t;
t = performance.now();
const drained = await drainOnce({ config, db, log: silentLogger() });
const drainMs = performance.now() - t;

console.log(`queued ${MAILS} mails in ${queueMs.toFixed(0)} ms (${(queueMs / MAILS).toFixed(2)} ms/mail, one transaction each)`);
console.log(
  `drained ${drained} rows to SMTP in ${drainMs.toFixed(0)} ms (${(drainMs / drained).toFixed(2)} ms/mail, ${(drained / (drainMs / 1000)).toFixed(0)} mails/s); server received ${sink.received}`,
);
await close();
await sink.stop();
fs.rmSync(dir, { recursive: true, force: true });
