// Names the drainer process that claims an outbox row, and answers one question about such a
// name: is that process provably gone? A row whose drainer was killed (kill -9, OOM, power to
// the process but not the machine) need not wait out the whole lease: when its claimer ran on
// this machine and is no longer alive, nobody else can be sending it, so it is due again at once.
//
// "This machine" must mean "where a pid means the same process": the host name, the kernel boot
// (pids start over after a reboot) and the pid namespace (two containers both have a pid 1). A
// pid alone is not proof either, since pids are reused, so the process's start time goes with it
// and a live pid that started at another time is another process. Whatever cannot be proved
// (another host, no /proc, no permission to look) counts as alive: the lease rule still applies.
import fs from 'node:fs';
import os from 'node:os';

let scope: string | null = null;

/** Where pids mean the same processes: host name, kernel boot, pid namespace. */
function hostScope(): string {
  return (scope ??= readScope());
}

function readScope(): string {
  const boot = readOr('/proc/sys/kernel/random/boot_id', '').trim();
  let pidns = '';
  try {
    pidns = fs.readlinkSync('/proc/self/ns/pid').replace(/\D/g, '');
  } catch {
    // Not Linux, or /proc hidden: the host name alone names the scope.
  }
  return [os.hostname(), boot, pidns].join('/');
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

interface ProcStat {
  state: string;
  /** Clock ticks after boot at which the process started (field 22 of /proc/<pid>/stat). */
  start: string;
}

/** State and start time of a process, or null when /proc cannot tell. */
function procStat(pid: number | 'self'): ProcStat | null {
  const text = readOr(`/proc/${pid}/stat`, '');
  // The command name (field 2) is in parentheses and may contain anything, spaces included.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return fields.length > 19 ? { state: fields[0]!, start: fields[19]! } : null;
}

let self: string | null = null;

/** This process as a claimer: `<pid>/<start time>@<host scope>`. */
export function currentClaimer(): string {
  return (self ??= `${process.pid}/${procStat('self')?.start ?? ''}@${hostScope()}`);
}

/**
 * True only when `claimedBy` names a process on this machine that is gone: no such pid, a
 * zombie, or a pid now used by a process that started at another time.
 */
export function claimerIsDead(claimedBy: string | null): boolean {
  if (!claimedBy) return false;
  const at = claimedBy.indexOf('@');
  if (at < 0 || claimedBy.slice(at + 1) !== hostScope()) return false;
  const [pidText = '', start = ''] = claimedBy.slice(0, at).split('/');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!pidExists(pid)) return true;
  const stat = procStat(pid);
  if (!stat) return false;
  return stat.state === 'Z' || stat.state === 'X' || (start !== '' && stat.start !== start);
}

/** Signal 0 checks without signalling: ESRCH says no such process; EPERM says one exists (another user's). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
