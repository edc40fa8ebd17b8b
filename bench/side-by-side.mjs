#!/usr/bin/env node
// bench/side-by-side: issue 18's table in one run — mailwarden (this checkout's dist/) beside the
// floor it is measured on, each figure the median of --rounds rounds. The floor is Dovecot's own
// LMTP delivering the same mail durably into a Maildir (started as the test harness starts it, see
// bench/lib/dovecot.mjs); the other peers are named in the table. Prints figures, asserts nothing.
//   npx tsc -p tsconfig.json && node bench/side-by-side.mjs [--rounds 3] [--only lmtp,imap,cli,rss,scale]
//     [--messages 1000] [--warm 2000] [--drain 2000] [--samples 15] [--cases 100000] [--settle 20] [--quiet 35]
// The machine may be shared: the load average is printed before and after, and per round.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopAllDaemons } from './lib/daemon.mjs';
import { startDovecot } from './lib/dovecot.mjs';
import { cliFigures, peerDescription, seedDesk } from './lib/figures-cli.mjs';
import { imapFigures, ingestAtScale, lmtpFigures, rssFigures } from './lib/figures-mail.mjs';
import { median } from './lib/measure.mjs';
import { startSink } from './lib/sink.mjs';
import { countOption, numberOption, option } from './lib/args.mjs';

const opts = {
  rounds: countOption('rounds', 3),
  only: new Set(option('only', 'lmtp,imap,cli,rss,scale').split(',')),
  messages: countOption('messages', 1000),
  warm: countOption('warm', 2000),
  drain: countOption('drain', 2000),
  samples: countOption('samples', 15),
  cases: numberOption('cases', 100_000),
  settle: numberOption('settle', 20),
  // Seconds without mail before the LMTP "after a quiet spell" rows (the parser thread retires after 30 s).
  quiet: numberOption('quiet', 35),
};
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

// What each figure is, its unit, whether more is better, its peer, and the issue's target.
const FIGURES = [
  ['lmtp1', 'LMTP, one sender, reused connection (daemon just started)', 'msg/s', true, 'Dovecot LMTP → Maildir', '≥ 0.7×'],
  ['lmtp1Cycle', "  one message's whole cycle in that run (1 ÷ rate)", 'ms', false, 'Dovecot LMTP → Maildir', '(not in the issue)'],
  ['lmtp1Daemon', '  of which in the daemon, bytes taken → accept committed, mean', 'ms', false, '—', '(not in the issue)'],
  ['lmtp1Cpu', '  daemon CPU per message in that run, all threads', 'ms', false, '—', '(not in the issue)'],
  ['lmtp1Bare', '  the same run on a desk that sends no auto-response (box cap 0)', 'msg/s', true, 'Dovecot LMTP → Maildir', '(not in the issue)'],
  ['lmtp1BareCpu', '  daemon CPU per message in that run, all threads', 'ms', false, '—', '(not in the issue)'],
  ['lmtp4', 'LMTP, 4 senders (daemon just started)', 'msg/s', true, 'Dovecot LMTP → Maildir', '≥ 0.7×'],
  ['lmtp1warm', `LMTP, one sender, after ${opts.warm} messages`, 'msg/s', true, 'Dovecot LMTP → Maildir', '≥ 0.7×'],
  ['lmtp1warmDaemon', '  of which in the daemon, bytes taken → accept committed, mean', 'ms', false, '—', '(not in the issue)'],
  ['lmtp1warmCpu', '  daemon CPU per message in that run, all threads', 'ms', false, '—', '(not in the issue)'],
  ['lmtp4warm', `LMTP, 4 senders, after ${opts.warm} messages`, 'msg/s', true, 'Dovecot LMTP → Maildir', '≥ 0.7×'],
  ['drain', `IMAP drain, ${opts.drain} pre-loaded, to last auto-response`, 'msg/s', true, 'fetch+fsync+send script', '≥ 250 msg/s'],
  ['drainCpu', '  daemon CPU per message in that drain, all threads', 'ms', false, '—', '(not in the issue)'],
  ['drainWarm', `IMAP drain, ${opts.drain} more moved in at once, daemon warm`, 'msg/s', true, 'fetch+fsync+send script', '(not in the issue)'],
  ['drainWarmCpu', '  daemon CPU per message in that drain, all threads', 'ms', false, '—', '(not in the issue)'],
  ['idleCase', 'IDLE: APPEND → case committed, p50', 'ms', false, "Dovecot's IDLE notice", 'keep'],
  ['idleAuto', 'IDLE: APPEND → auto-response at the SMTP server, p50', 'ms', false, "Dovecot's IDLE notice", '≤ 550 ms'],
  ['lmtp250', 'LMTP: start → 250, p50 (daemon just started)', 'ms', false, 'Dovecot LMTP start → 250', '≤ 15 ms'],
  ['lmtp250warm', `LMTP: start → 250, p50, after ${opts.warm} messages`, 'ms', false, 'Dovecot LMTP start → 250', '≤ 15 ms'],
  ['lmtpAuto', 'LMTP: start → auto-response at the SMTP server, p50', 'ms', false, '—', '≤ 40 ms'],
  ['lmtpQuiet', `LMTP: start → 250, one mail after ${opts.quiet} s without any`, 'ms', false, 'Dovecot LMTP, the same', '(not in the issue)'],
  ['lmtpQuietAuto', `LMTP: start → auto-response, one mail after ${opts.quiet} s without any`, 'ms', false, '—', '(not in the issue)'],
  ['casesTable', `\`cases\` (table) at ${opts.cases} cases`, 'ms', false, 'PEER_READ', '≤ 250 ms'],
  ['casesJson', `\`cases --json\` at ${opts.cases} cases`, 'ms', false, 'PEER_READ', '≤ 250 ms'],
  ['help', '`mailwarden --help`', 'ms', false, 'bare `node -e 0`', '≤ 2×'],
  ['casesEmpty', '`cases` on an empty database', 'ms', false, 'bare `node -e 0`', '≤ 2×'],
  ['next8', `\`next --json\`, 8 consultants at once at ${opts.cases} open, p50`, 'ms', false, '8 bare node starts at once, p50', '≤ 2×'],
  ['rss', 'daemon RSS idle with 10 boxes', 'MB', false, 'node + 10 imapflow IDLE', '≤ 100 MB'],
  ['scale', `ingest rate at ${opts.cases} cases (vs an empty database)`, 'msg/s', true, 'same, empty database', '≥ 0.97×'],
];

const GROUPS = [
  ['lmtp', lmtpFigures],
  ['imap', imapFigures],
  ['cli', cliFigures],
  ['rss', rssFigures],
  ['scale', ingestAtScale],
];

function printTable(results, loads) {
  const fmt = (x, unit) => (Number.isFinite(x) ? (unit === 'MB' ? x.toFixed(1) : x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '—');
  console.log(
    `\n## bench/side-by-side: medians of ${loads.length} round(s) (the ratio: median of the rounds' ratios), ${os.cpus().length} CPUs, node ${process.version}`,
  );
  console.log(`load average per round: ${loads.join(' | ')}\n`);
  console.log('| figure | mailwarden | floor / peer | peer is | mailwarden ÷ peer | target |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [key, label, unit, , peerName, target] of FIGURES) {
    const r = results.get(key);
    if (!r) continue;
    const mw = median(r.mw);
    const peer = median(r.peer);
    // Each round's two figures were taken side by side on the same machine state: the ratio is
    // the median of each round's ratio, not one median over the other (a slow round for both
    // would otherwise pair one round's figure with another's).
    const ratios = r.mw.map((m, i) => m / r.peer[i]).filter(Number.isFinite);
    const ratio = ratios.length ? `${median(ratios).toFixed(2)}×` : '—';
    const name = peerName === 'PEER_READ' ? `${peerDescription()}, same rows` : peerName;
    console.log(`| ${label} | ${fmt(mw, unit)} ${unit} | ${fmt(peer, unit)}${Number.isFinite(peer) ? ` ${unit}` : ''} | ${name} | ${ratio} | ${target} |`);
  }
}

async function setUp(base) {
  const rounds = Array.from({ length: opts.rounds }, (_, i) => `drain${i}@bench.test`);
  const rssUsers = Array.from({ length: 10 }, (_, i) => `box${i + 1}@bench.test`);
  const peerUser = 'floor@bench.test';
  // The LMTP floor's rates, each into an empty Maildir of its own (see lmtpFigures).
  const floorUser = (round, which) => `floor${round}${which}@bench.test`;
  const floorUsers = Array.from({ length: opts.rounds }, (_, i) => [floorUser(i, 'a'), floorUser(i, 'b')]).flat();
  const dovecot = await startDovecot(path.join(base, 'dovecot'), [peerUser, ...floorUsers, ...rounds, ...rssUsers]);
  const sink = await startSink();
  const env = { base, dovecot, sink, peerUser, floorUser, rssUsers, consultants: Array.from({ length: 8 }, (_, i) => `c${i + 1}`) };
  if (opts.only.has('cli') || opts.only.has('scale')) {
    const t0 = Date.now();
    env.scale = await seedDesk(path.join(base, 'scale-desk'), opts.cases);
    env.seededDb = env.scale.dbFile;
    env.empty = await seedDesk(path.join(base, 'empty-desk'), 0);
    console.log(`seeded ${opts.cases} open cases in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  return env;
}

async function main() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-sbs-'));
  // Dovecot's internal user must traverse the whole path to its instance dir (notes, gotcha 3).
  fs.chmodSync(base, 0o755);
  fs.mkdirSync(path.join(base, 'dovecot'));
  console.log(`load average at start: ${loadavg()}`);
  let env;
  const stopAll = async () => {
    stopAllDaemons();
    await env?.dovecot.stop();
    await env?.sink.stop();
    fs.rmSync(base, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => stopAll().finally(() => process.exit(130)));
  process.once('exit', stopAllDaemons);
  const results = new Map();
  const loads = [];
  try {
    env = await setUp(base);
    for (let round = 0; round < opts.rounds; round++) {
      loads.push(loadavg());
      for (const [group, run] of GROUPS) {
        if (!opts.only.has(group)) continue;
        const t0 = Date.now();
        for (const row of await run(env, round, opts)) {
          const r = results.get(row.key) ?? { mw: [], peer: [] };
          r.mw.push(row.mw);
          r.peer.push(row.peer);
          results.set(row.key, r);
          console.log(`round ${round + 1} ${row.key}: mailwarden ${row.mw?.toFixed(1)}, peer ${row.peer?.toFixed(1)}`);
        }
        console.log(`  (${group} took ${((Date.now() - t0) / 1000).toFixed(0)} s; load ${loadavg()})`);
      }
      // The table so far after each round: a run cut short still leaves its figures.
      if (round + 1 < opts.rounds) printTable(results, loads);
    }
  } finally {
    await stopAll();
  }
  printTable(results, loads);
  console.log(`\nload average at end: ${loadavg()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
