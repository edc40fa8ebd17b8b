// Runs the real CLI (bin/mailwarden, compiled dist/) as a child process, as a user would.
// The daemon is started the same way so tests can SIGTERM, SIGHUP or SIGKILL it.
// Contract with src/daemon: `mailwarden run` logs a pino line with msg "daemon ready" once every
// service has started; startDaemon waits for it.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOwned, spawnOwned } from './processes';
import { bound, StopWaiting, waitFor } from './wait';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(REPO_ROOT, 'bin', 'mailwarden');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

export function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  return runOwned(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    input: opts.input ?? '',
    timeoutMs: bound(opts.timeoutMs ?? 30_000),
    what: `mailwarden ${args.join(' ')}`,
  });
}

/** Runs a read command with --json and parses stdout; throws with stderr when it fails. */
export async function cliJson<T = any>(args: string[], opts: RunCliOptions = {}): Promise<T> {
  const r = await runCli([...args, '--json'], opts);
  if (r.code !== 0) throw new Error(`mailwarden ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface Daemon {
  proc: ChildProcess;
  /** pino JSON lines the daemon wrote to stderr, parsed (non-JSON lines kept as {raw}). */
  logs: Array<Record<string, any>>;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
  kill(): Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
  waitForLog(pred: (line: Record<string, any>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, any>>;
}

export async function startDaemon(
  configPath: string,
  opts: { env?: Record<string, string | undefined>; args?: string[]; waitReady?: boolean } = {},
): Promise<Daemon> {
  const owned = spawnOwned(process.execPath, [BIN, 'run', '--config', configPath, ...(opts.args ?? [])], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = owned.child;
  const logs: Array<Record<string, any>> = [];
  let buffer = '';
  const onData = (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ raw: line });
      }
    }
  };
  proc.stderr!.on('data', onData);
  proc.stdout!.on('data', onData);
  const exited: Promise<number | null> = owned.exited;
  const daemon: Daemon = {
    proc,
    logs,
    exited,
    stop() {
      // A clean stop finishes the work in hand; past the bound it is killed (and the test sees -1).
      return owned.stop({ signal: 'SIGTERM', graceMs: bound(20_000) });
    },
    kill() {
      return owned.kill();
    },
    signal(sig) {
      proc.kill(sig);
    },
    async waitForLog(pred, what, timeoutMs = 15_000) {
      return waitFor(
        () => {
          // The line may have come before the exit (a daemon stopping fast): look first, and decide
          // that it never came only once stderr has closed, its last lines read.
          const found = logs.find(pred);
          if (found) return found;
          if (proc.exitCode !== null && (proc.stderr?.closed ?? true))
            throw new StopWaiting(`daemon exited with ${proc.exitCode} while waiting for ${what}; last logs: ${JSON.stringify(logs.slice(-5))}`);
          return undefined;
        },
        { timeoutMs, what },
      );
    },
  };
  if (opts.waitReady !== false) await daemon.waitForLog((l) => l.event === 'daemon.ready', 'the daemon to log "daemon ready"', 30_000);
  return daemon;
}
