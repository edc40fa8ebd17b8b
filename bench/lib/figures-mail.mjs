// bench/lib/figures-mail: the mail-path figures of bench/side-by-side, each one round of
// mailwarden (this checkout's dist/) beside its floor: Dovecot's own LMTP delivering into a
// Maildir, a fetch+fsync+send script over IMAP, Dovecot's IDLE notice, a bare node process with
// the same IMAP connections. Every function returns { rows: [{ key, mw, peer }] }.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import YAML from 'yaml';
import { freePort } from '../pg.mjs';
import { cpuMs, customerMail, rssMb, startDaemon } from './daemon.mjs';
import { lmtpLatency, lmtpRate, pct, sleep } from './measure.mjs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BOX = 'help@bench.test';
const imapOf = (env, user) => ({ host: '127.0.0.1', port: env.dovecot.port, tls: false, user, password: 'secret' });

/**
 * A one-pool desk; `boxes` = [{ id, address, user? }] (user: the box is read over IMAP); `env` needs
 * `sink` (and `dovecot` for IMAP boxes). `boxCap`: the box's auto-response cap (0: none sent).
 */
export function writeDeskConfig(dir, env, { boxes, lmtpPort, boxCap = 1_000_000 }) {
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
    smtp: { transport: 'smtp', host: '127.0.0.1', port: env.sink.port },
    // Thousands of new customers in minutes is the benchmark's load, not a loop: lift the box's cap.
    auto_response: { box_cap: boxCap },
    ingest: {
      poll_interval: '60s',
      idle: true,
      ...(lmtpPort ? { listener: { enabled: true, protocol: 'lmtp', host: '127.0.0.1', port: lmtpPort } } : {}),
    },
    pools: [{ id: 'general', name: 'General', response_deadline: '8h', languages: ['en', 'pl'] }],
    mailboxes: boxes.map((b) => ({ id: b.id, address: b.address, pool: 'general', ...(b.user ? { imap: imapOf(env, b.user) } : {}) })),
    consultants: [{ id: 'sam', name: 'Sam', email: 'sam@staff.test', roles: ['consultant', 'supervisor', 'admin'], pools: [{ pool: 'general', priority: 1 }] }],
  };
  fs.writeFileSync(file, YAML.stringify(doc));
  return file;
}

async function withDaemon(configPath, fn) {
  const d = startDaemon(configPath);
  try {
    const readyAt = await d.ready;
    return await fn(d, readyAt);
  } finally {
    await d.stop();
    if (d.log.warn || d.log.error) console.log(`  daemon: ${d.log.warn} warn, ${d.log.error} error lines, e.g. ${[...d.log.samples].join(' | ')}`);
  }
}

/**
 * One mail after `quiet` seconds without any, on a new connection: start → 250 and, with `sink`,
 * start → the auto-response. A desk that gets a mail every few minutes meets this case on most
 * mails (mailwarden's parser thread retires after 30 s without work; Dovecot's processes idle too).
 */
async function afterQuiet(port, rcpt, quiet, tag, sink) {
  await sleep(quiet * 1000);
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true });
  try {
    const m = customerMail(0, tag, rcpt);
    const t0 = Date.now();
    await t.sendMail({ envelope: { from: m.from, to: [rcpt] }, raw: m.raw });
    const accepted = Date.now() - t0;
    return { accepted, answered: sink ? (await sink.arrival(m.from)) - t0 : NaN };
  } finally {
    t.close();
  }
}

/**
 * LMTP: start → 250 and → auto-response (p50), then one sender and 4 senders (msg/s), first on the
 * daemon just started, then again once it has taken `opts.warm` more messages: V8 compiles the hot
 * path while the first thousands of messages go through (about 2.5 ms of compiler time per message
 * over the first thousand, measured per thread), which Dovecot, compiled ahead, never pays. A
 * daemon runs for days, so the warm figures are its steady state; the first ones are printed too.
 * Last, one mail after a quiet spell (afterQuiet), beside Dovecot's the same.
 * The floor's rates are taken twice, before the daemon starts and again right after its first
 * runs, once it has sent their last auto-response (so idle), each time into an empty Maildir, and
 * each ratio divides by the mean of the two. Why: the floor used to share one mailbox across the
 * rounds while each round's desk starts empty, and its rate fell as that mailbox filled (one
 * sender, 5 rounds on 2026-12-04: 216 msg/s into the empty mailbox, 122 with 16,000 messages in
 * it); and on this shared VM the rate also moved by a third between runs two minutes apart, so a
 * floor taken once, a minute before mailwarden's run, paired it with another machine.
 */
export async function lmtpFigures(env, round, opts) {
  const tag = `l${round}x`;
  const peerLat = await lmtpLatency(env.dovecot.lmtpPort, env.peerUser, opts.samples, `${tag}pl`);
  const floor = (which, senders) => lmtpRate(env.dovecot.lmtpPort, env.floorUser(round, which), opts.messages, senders, `${tag}p${which}${senders}`);
  const peer1Before = await floor('a', 1);
  const peer4Before = await floor('a', 4);
  const peerQuiet = await afterQuiet(env.dovecot.lmtpPort, env.peerUser, opts.quiet, `${tag}pq`);
  const port = await freePort();
  const cfg = writeDeskConfig(path.join(env.base, `lmtp-${round}`), env, { boxes: [{ id: 'help', address: BOX }], lmtpPort: port });
  const answered = env.sink.received;
  const mw = await withDaemon(cfg, async (d) => {
    const lat = await lmtpLatency(port, BOX, opts.samples, `${tag}ml`, env.sink);
    const one = await oneSender(d, () => lmtpRate(port, BOX, opts.messages, 1, `${tag}m1`), opts.messages);
    const four = await lmtpRate(port, BOX, opts.messages, 4, `${tag}m4`);
    // One auto-response per mail so far (each from a new customer; lmtpLatency sends one more first).
    await untilAnswered(env.sink, answered + opts.samples + 1 + 2 * opts.messages);
    const peer1After = await floor('b', 1);
    const peer4After = await floor('b', 4);
    console.log(
      `  floor before / after mailwarden's first runs: 1 sender ${peer1Before.toFixed(0)} / ${peer1After.toFixed(0)}, 4 senders ${peer4Before.toFixed(0)} / ${peer4After.toFixed(0)} msg/s`,
    );
    await lmtpRate(port, BOX, opts.warm, 4, `${tag}mw`);
    const warmOne = await oneSender(d, () => lmtpRate(port, BOX, opts.messages, 1, `${tag}w1`), opts.messages);
    const warmFour = await lmtpRate(port, BOX, opts.messages, 4, `${tag}w4`);
    const warmLat = await lmtpLatency(port, BOX, opts.samples, `${tag}wl`, env.sink);
    const quiet = await afterQuiet(port, BOX, opts.quiet, `${tag}mq`, env.sink);
    return { lat, one, four, warmOne, warmFour, warmLat, quiet, peer1: (peer1Before + peer1After) / 2, peer4: (peer4Before + peer4After) / 2 };
  });
  const bare = await withoutAutoResponses(env, round, opts, tag);
  const { peer1, peer4 } = mw;
  return [
    { key: 'lmtp1', mw: mw.one.rate, peer: peer1 },
    { key: 'lmtp1Cycle', mw: 1000 / mw.one.rate, peer: 1000 / peer1 },
    { key: 'lmtp1Daemon', mw: mw.one.daemonMs, peer: NaN },
    { key: 'lmtp1Cpu', mw: mw.one.cpuMs, peer: NaN },
    { key: 'lmtp1Bare', mw: bare.rate, peer: peer1 },
    { key: 'lmtp1BareCpu', mw: bare.cpuMs, peer: NaN },
    { key: 'lmtp4', mw: mw.four, peer: peer4 },
    { key: 'lmtp1warm', mw: mw.warmOne.rate, peer: peer1 },
    { key: 'lmtp1warmDaemon', mw: mw.warmOne.daemonMs, peer: NaN },
    { key: 'lmtp1warmCpu', mw: mw.warmOne.cpuMs, peer: NaN },
    { key: 'lmtp4warm', mw: mw.warmFour, peer: peer4 },
    { key: 'lmtp250', mw: pct(mw.lat.accepted, 0.5), peer: pct(peerLat.accepted, 0.5) },
    { key: 'lmtp250warm', mw: pct(mw.warmLat.accepted, 0.5), peer: pct(peerLat.accepted, 0.5) },
    { key: 'lmtpAuto', mw: pct(mw.lat.answered, 0.5), peer: NaN },
    { key: 'lmtpQuiet', mw: mw.quiet.accepted, peer: peerQuiet.accepted },
    { key: 'lmtpQuietAuto', mw: mw.quiet.answered, peer: NaN },
  ];
}

/**
 * The one-sender run of a just-started daemon again, on a desk that sends no auto-response (box
 * cap 0: each mail still counts the box's auto-responses and finds the cap reached). Every bench
 * mail comes from a new customer, so the first run above queues and sends an auto-response per
 * message, which Dovecot's delivery does not; this shows what the rest of the work runs at. The
 * same latency samples go first, so both daemons have taken as many messages when the rate starts.
 */
async function withoutAutoResponses(env, round, opts, tag) {
  const port = await freePort();
  const cfg = writeDeskConfig(path.join(env.base, `lmtp-${round}-bare`), env, { boxes: [{ id: 'help', address: BOX }], lmtpPort: port, boxCap: 0 });
  return withDaemon(cfg, async (d) => {
    await lmtpLatency(port, BOX, opts.samples, `${tag}bl`);
    return oneSender(d, () => lmtpRate(port, BOX, opts.messages, 1, `${tag}b1`), opts.messages);
  });
}

/** Waits (at most a minute) for the SMTP sink to have received `n` mails in all. */
async function untilAnswered(sink, n) {
  const done = await Promise.race([sink.untilReceived(n).then(() => true), sleep(60_000).then(() => false)]);
  if (!done) console.log(`  the daemon had sent ${sink.received} of ${n} auto-responses after a minute; the floor is taken again anyway`);
}

/**
 * One sender's run (`send` resolves with its rate), with where a message's time went: the mean of
 * its messages' own time in the daemon (bytes taken → accept committed, from the log), the rest of
 * the cycle being the sender's and the LMTP commands' round trips; and the daemon's CPU time per
 * message, all threads. With one sender the daemon's CPU time is about the whole cycle: its steps
 * run one after another, each on a thread that the one before wakes.
 */
async function oneSender(d, send, n) {
  const cpu0 = cpuMs(d.proc.pid);
  const from = d.log.acceptedMs.length;
  const rate = await send();
  const cpu = (cpuMs(d.proc.pid) - cpu0) / n;
  const own = d.log.acceptedMs.slice(from, from + n);
  return { rate, daemonMs: own.reduce((a, b) => a + b, 0) / own.length, cpuMs: cpu };
}

function imapClient(env, user, extra = {}) {
  const c = new ImapFlow({ host: '127.0.0.1', port: env.dovecot.port, secure: false, auth: { user, pass: 'secret' }, logger: false, ...extra });
  c.on('error', () => {});
  return c;
}

/** The floor of the drain: fetch each message over IMAP, write + fsync it to a file, send one mail over SMTP. */
async function floorDrain(env, user, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  const client = imapClient(env, user);
  const smtp = nodemailer.createTransport({ host: '127.0.0.1', port: env.sink.port, ignoreTLS: true, pool: true, maxConnections: 1 });
  await client.connect();
  const lock = await client.getMailboxLock('INBOX');
  let n = 0;
  try {
    for await (const msg of client.fetch('1:*', { uid: true, source: true })) {
      const fd = fs.openSync(path.join(dir, `${msg.uid}.eml`), 'w');
      fs.writeSync(fd, msg.source);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      await smtp.sendMail({ envelope: { from: user, to: [`floor-${n}@bench.test`] }, raw: `Subject: re ${n}\r\n\r\nThanks.\r\n` });
      n++;
    }
  } finally {
    lock.release();
    smtp.close();
    await client.logout();
  }
  return n / ((Date.now() - t0) / 1000);
}

/**
 * IDLE peer: one client IDLEs, another APPENDs; APPEND done → the idler's EXISTS (ms). After each
 * notice the idler fetches the new message, which ends its IDLE, and IDLEs again: what a mail
 * client does, and what mailwarden does. Dovecot sends the notice 500 ms after the change that a
 * fresh IDLE sees (NOTIFY_DELAY_MSECS in its index-mailbox-check.c); an IDLE left running since
 * earlier changes (its own flag writes included) may have that timer already started, and then
 * reports sooner, which is the figure this peer gave before it fetched (about 200 ms).
 */
async function dovecotIdleNotice(env, samples) {
  const idler = imapClient(env, env.peerUser, { autoIdleDelay: 100 });
  const writer = imapClient(env, env.peerUser);
  await idler.connect();
  await writer.connect();
  await idler.mailboxOpen('INBOX');
  let seen = null;
  idler.on('exists', (e) => seen?.({ at: Date.now(), count: e.count }));
  const delays = [];
  try {
    await sleep(300);
    for (let i = 0; i < samples; i++) {
      const exists = new Promise((r) => (seen = r));
      await writer.append('INBOX', customerMail(i, 'peeridle', env.peerUser).raw);
      const appended = Date.now();
      const notice = await exists;
      delays.push(notice.at - appended);
      await idler.fetchOne(String(notice.count), { source: true });
      await sleep(100 + Math.random() * 400);
    }
  } finally {
    await idler.logout();
    await writer.logout();
  }
  return delays;
}

/**
 * IMAP: drain of `drain` pre-loaded messages to the last auto-response, on the daemon just
 * started; then the IDLE path; then a second drain of as many, moved into the box in one MOVE
 * once the daemon is warm (V8 has compiled its hot path: on the first drain that compiling is a
 * third of the daemon's CPU). Beside each drain, the daemon's CPU time per message, all threads.
 */
export async function imapFigures(env, round, opts) {
  const user = `drain${round}@bench.test`;
  const tag = `d${round}x`;
  const loader = imapClient(env, user);
  await loader.connect();
  for (let i = 0; i < opts.drain; i++) await loader.append('INBOX', customerMail(i, tag, user).raw);
  // The warm drain's mail waits in a folder the daemon does not watch.
  await loader.mailboxCreate('Staging');
  for (let i = 0; i < opts.drain; i++) await loader.append('Staging', customerMail(i, `${tag}w`, user).raw);
  const floor = await floorDrain(env, user, path.join(env.base, `floor-${round}`));
  const idlePeer = await dovecotIdleNotice(env, opts.samples);
  const dir = path.join(env.base, `imap-${round}`);
  const cfg = writeDeskConfig(dir, env, { boxes: [{ id: 'help', address: user, user }] });
  const lastAnswer = async (t) =>
    Math.max(...(await Promise.all(Array.from({ length: opts.drain }, (_, i) => env.sink.arrival(`${t}-customer${i}@bench.test`)))));
  const mw = await withDaemon(cfg, async (d, readyAt) => {
    const cpuAtReady = cpuMs(d.proc.pid);
    const rate = opts.drain / (((await lastAnswer(tag)) - readyAt) / 1000);
    const cpu = (cpuMs(d.proc.pid) - cpuAtReady) / opts.drain;
    const db = new Database(path.join(dir, 'data', 'mailwarden.sqlite'), { readonly: true, fileMustExist: true });
    const byId = db.prepare('select at from inbound where message_id = ?');
    const committed = [];
    const answered = [];
    try {
      await sleep(1000);
      for (let i = 0; i < opts.samples; i++) {
        const m = customerMail(i, `${tag}i`, user);
        await loader.append('INBOX', m.raw);
        const appended = Date.now();
        answered.push((await env.sink.arrival(m.from)) - appended);
        let row;
        while (!(row = byId.get(m.messageId))) await sleep(5);
        committed.push(Date.parse(row.at) - appended);
        await sleep(100 + Math.random() * 400);
      }
    } finally {
      db.close();
    }
    await loader.mailboxOpen('Staging');
    const cpuAtMove = cpuMs(d.proc.pid);
    const moved = Date.now();
    await loader.messageMove('1:*', 'INBOX');
    const warmRate = opts.drain / (((await lastAnswer(`${tag}w`)) - moved) / 1000);
    const warmCpu = (cpuMs(d.proc.pid) - cpuAtMove) / opts.drain;
    return { rate, cpu, warmRate, warmCpu, committed, answered };
  });
  await loader.logout();
  return [
    { key: 'drain', mw: mw.rate, peer: floor },
    { key: 'drainCpu', mw: mw.cpu, peer: NaN },
    { key: 'drainWarm', mw: mw.warmRate, peer: floor },
    { key: 'drainWarmCpu', mw: mw.warmCpu, peer: NaN },
    { key: 'idleCase', mw: pct(mw.committed, 0.5), peer: pct(idlePeer, 0.5) },
    { key: 'idleAuto', mw: pct(mw.answered, 0.5), peer: pct(idlePeer, 0.5) },
  ];
}

/** RSS of the idle daemon with 10 IMAP boxes vs a bare node process holding 10 IDLE connections. */
export async function rssFigures(env, round, opts) {
  const boxes = env.rssUsers.map((user, i) => ({ id: `box${i + 1}`, address: user, user }));
  const cfg = writeDeskConfig(path.join(env.base, `rss-${round}`), env, { boxes });
  const mw = await withDaemon(cfg, async (d) => {
    await sleep(opts.settle * 1000);
    return rssMb(d.proc.pid);
  });
  const script = fileURLToPath(new URL('./idle-peer.mjs', import.meta.url));
  const peer = spawn(process.execPath, [script, String(env.dovecot.port), ...env.rssUsers], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((resolve, reject) => {
      peer.stdout.on('data', (d) => d.toString().includes('idle') && resolve());
      peer.once('exit', (code) => reject(new Error(`idle peer exited ${code}`)));
    });
    await sleep(opts.settle * 1000);
    return [{ key: 'rss', mw, peer: rssMb(peer.pid) }];
  } finally {
    peer.kill('SIGTERM');
  }
}

/**
 * Ingest (4 LMTP senders) into a daemon over a database of `cases` cases vs an empty one, each
 * twice in a round, in the order empty, full, full, empty, and each side's mean. Why: in a run of
 * two rounds on the 2-core VM, one in each order, whichever went second was 6 and 7% faster (the
 * bench's own sender warming up, for one); taken once each in a fixed order, that showed as a gap
 * between the databases. Each run is a daemon just started.
 */
export async function ingestAtScale(env, round, opts) {
  const rate = async (label, seeded, turn) => {
    const dir = path.join(env.base, `scale-${label}-${round}-${turn}`);
    const port = await freePort();
    const cfg = writeDeskConfig(dir, env, { boxes: [{ id: 'help', address: BOX }], lmtpPort: port });
    if (seeded) {
      fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
      fs.copyFileSync(seeded, path.join(dir, 'data', 'mailwarden.sqlite'));
    }
    return withDaemon(cfg, () => lmtpRate(port, BOX, opts.messages, 4, `s${label}${round}t${turn}x`));
  };
  const empty1 = await rate('empty', null, 1);
  const full1 = await rate('full', env.seededDb, 1);
  const full2 = await rate('full', env.seededDb, 2);
  const empty2 = await rate('empty', null, 2);
  return [{ key: 'scale', mw: (full1 + full2) / 2, peer: (empty1 + empty2) / 2 }];
}
