#!/usr/bin/env node
// bench/ingest: how fast the daemon turns IMAP mail into cases.
//   1. throughput: 2,000 messages APPENDed to one box before the daemon starts; messages/s from
//      "daemon ready" to the 2,000th case committed;
//   2. latency on the IDLE path: single APPENDs to the idle daemon, delay from the APPEND's
//      completion to the accept transaction (inbound.at), p50/p99.
// Needs Dovecot (as the tests do) and a build (`npx tsc -p .`). Run: node bench/ingest.mjs
// Options: --messages N (default 2000), --samples N (default 60). Prints figures, asserts nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import YAML from 'yaml';
import { customerMail, startDaemon } from './lib/daemon.mjs';
import { startDovecot } from './lib/dovecot.mjs';
import { freePort } from './pg.mjs';
import { countOption } from './lib/args.mjs';

const MESSAGES = countOption('messages', 2000);
const SAMPLES = countOption('samples', 60);
const USER = 'bench@example.test';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function main() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-'));
  const dovecot = await startDovecot(base, [USER]);
  const cfgDir = path.join(base, 'cfg');
  fs.mkdirSync(cfgDir);
  const configPath = path.join(cfgDir, 'mailwarden.yaml');
  const lmtpPort = await freePort();
  fs.writeFileSync(
    configPath,
    YAML.stringify({
      instance: { name: 'Bench', case_prefix: 'BENCH', data_dir: path.join(cfgDir, 'data'), log_level: 'info' },
      smtp: { transport: 'file', outbox_dir: path.join(cfgDir, 'outbox') },
      // Thousands of new customers in minutes is the benchmark's load, not a loop: lift the box's cap.
      auto_response: { box_cap: 100000 },
      ingest: { poll_interval: '60s', idle: true, listener: { enabled: true, protocol: 'lmtp', host: '127.0.0.1', port: lmtpPort } },
      pools: [{ id: 'general', name: 'General', response_deadline: '8h', languages: ['en', 'pl'] }],
      mailboxes: [{ id: 'bench', address: USER, pool: 'general', imap: { host: '127.0.0.1', port: dovecot.port, tls: false, user: USER, password: 'secret' } }],
      consultants: [
        { id: 'sam', name: 'Sam', email: 'sam@staff.test', roles: ['consultant', 'supervisor', 'admin'], pools: [{ pool: 'general', priority: 1 }] },
      ],
    }),
  );
  const client = new ImapFlow({ host: '127.0.0.1', port: dovecot.port, secure: false, auth: { user: USER, pass: 'secret' }, logger: false });
  client.on('error', () => {});
  await client.connect();
  let daemon;
  try {
    let t = Date.now();
    for (let i = 0; i < MESSAGES; i++) await client.append('INBOX', customerMail(i, 'bulk', USER).raw);
    console.log(`preloaded ${MESSAGES} messages by APPEND in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    daemon = startDaemon(configPath, { prof: process.env.BENCH_PROF });
    const readyAt = await daemon.ready;
    const db = new Database(path.join(cfgDir, 'data', 'mailwarden.sqlite'), { readonly: true, fileMustExist: true });
    const count = () => db.prepare('select count(*) as n from inbound').get().n;
    let last = -1;
    while (count() < MESSAGES) {
      if (daemon.proc.exitCode !== null) throw new Error(`daemon exited with ${daemon.proc.exitCode}`);
      if (process.env.BENCH_VERBOSE && count() !== last) console.log('  accepted', (last = count()));
      await sleep(20);
    }
    const doneAt = Date.now();
    const firstLast = db.prepare('select min(at) as a, max(at) as b from inbound').get();
    const cases = db.prepare('select count(*) as n from cases').get().n;
    const seconds = (doneAt - readyAt) / 1000;
    console.log(
      `throughput: ${MESSAGES} messages -> ${cases} cases in ${seconds.toFixed(1)} s from "daemon ready" = ${(MESSAGES / seconds).toFixed(0)} messages/s`,
    );
    const span = (Date.parse(firstLast.b) - Date.parse(firstLast.a)) / 1000;
    console.log(`  (first to last accept transaction: ${span.toFixed(1)} s = ${(MESSAGES / Math.max(span, 0.001)).toFixed(0)} messages/s)`);

    // Latency on the IDLE path: the daemon is idle now; one APPEND at a time.
    await sleep(1000);
    const delays = [];
    const byId = db.prepare('select at from inbound where message_id = ?');
    for (let i = 0; i < SAMPLES; i++) {
      const m = customerMail(i, 'idle', USER);
      await client.append('INBOX', m.raw);
      const appendedAt = Date.now();
      let row;
      while (!(row = byId.get(m.messageId))) await sleep(2);
      delays.push(Date.parse(row.at) - appendedAt);
      await sleep(100 + Math.random() * 400);
    }
    delays.sort((a, b) => a - b);
    console.log(
      `IDLE path, APPEND -> case committed (${SAMPLES} samples): p50 ${pct(delays, 50)} ms, p99 ${pct(delays, 99)} ms, min ${delays[0]} ms, max ${delays.at(-1)} ms`,
    );
    console.log('  (Dovecot debounces IDLE notifications by a fixed 500 ms: that is the floor of this path)');

    // Direct delivery: LMTP DATA -> 250, which the listener sends only after the commit.
    // smtp-server waits a fixed 100 ms before its greeting (early-talker check), so a new
    // connection costs that once; an MTA keeps its LMTP connections open (Postfix's cache).
    for (const pooled of [false, true]) {
      const lmtp = nodemailer.createTransport({ host: '127.0.0.1', port: lmtpPort, lmtp: true, ignoreTLS: true, pool: pooled, maxConnections: 1 });
      const direct = [];
      // The pooled connection is opened by a first, untimed delivery.
      if (pooled) await lmtp.sendMail({ envelope: { from: 'warmup@bench.test', to: [USER] }, raw: customerMail(0, 'warmup', USER).raw });
      for (let i = 0; i < SAMPLES; i++) {
        const m = customerMail(i, pooled ? 'pooled' : 'lmtp', USER);
        const t0 = Date.now();
        await lmtp.sendMail({ envelope: { from: `customer${i}@bench.test`, to: [USER] }, raw: m.raw });
        direct.push(Date.now() - t0);
        if (!byId.get(m.messageId)) throw new Error('250 came before the commit');
      }
      lmtp.close();
      direct.sort((a, b) => a - b);
      const what = pooled ? 'one reused connection, DATA -> 250' : 'new connection per message, connect -> 250';
      console.log(`LMTP listener, ${what} (${SAMPLES} samples): p50 ${pct(direct, 50)} ms, p99 ${pct(direct, 99)} ms`);
    }
    db.close();
  } finally {
    if (daemon) await daemon.stop();
    await client.logout().catch(() => client.close());
    await dovecot.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
