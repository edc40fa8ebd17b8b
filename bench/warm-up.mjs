#!/usr/bin/env node
// bench/warm-up: how a just-started daemon's LMTP rate climbs to its steady rate, and how much of
// that climb is V8 compiling. Why: side-by-side's "daemon just started" rows (its first 1,000
// messages) sit well below the rows taken after 2,000 messages, and the daemon's CPU time per
// message with them; this shows the curve, chunk by chunk, beside the optimizing compiles V8
// finished in each chunk (all isolates: main thread, parser and file threads) and the time they
// took. The daemon runs with --trace-opt for the count (its lines go to a file; about 1,600 lines
// in a run of 3,000 messages); `--no-trace` runs it without, for the curve alone. The CPU time is
// also split by thread (the names of src/thread-name.ts): main, mw-file, mw-parser, mw-checkpoint,
// and Node's helpers, where V8's optimizing compiler and its concurrent GC run.
// `--without-auto-responses` sets the box's cap to 0, so nothing is queued or sent: the same
// mail with the auto-response's share of the cost taken out (each message still counts the box's
// auto-responses, finds the cap reached and says so in its log line).
// Each chunk also says where a message's time in the daemon went, as the mean of about its
// messages' `timing` (the ingest.accepted lines read so far: a line and its 250 may arrive in
// either order), from the bytes taken: parsed, durable, and the accept
// transaction's own length; the 250 goes out at its commit, after both of the first two.
// One sender over one reused LMTP connection (`--senders 4`: four, each over its own), a new
// customer per mail (so a case and an auto-response each, to a local SMTP sink). Needs no
// Dovecot. Prints figures, asserts nothing.
//   node bench/warm-up.mjs [--messages 3000] [--chunk 200] [--rounds 3] [--senders 1] [--no-trace] [--without-auto-responses]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { freePort } from './pg.mjs';
import { customerMail, NAMED_THREADS, startDaemon, stopAllDaemons, threadCpuMs } from './lib/daemon.mjs';
import { writeDeskConfig } from './lib/figures-mail.mjs';
import { median } from './lib/measure.mjs';
import { startSink } from './lib/sink.mjs';
import { countOption } from './lib/args.mjs';

const opts = {
  messages: countOption('messages', 3000),
  chunk: countOption('chunk', 200),
  rounds: countOption('rounds', 3),
  senders: countOption('senders', 1),
  trace: !process.argv.includes('--no-trace'),
  autoResponses: !process.argv.includes('--without-auto-responses'),
};
/** The columns of the CPU split, in the order printed. */
const THREADS = ['main', ...NAMED_THREADS, 'helpers'];
/** A message's steps in the daemon, as bench/lib/daemon's acceptedTiming names them, in the order printed. */
const STEPS = ['parsed', 'durable', 'accept'];
const BOX = 'help@bench.test';

/** Reads what V8 appended to its trace since the last call: the optimizing compiles finished and their milliseconds. */
function compileReader(file) {
  let offset = 0;
  let rest = '';
  return () => {
    if (!file) return { compiles: NaN, ms: NaN };
    const fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(size - offset);
    fs.readSync(fd, buf, 0, buf.length, offset);
    fs.closeSync(fd);
    offset = size;
    const lines = (rest + buf.toString('utf8')).split('\n');
    rest = lines.pop();
    let compiles = 0;
    let ms = 0;
    for (const line of lines) {
      // Node 20's V8: "[completed compiling 0x… <JSFunction f (sfi = …)> (target TURBOFAN) - took 0.05, 6.97, 0.05 ms]"
      const m = /^\[completed compiling .* took ([\d.]+), ([\d.]+), ([\d.]+) ms\]/.exec(line);
      if (!m) continue;
      compiles++;
      ms += Number(m[1]) + Number(m[2]) + Number(m[3]);
    }
    return { compiles, ms };
  };
}

async function oneRound(round, sink) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-warm-'));
  try {
    const port = await freePort();
    const cfg = writeDeskConfig(dir, { sink }, { boxes: [{ id: 'help', address: BOX }], lmtpPort: port, ...(opts.autoResponses ? {} : { boxCap: 0 }) });
    const traceFile = opts.trace ? path.join(dir, 'v8-trace.txt') : undefined;
    const d = startDaemon(cfg, opts.trace ? { nodeArgs: ['--trace-opt'], stdoutFile: traceFile } : {});
    const answered = sink.received;
    const chunks = [];
    try {
      await d.ready;
      const readCompiles = compileReader(traceFile);
      readCompiles(); // what start-up compiled is not the messages'
      const transports = Array.from({ length: opts.senders }, () =>
        nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true, pool: true, maxConnections: 1 }),
      );
      let t0 = Date.now();
      let cpu0 = threadCpuMs(d.proc.pid);
      let next = 0;
      let sent = 0;
      // Each sender takes the next message number and sends it; a chunk ends at every opts.chunk-th answer.
      const endChunk = () => {
        const now = Date.now();
        const cpu = threadCpuMs(d.proc.pid);
        const split = Object.fromEntries(THREADS.map((k) => [k, (cpu[k] - cpu0[k]) / opts.chunk]));
        const cpuPerMsg = THREADS.reduce((a, k) => a + split[k], 0);
        const steps = meanSteps(d.log.acceptedTiming.slice(sent - opts.chunk, sent));
        chunks.push({ upTo: sent, rate: (opts.chunk * 1000) / (now - t0), cpuMs: cpuPerMsg, split, steps, ...readCompiles() });
        t0 = now;
        cpu0 = cpu;
      };
      try {
        await Promise.all(
          transports.map(async (t) => {
            for (let i = next++; i < opts.messages; i = next++) {
              const m = customerMail(i, `w${round}`, BOX);
              await t.sendMail({ envelope: { from: m.from, to: [BOX] }, raw: m.raw });
              if (++sent % opts.chunk === 0) endChunk();
            }
          }),
        );
      } finally {
        for (const t of transports) t.close();
      }
      if (opts.autoResponses) await sink.untilReceived(answered + opts.messages);
    } finally {
      await d.stop();
    }
    return chunks;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function printRound(round, chunks) {
  console.log(
    `\nround ${round + 1}: messages | msg/s | daemon CPU ms/msg (${THREADS.join(' + ')}) | in the daemon, ms: ${STEPS.join(' / ')} | optimizing compiles | their ms`,
  );
  for (const c of chunks) {
    console.log(
      `  ${String(c.upTo - opts.chunk + 1).padStart(5)}-${String(c.upTo).padEnd(5)} | ${c.rate.toFixed(0).padStart(4)} | ${cpuColumns(c.cpuMs, c.split)} | ${stepColumns(c.steps)} | ${c.compiles} | ${c.ms.toFixed(0)}`,
    );
  }
  const steady = median(chunks.slice(-3).map((c) => c.rate));
  const reached = chunks.find((c) => c.rate >= 0.9 * steady);
  const total = chunks.reduce((a, c) => ({ compiles: a.compiles + c.compiles, ms: a.ms + c.ms }), { compiles: 0, ms: 0 });
  const first = chunks.filter((c) => c.upTo <= 1000).reduce((a, c) => a + c.ms, 0);
  console.log(`  steady rate (median of the last 3 chunks) ${steady.toFixed(0)} msg/s; 90% of it first in the chunk ending at message ${reached?.upTo ?? '—'}`);
  if (opts.trace)
    console.log(
      `  optimizing compiles after start: ${total.compiles}, ${(total.ms / 1000).toFixed(2)} s of compile time, ${((100 * first) / total.ms).toFixed(0)}% of it in the first 1,000 messages`,
    );
}

/** The mean of each step over a chunk's messages (ms from the bytes taken; accept: its own length). */
function meanSteps(timings) {
  return Object.fromEntries(STEPS.map((k) => [k, timings.reduce((a, t) => a + t[k], 0) / timings.length]));
}

/** "2.1 / 3.4 / 1.9": parsed / durable / accept, ms. */
function stepColumns(steps) {
  return STEPS.map((k) => steps[k].toFixed(1)).join(' / ');
}

/** "6.21 (3.10 + 0.60 + …)": the daemon's CPU ms per message, then the same by thread. */
function cpuColumns(total, split) {
  return `${total.toFixed(2)} (${THREADS.map((k) => split[k].toFixed(2)).join(' + ')})`;
}

async function main() {
  console.log(
    `bench/warm-up: ${opts.messages} messages, ${opts.senders === 1 ? 'one LMTP sender' : `${opts.senders} LMTP senders`}, ${opts.autoResponses ? 'an auto-response each' : 'no auto-responses'}, chunks of ${opts.chunk}, ${os.cpus().length} CPUs, node ${process.version}; load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const sink = await startSink();
  process.once('exit', stopAllDaemons);
  const rounds = [];
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const chunks = await oneRound(round, sink);
      printRound(round, chunks);
      rounds.push(chunks);
    }
  } finally {
    await sink.stop();
  }
  if (rounds.length > 1) {
    console.log(
      `\nmedian over ${rounds.length} rounds: messages | msg/s | daemon CPU ms/msg (${THREADS.join(' + ')}) | in the daemon, ms: ${STEPS.join(' / ')} (each its own median)`,
    );
    rounds[0].forEach((c, i) => {
      const at = rounds.map((r) => r[i]);
      const split = Object.fromEntries(THREADS.map((k) => [k, median(at.map((x) => x.split[k]))]));
      const steps = Object.fromEntries(STEPS.map((k) => [k, median(at.map((x) => x.steps[k]))]));
      console.log(
        `  up to ${String(c.upTo).padEnd(5)} | ${median(at.map((x) => x.rate))
          .toFixed(0)
          .padStart(4)} | ${cpuColumns(median(at.map((x) => x.cpuMs)), split)} | ${stepColumns(steps)}`,
      );
    });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
