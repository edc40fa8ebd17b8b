#!/usr/bin/env node
// bench/ab: is this tree faster than another commit? Rates on this 2-CPU machine drift by 15-20%
// within minutes (other tenants, the disk), so two runs an hour apart say nothing. This builds
// the other commit in a git worktree beside this one and alternates bench/warm-up runs between
// the two, in pairs, the order flipped every pair, and prints each pair and the mean of the
// per-pair ratios for each chunk: a change is worth keeping when that ratio beats the spread of
// the pairs, not one lucky run. Each side runs its own bench/warm-up.mjs, bin and build; the
// worktree borrows this tree's node_modules (say so when the two lock files differ). This tree
// is built first. Prints figures, asserts nothing.
//   node bench/ab.mjs --base <commit> [--pairs 5] [--messages 2000] [--chunk 1000] [--senders 1]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { countOption, option } from './lib/args.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const opts = {
  base: option('base', undefined),
  pairs: countOption('pairs', 5),
  messages: countOption('messages', 2000),
  chunk: countOption('chunk', 1000),
  senders: countOption('senders', 1),
};
if (!opts.base) {
  process.stderr.write(`${process.argv[1]}: --base <commit> names the build to compare this tree with.\n`);
  process.exit(64);
}

const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The other commit, checked out and built beside this tree. */
function buildBase(dir) {
  run('git', ['worktree', 'add', '--detach', dir, opts.base], ROOT);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const differs = run('git', ['diff', '--name-only', opts.base, '--', 'package-lock.json'], ROOT).trim() !== '';
  if (differs) console.log(`note: package-lock.json differs from ${opts.base}; both sides run this tree's node_modules`);
  run('npm', ['run', 'build'], dir);
}

/** One bench/warm-up run of the tree at `dir`: msg/s of each chunk. */
function rates(dir) {
  const args = ['--rounds', '1', '--messages', String(opts.messages), '--chunk', String(opts.chunk), '--senders', String(opts.senders), '--no-trace'];
  const out = run(process.execPath, [path.join(dir, 'bench/warm-up.mjs'), ...args], dir);
  const found = [...out.matchAll(/^\s+\d+-\d+\s+\|\s+(\d+)\s+\|/gm)].map((m) => Number(m[1]));
  if (found.length === 0) throw new Error(`bench/warm-up printed no chunk in ${dir}:\n${out.slice(-1000)}`);
  return found;
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-ab-'));
const baseDir = path.join(tmp, 'base');
try {
  console.log(
    `bench/ab: ${opts.pairs} pairs of bench/warm-up (${opts.messages} messages, chunks of ${opts.chunk}, ${opts.senders} sender(s)), ${opts.base} against this tree; ${os.cpus().length} CPUs, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  run('npm', ['run', 'build'], ROOT);
  buildBase(baseDir);
  const pairs = [];
  for (let p = 0; p < opts.pairs; p++) {
    const order = p % 2 === 0 ? ['base', 'this'] : ['this', 'base'];
    const got = {};
    for (const side of order) got[side] = rates(side === 'base' ? baseDir : ROOT);
    pairs.push(got);
    console.log(`pair ${p + 1}: base ${got.base.join(' / ')}  this ${got.this.join(' / ')} msg/s`);
  }
  const chunks = Math.min(...pairs.map((p) => Math.min(p.base.length, p.this.length)));
  for (let c = 0; c < chunks; c++) {
    const ratios = pairs.map((p) => p.this[c] / p.base[c]);
    const from = c * opts.chunk + 1;
    console.log(
      `messages ${from}-${from + opts.chunk - 1}: base ${mean(pairs.map((p) => p.base[c])).toFixed(1)}, this ${mean(pairs.map((p) => p.this[c])).toFixed(1)} msg/s; ` +
        `this/base ${mean(ratios).toFixed(3)} (pairs from ${Math.min(...ratios).toFixed(2)} to ${Math.max(...ratios).toFixed(2)})`,
    );
  }
} finally {
  try {
    run('git', ['worktree', 'remove', '--force', baseDir], ROOT);
  } catch {
    // never added (the build of this tree failed first)
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
