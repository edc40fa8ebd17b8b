// bench/lib/daemon: a real `mailwarden run` from this checkout's dist/ for the benches, its
// warnings and errors counted (a bench that is fast because it fails is no bench), its RSS
// readable from /proc, stopped with SIGTERM (SIGKILL after 30 s). Only PIDs started here are
// ever signalled; `stopAllDaemons` is the backstop for an uncaught error or Ctrl-C.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const children = new Set();

export function stopAllDaemons() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
}

/** RSS of a process in MB, from /proc/<pid>/status (VmRSS). */
export function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU time (ms, user + system, every thread) the process has used so far. */
export function cpuMs(pid) {
  return statCpuMs(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** The daemon's threads bench/warm-up tells apart: named by src/thread-name.ts. */
export const NAMED_THREADS = ['mw-file', 'mw-parser', 'mw-checkpoint'];

/**
 * cpuMs split by thread (ms): `main`, each of NAMED_THREADS, and `helpers`, the rest: Node's own
 * threads (V8's compiler and garbage collector, libuv's pool) and any thread that has ended.
 */
export function threadCpuMs(pid) {
  const split = { main: 0, ...Object.fromEntries(NAMED_THREADS.map((n) => [n, 0])), helpers: 0 };
  let named = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile: its time is the process's, counted with the helpers
    }
    // The thread's name is the stat line's second field, in brackets.
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const key = tid === String(pid) ? 'main' : NAMED_THREADS.includes(name) ? name : null;
    if (!key) continue;
    const ms = statCpuMs(stat);
    split[key] += ms;
    named += ms;
  }
  split.helpers = cpuMs(pid) - named;
  return split;
}

/** utime + stime of a /proc stat line, in ms (the command name in brackets may hold spaces). */
function statCpuMs(stat) {
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Kernel clock ticks per second, the unit of /proc/<pid>/stat's times (100 on Linux). */
const CLOCK_TICKS = 100;

/** `"timing":{"store":3,"parse":2,"accept":2}` of an ingest.accepted line, as numbers (NaN when missing). */
function acceptTiming(line) {
  const m = /"timing":\{"store":(\d+),"parse":(\d+),"accept":(\d+)\}/.exec(line);
  return { durable: Number(m?.[1] ?? NaN), parsed: Number(m?.[2] ?? NaN), accept: Number(m?.[3] ?? NaN) };
}

export function startDaemon(configPath, { prof, nodeArgs = [], stdoutFile } = {}) {
  // BENCH_DAEMON_NODE_ARGS: node/V8 flags for the daemon only (when profiling, say `--trace-gc`);
  // BENCH_DAEMON_STDOUT: a file for the daemon's standard output, where V8's traces go. A bench
  // that needs either for its own figures passes them as nodeArgs / stdoutFile.
  const extra = [...(process.env.BENCH_DAEMON_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...nodeArgs];
  const traceFile = stdoutFile ?? process.env.BENCH_DAEMON_STDOUT;
  const stdout = traceFile ? fs.openSync(traceFile, 'w') : 'ignore';
  const args = [...extra, ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []), path.join(ROOT, 'bin/mailwarden'), 'run', '--config', configPath];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', stdout, 'pipe'] });
  children.add(proc);
  // acceptedMs: each accepted message's own time in the daemon (the `ms` of its ingest.accepted
  // line: its bytes taken → its accept committed), in the order they were accepted.
  // acceptedTiming: the same lines' steps, from the bytes taken (ms): parsed, durable, and the
  // accept transaction's own length (`timing` of the line), in the same order.
  const log = { tail: '', warn: 0, error: 0, samples: new Set(), acceptedMs: [], acceptedTiming: [] };
  const ready = new Promise((resolve, reject) => {
    let line = '';
    proc.stderr.on('data', (d) => {
      if (process.env.BENCH_VERBOSE) process.stderr.write(d);
      log.tail = (log.tail + d).slice(-4000);
      if (log.tail.includes('"daemon ready"')) resolve(Date.now());
      for (const l of (line + d).split('\n').slice(0, -1)) {
        if (l.includes('"event":"ingest.accepted"')) {
          log.acceptedMs.push(Number(/"ms":(\d+)/.exec(l)?.[1] ?? NaN));
          log.acceptedTiming.push(acceptTiming(l));
        }
        const level = /"level":(\d+)/.exec(l)?.[1];
        if (level >= 40) {
          log[level >= 50 ? 'error' : 'warn']++;
          if (log.samples.size < 5) log.samples.add(/"msg":"([^"]*)"/.exec(l)?.[1] ?? l.slice(0, 200));
        }
      }
      line = (line + d).split('\n').at(-1);
    });
    proc.once('exit', (code) => reject(new Error(`daemon exited ${code}: ${log.tail.slice(-2000)}`)));
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    await gone;
    clearTimeout(timer);
    children.delete(proc);
  };
  return { proc, ready, stop, log };
}

/** One mail from a new customer (so a new case and an auto-response each). */
export function customerMail(i, tag, box) {
  const messageId = `<${tag}-${i}-${Date.now()}@bench.test>`;
  const raw =
    `From: Customer ${i} <${tag}-customer${i}@bench.test>\r\nTo: ${box}\r\nSubject: Question ${i} about my card\r\n` +
    `Date: ${new Date().toUTCString()}\r\nMessage-ID: ${messageId}\r\nMIME-Version: 1.0\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\nthis is message ${i}. My card does not work since yesterday, could you please help me?\r\nRegards\r\n`;
  return { from: `${tag}-customer${i}@bench.test`, messageId, raw };
}
