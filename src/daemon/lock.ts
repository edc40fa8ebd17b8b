// One daemon per data dir. A second `mailwarden run` on the same data would not break
// exactly-once (the database sees to that) but would double every IMAP connection and race the
// first for each message, so it is refused. The lock is a pid file: a daemon killed with -9
// leaves it behind, and the next start takes it over once that pid is gone.
import fs from 'node:fs';
import path from 'node:path';
import { unavailableError } from '../errors.js';

export interface DaemonLock {
  file: string;
  release(): void;
}

export function acquireDaemonLock(dataDir: string, pid = process.pid): DaemonLock {
  const file = path.join(dataDir, 'daemon.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${pid}\n`, { flag: 'wx', mode: 0o600 });
      return { file, release: () => releaseIfOurs(file, pid) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(readOrEmpty(file), 10);
      if (Number.isInteger(holder) && holder !== pid && isAlive(holder)) {
        throw unavailableError('ELOCKED', `Another mailwarden daemon (pid ${holder}) is already running on ${dataDir}.`);
      }
      fs.rmSync(file, { force: true }); // stale: its daemon is gone
    }
  }
  throw unavailableError('ELOCKED', `Cannot take the daemon lock ${file}; another daemon is starting at the same moment.`);
}

/** Refuses `what` (one sentence) while a live daemon holds the data dir's pid file. */
export function refuseWhileDaemonRuns(dataDir: string, what: string): void {
  const holder = Number.parseInt(readOrEmpty(path.join(dataDir, 'daemon.pid')), 10);
  if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
    throw unavailableError('ELOCKED', `A mailwarden daemon (pid ${holder}) is running on ${dataDir}; stop it first, then ${what}.`);
  }
}

function releaseIfOurs(file: string, pid: number): void {
  if (readOrEmpty(file).trim() === String(pid)) fs.rmSync(file, { force: true });
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
