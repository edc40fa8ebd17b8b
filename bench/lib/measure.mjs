// bench/lib/measure: the small timing tools the side-by-side bench shares — LMTP senders over
// nodemailer (one reused connection each, as an MTA's connection cache does), process starts
// timed from spawn to exit, percentiles and medians.
import { spawn } from 'node:child_process';
import nodemailer from 'nodemailer';
import { customerMail } from './daemon.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const pct = (values, p) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
};
export const median = (values) => pct(values.filter(Number.isFinite), 0.5);

/** `n` mails from new customers to `rcpt` over LMTP with `senders` connections: msg/s to the last 250. */
export async function lmtpRate(port, rcpt, n, senders, tag) {
  let next = 0;
  let last = 0;
  const first = Date.now();
  const sender = async () => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true, pool: true, maxConnections: 1 });
    try {
      for (let i = next++; i < n; i = next++) {
        const m = customerMail(i, tag, rcpt);
        await t.sendMail({ envelope: { from: m.from, to: [rcpt] }, raw: m.raw });
        last = Math.max(last, Date.now());
      }
    } finally {
      t.close();
    }
  };
  await Promise.all(Array.from({ length: senders }, sender));
  return n / ((last - first) / 1000);
}

/**
 * `samples` single mails over one reused LMTP connection, a pause between them: start → 250 (ms)
 * each, and, when `sink` is given, start → the auto-response's arrival at the SMTP server.
 */
export async function lmtpLatency(port, rcpt, samples, tag, sink) {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true, pool: true, maxConnections: 1 });
  const warm = customerMail(0, `${tag}w`, rcpt);
  await t.sendMail({ envelope: { from: warm.from, to: [rcpt] }, raw: warm.raw });
  const accepted = [];
  const answered = [];
  try {
    for (let i = 0; i < samples; i++) {
      const m = customerMail(i, tag, rcpt);
      const t0 = Date.now();
      await t.sendMail({ envelope: { from: m.from, to: [rcpt] }, raw: m.raw });
      accepted.push(Date.now() - t0);
      if (sink) answered.push((await sink.arrival(m.from)) - t0);
      await sleep(100 + Math.random() * 200);
    }
  } finally {
    t.close();
  }
  return { accepted, answered };
}

/** Wall time (ms) from spawn to exit of `cmd args`, stdout read and dropped; throws on non-zero exit. */
export function timed(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let err = '';
    child.stdout.on('data', (d) => (bytes += d.length));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-500)}`));
      else resolve({ ms, bytes });
    });
  });
}
