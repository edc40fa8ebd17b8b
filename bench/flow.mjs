#!/usr/bin/env node
// bench/flow: the ingest/outbound figures of issue 18, each the median of --rounds rounds (a fresh
// Dovecot, daemon and data dir per round), with auto-responses relayed over SMTP to a sink in
// this process (smtp-server, as the tests' sink) so "auto-response at the SMTP server" is the
// time its DATA ended there:
//   LMTP start -> 250 and start -> auto-response (p50, one reused connection, one message at a time);
//   IDLE: IMAP APPEND -> case committed and APPEND -> auto-response (p50);
//   IMAP drain: --drain messages pre-loaded, "daemon ready" -> last auto-response (msg/s);
//   LMTP throughput, one sender on a reused connection and 4 senders: to the last 250 and to the
//   last auto-response (msg/s);
//   ingest rate (LMTP, 4 senders, to the last 250) with --cases cases already in the database,
//   over the same on an empty one.
// Needs Dovecot and a build:  npx tsc -p tsconfig.json && node bench/flow.mjs
// Options: --rounds 3 --drain 2000 --samples 40 --lmtp 400 --cases 100000 --root <dir with dist/>
//          --only lmtp,idle,drain,scale. Prints figures, asserts only that nothing was lost.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import YAML from 'yaml';
import { startDovecot } from './lib/dovecot.mjs';
import { startSink } from './lib/sink.mjs';
import { freePort } from './pg.mjs';
import { seedCases } from './flow-seed.mjs';
import { countOption, numberOption, option } from './lib/args.mjs';

const ROOT = path.resolve(option('root', path.join(path.dirname(fileURLToPath(import.meta.url)), '..')));
const ROUNDS = countOption('rounds', 3);
const DRAIN = countOption('drain', 2000);
const SAMPLES = countOption('samples', 40);
const LMTP = countOption('lmtp', 400);
const CASES = numberOption('cases', 100_000);
const ONLY = option('only', 'lmtp,idle,drain,scale').split(',');
const USER = 'desk@bench.test';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function message(n, tag) {
  const from = `${tag}-${n}@customers.test`;
  const id = `<${tag}-${n}-${Date.now()}@customers.test>`;
  const raw =
    `From: Customer ${n} <${from}>\r\nTo: ${USER}\r\nSubject: ${tag} question ${n}\r\n` +
    `Date: ${new Date().toUTCString()}\r\nMessage-ID: ${id}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
    `Hello,\r\nthis is message ${n}. My card does not work since yesterday, could you please help me?\r\nRegards\r\n`;
  return { from, id, raw };
}

function writeConfig(dir, sinkPort, lmtpPort, imapPort) {
  const file = path.join(dir, 'mailwarden.yaml');
  const imap = imapPort ? { imap: { host: '127.0.0.1', port: imapPort, tls: false, user: USER, password: 'secret' } } : {};
  fs.writeFileSync(
    file,
    YAML.stringify({
      instance: {
        name: 'Bench',
        case_prefix: 'BENCH',
        data_dir: path.join(dir, 'data'),
        log_level: 'info',
        secret: 'bench-secret-0123456789-abcdefghijklmnop',
      },
      smtp: { transport: 'smtp', host: '127.0.0.1', port: sinkPort, starttls: 'refused' },
      auto_response: { box_cap: 1_000_000 },
      ingest: { poll_interval: '60s', idle: true, listener: { enabled: true, protocol: 'lmtp', host: '127.0.0.1', port: lmtpPort } },
      pools: [{ id: 'general', name: 'General', response_deadline: '8h', languages: ['en', 'pl'] }],
      mailboxes: [{ id: 'desk', address: USER, pool: 'general', ...imap }],
      consultants: [
        { id: 'sam', name: 'Sam', email: 'sam@staff.test', roles: ['consultant', 'supervisor', 'admin'], pools: [{ pool: 'general', priority: 1 }] },
      ],
    }),
  );
  return file;
}

function startDaemon(configPath) {
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF] : [];
  const proc = spawn(process.execPath, [...prof, path.join(ROOT, 'bin/mailwarden'), 'run', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ready = new Promise((resolve, reject) => {
    let buf = '';
    proc.stderr.on('data', (d) => {
      if (process.env.BENCH_VERBOSE) process.stderr.write(d);
      buf = (buf + d).slice(-8000);
      if (buf.includes('"daemon ready"')) resolve(Date.now());
    });
    proc.once('exit', (code) => reject(new Error(`daemon exited ${code}: ${buf.slice(-2000)}`)));
  });
  const stop = async () => {
    if (proc.exitCode !== null) return;
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  };
  return { proc, ready, stop };
}

const lmtpClient = (port) =>
  nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true, pool: true, maxConnections: 1, maxMessages: Infinity });

/** LMTP: start -> 250 and start -> auto-response, one message at a time on one reused connection. */
async function lmtpLatency(env) {
  const lmtp = lmtpClient(env.lmtpPort);
  await lmtp.sendMail({ envelope: { from: 'warm@customers.test', to: [USER] }, raw: message(0, `warm${env.round}`).raw });
  const to250 = [];
  const toAuto = [];
  for (let i = 0; i < SAMPLES; i++) {
    const m = message(i, `lat${env.round}`);
    const t0 = Date.now();
    await lmtp.sendMail({ envelope: { from: m.from, to: [USER] }, raw: m.raw });
    to250.push(Date.now() - t0);
    toAuto.push((await env.sink.arrival(m.from)) - t0);
    await sleep(20);
  }
  lmtp.close();
  return { 'LMTP start -> 250, p50 (ms)': median(to250), 'LMTP start -> auto-response at the SMTP server, p50 (ms)': median(toAuto) };
}

/** LMTP throughput: `senders` reused connections hand over `count` messages from new customers. */
async function lmtpThroughput(env, senders, count, tag) {
  const clients = Array.from({ length: senders }, () => lmtpClient(env.lmtpPort));
  await Promise.all(clients.map((c, i) => c.sendMail({ envelope: { from: 'warm@customers.test', to: [USER] }, raw: message(i, `warm${tag}`).raw })));
  const msgs = Array.from({ length: count }, (_, i) => message(i, tag));
  let next = 0;
  const t0 = Date.now();
  let last250 = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (next < count) {
        const m = msgs[next++];
        await c.sendMail({ envelope: { from: m.from, to: [USER] }, raw: m.raw });
        last250 = Date.now();
      }
    }),
  );
  let lastAuto = 0;
  for (const m of msgs) lastAuto = Math.max(lastAuto, await env.sink.arrival(m.from));
  clients.forEach((c) => c.close());
  return { to250: count / ((last250 - t0) / 1000), toAuto: count / ((lastAuto - t0) / 1000) };
}

/** IDLE: one APPEND at a time to the idle daemon; to the case's commit and to its auto-response. */
async function idleLatency(env) {
  const byId = env.db.prepare('select at from inbound where message_id = ?');
  const toCase = [];
  const toAuto = [];
  for (let i = 0; i < SAMPLES; i++) {
    const m = message(i, `idle${env.round}`);
    await env.imap.append('INBOX', m.raw);
    const t0 = Date.now();
    const wall0 = Date.now();
    const auto = await env.sink.arrival(m.from);
    toAuto.push(auto - t0);
    toCase.push(Date.parse(byId.get(m.id).at) - wall0);
    await sleep(100 + Math.random() * 300);
  }
  return { 'IDLE: APPEND -> case committed, p50 (ms)': median(toCase), 'IDLE: APPEND -> auto-response at the SMTP server, p50 (ms)': median(toAuto) };
}

async function withDesk(round, { imap, seed }, fn) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-flow-'));
  const sink = await startSink();
  const dovecot = imap
    ? await startDovecot(base, [USER]).catch((err) => {
        sink.stop();
        fs.rmSync(base, { recursive: true, force: true });
        throw err;
      })
    : null;
  const dir = path.join(base, 'desk');
  fs.mkdirSync(dir);
  const lmtpPort = await freePort();
  const configPath = writeConfig(dir, sink.port, lmtpPort, dovecot?.port);
  let client = null;
  let daemon = null;
  try {
    if (seed !== undefined) {
      // A first start makes the schema and a few real cases, the seed's templates; the seed goes
      // in while no daemon runs. The empty database gets the same few cases, and no seed.
      daemon = startDaemon(configPath);
      await daemon.ready;
      await lmtpThroughput({ sink, lmtpPort }, 1, 20, `prime${round}`);
      await daemon.stop();
      if (seed > 0) console.error('  seeded', JSON.stringify(seedCases(path.join(dir, 'data', 'mailwarden.sqlite'), seed)));
    }
    if (dovecot) {
      client = new ImapFlow({ host: '127.0.0.1', port: dovecot.port, secure: false, auth: { user: USER, pass: 'secret' }, logger: false });
      client.on('error', () => {});
      await client.connect();
    }
    const env = { round, sink, lmtpPort, imap: client, configPath, start: () => (daemon = startDaemon(configPath)) };
    env.openDb = () => (env.db = new Database(path.join(dir, 'data', 'mailwarden.sqlite'), { readonly: true, fileMustExist: true }));
    return await fn(env);
  } finally {
    await daemon?.stop();
    await client?.logout().catch(() => client.close());
    dovecot?.stop();
    sink.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }
}

async function round(r) {
  const out = {};
  if (ONLY.includes('drain') || ONLY.includes('idle')) {
    await withDesk(r, { imap: true }, async (env) => {
      for (let i = 0; i < DRAIN; i++) await env.imap.append('INBOX', message(i, `bulk${r}`).raw);
      const ready = await env.start().ready;
      await env.sink.untilReceived(DRAIN);
      const last = Math.max(...env.sink.arrivals.values());
      out['IMAP drain to last auto-response (msg/s)'] = DRAIN / ((last - ready) / 1000);
      env.openDb();
      await sleep(1000);
      if (ONLY.includes('idle')) Object.assign(out, await idleLatency(env));
      env.db.close();
    });
  }
  if (ONLY.includes('lmtp')) {
    await withDesk(r, { imap: false }, async (env) => {
      await env.start().ready;
      Object.assign(out, await lmtpLatency(env));
      const one = await lmtpThroughput(env, 1, LMTP, `one${r}`);
      const four = await lmtpThroughput(env, 4, LMTP, `four${r}`);
      out['LMTP one sender, reused connection, to last 250 (msg/s)'] = one.to250;
      out['LMTP one sender, to last auto-response (msg/s)'] = one.toAuto;
      out['LMTP 4 senders, to last 250 (msg/s)'] = four.to250;
      out['LMTP 4 senders, to last auto-response (msg/s)'] = four.toAuto;
    });
  }
  if (ONLY.includes('scale')) {
    const rate = async (seed) =>
      withDesk(r, { imap: false, seed }, async (env) => {
        await env.start().ready;
        return (await lmtpThroughput(env, 4, LMTP, `scale${seed}`)).to250;
      });
    const empty = await rate(0);
    const full = await rate(CASES);
    out[`ingest rate at ${CASES} cases / empty database`] = full / empty;
  }
  return out;
}

const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  rounds.push(await round(r));
  console.error(`round ${r + 1}:`, JSON.stringify(rounds.at(-1)));
}
console.log(`\nbench/flow (${ROOT}), medians of ${ROUNDS} rounds, load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
for (const key of Object.keys(rounds[0])) {
  const v = median(rounds.map((o) => o[key]));
  console.log(`  ${key.padEnd(62)} ${v < 10 ? v.toFixed(2) : v.toFixed(0)}`);
}
