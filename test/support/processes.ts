// Every process a test file starts goes through here, so the harness owns and reaps all of them.
// Why: a test that times out keeps running in the background, and vitest ends its workers with a
// signal, which skips 'exit' handlers; a daemon started by such a test used to outlive the suite
// (parent pid 1) for half an hour. Three layers close that gap:
// - each child gets its own process group (detached) and is tied to this worker by
//   `setpriv --pdeathsig`, so the kernel signals it even when the worker is killed outright;
// - the root afterAll of every test file (test/support/setup.ts) kills every group still alive
//   and waits until the kernel reports it gone, also after a failure or a timeout;
// - after that, spawning is refused, so a timed-out test body cannot start new servers.
// Only groups started here are ever signalled or inspected.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';

export interface OwnedProcess {
  child: ChildProcess;
  /** Process group id (= the child's pid: it leads its own group). */
  pgid: number;
  /** Resolves with the exit code, or -1 when a signal ended it. */
  exited: Promise<number>;
  /**
   * Resolves once setpriv has armed the parent-death signal and exec'd the command. Until then a
   * worker that dies leaves the child behind (the signal is not set yet): a test that kills its
   * own worker on purpose waits for this first. Made on first read, so the /proc polling behind
   * it runs only for the few callers that wait for it, not for every spawn.
   */
  readonly ready: Promise<void>;
  /** SIGTERM (or `signal`), SIGKILL after `graceMs`, then waits until the whole group is gone. */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<number>;
  /** SIGKILL to the whole group, then waits until it is gone. */
  kill(): Promise<number>;
}

export interface SpawnOwnedOptions extends Omit<SpawnOptions, 'detached'> {
  /** Signal the kernel sends the child when this worker dies (default KILL). */
  deathSignal?: 'KILL' | 'TERM';
}

const owned = new Set<OwnedProcess>();
let closed = false;
const GONE_TIMEOUT_MS = 30_000;

export function spawnOwned(command: string, args: string[], opts: SpawnOwnedOptions = {}): OwnedProcess {
  if (closed) throw new Error(`refusing to start ${command}: this test file has finished (a timed-out test is still running)`);
  const { deathSignal = 'KILL', ...spawnOpts } = opts;
  // setpriv execs the command in the same process, so pid, pgid and signals stay the child's own.
  const child = spawn('setpriv', ['--pdeathsig', deathSignal, command, ...args], { ...spawnOpts, detached: true });
  if (child.pid === undefined) {
    // spawn reports ENOENT asynchronously; say what failed now rather than later.
    throw new Error(`could not start ${command} (is util-linux's setpriv installed?)`);
  }
  const pgid = child.pid;
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : 0)));
    child.once('error', () => resolve(-1));
  });
  let ready: Promise<void> | undefined;
  const proc: OwnedProcess = {
    child,
    pgid,
    exited,
    get ready() {
      return (ready ??= execed(pgid, exited));
    },
    async stop({ signal = 'SIGTERM', graceMs = 20_000 } = {}) {
      signalGroup(pgid, signal);
      const timer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
        await reap(proc);
      }
    },
    async kill() {
      signalGroup(pgid, 'SIGKILL');
      const code = await exited;
      await reap(proc);
      return code;
    },
  };
  owned.add(proc);
  return proc;
}

/** Waits until the process no longer runs setpriv itself (it exec'd the command), or has exited. */
async function execed(pid: number, exited: Promise<number>): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  const deadline = Date.now() + GONE_TIMEOUT_MS;
  while (!done && Date.now() < deadline) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'setpriv') return;
    } catch {
      return; // gone already
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sends `signal` to a group this module started; a group that is gone already is fine. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: no process is left in the group
  }
}

/** True while any process of the group exists (zombies included, until their parent reaps them). */
export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

/** Kills what is left of the group (children that outlived the leader) and waits until it is empty. */
async function reap(proc: OwnedProcess): Promise<void> {
  const deadline = Date.now() + GONE_TIMEOUT_MS;
  while (groupAlive(proc.pgid)) {
    signalGroup(proc.pgid, 'SIGKILL');
    if (Date.now() > deadline) throw new Error(`process group ${proc.pgid} is still alive ${GONE_TIMEOUT_MS} ms after SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
  owned.delete(proc);
}

/** Kills every group this worker started and waits until each is gone. Root afterAll calls it. */
export async function reapAll(): Promise<void> {
  await Promise.all([...owned].map((p) => p.kill()));
}

/** From now on spawnOwned throws: the test file is over. */
export function closeSpawning(): void {
  closed = true;
}

function killAllSync(): void {
  for (const p of owned) signalGroup(p.pgid, 'SIGKILL');
}

process.on('exit', killAllSync);
// Death by signal skips 'exit' handlers: kill the groups, then die by the same signal as before
// unless somebody else handles it. (pdeathsig covers SIGKILL of this worker.)
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    killAllSync();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion in its own group; on timeout the whole group is killed. */
export async function runOwned(
  command: string,
  args: string[],
  opts: SpawnOwnedOptions & { input?: string | Buffer; timeoutMs: number; what?: string },
): Promise<RunResult> {
  const { input, timeoutMs, what, ...spawnOpts } = opts;
  const proc = spawnOwned(command, args, { ...spawnOpts, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.child.stdin!.on('error', () => {}); // the command may exit without reading its input
  proc.child.stdin!.end(input ?? '');
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.kill();
  }, timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  // Output pipes close after the exit event: wait for them so no output is cut off.
  await Promise.all([proc.child.stdout, proc.child.stderr].map((s) => (s && !s.closed ? new Promise((r) => s.once('close', r)) : Promise.resolve())));
  await reap(proc);
  if (timedOut) throw new Error(`${what ?? command} did not finish in ${timeoutMs} ms; stderr: ${stderr}`);
  return { code, stdout, stderr };
}
