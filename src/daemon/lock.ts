// One daemon per data dir, or with a shared database (`database.url`, SPEC §10) one per node in
// it. A second `mailwarden run` on the same data would not break exactly-once (the database sees
// to that) but would double every IMAP connection and race the first for each message, so it is
// refused. With PostgreSQL several machines may share the data dir (raw mail), each with its own
// `instance.node_name` and so its own lock file `daemon-<node_name>.pid`; SQLite keeps the one
// `daemon.pid`. The lock is a pid file: a daemon killed with -9 leaves it behind, and the next
// start takes it over once that pid is gone, and says which pid it was (its box leases can be
// released at once instead of waiting for them to run out).
import fs from 'node:fs';
import path from 'node:path';
import { unavailableError } from '../errors.js';

export interface DaemonLock {
  file: string;
  /** The pid of the dead daemon whose lock file was taken over, if there was one. */
  stalePid?: number;
  release(): void;
}

/** The lock file's name: per node with a shared database, the one `daemon.pid` with SQLite. */
export function lockFileName(config: { database: { url?: string | undefined }; instance: { node_name: string } }): string {
  return config.database.url ? `daemon-${config.instance.node_name}.pid` : 'daemon.pid';
}

export function acquireDaemonLock(dataDir: string, pid = process.pid, name = 'daemon.pid'): DaemonLock {
  const file = path.join(dataDir, name);
  let stalePid: number | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${pid}\n`, { flag: 'wx', mode: 0o600 });
      return { file, ...(stalePid !== undefined ? { stalePid } : {}), release: () => releaseIfOurs(file, pid) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(readOrEmpty(file), 10);
      if (Number.isInteger(holder) && holder !== pid && isAlive(holder)) {
        const where = name === 'daemon.pid' ? dataDir : `${dataDir} (${file})`;
        throw unavailableError('ELOCKED', `Another mailwarden daemon (pid ${holder}) is already running on ${where}.`);
      }
      if (Number.isInteger(holder)) stalePid = holder;
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
