// A real PostgreSQL for the tests (Debian's postgresql package, the recipe in
// ../shared/notes/postgres-for-tests.md): one throw-away server per test run, started by the
// global setup (test/support/pg-global.ts) on a free loopback port with its own data dir under
// /tmp, fsync off, as the `postgres` user (the server refuses root), stopped with SIGINT (a fast
// shutdown) and killed by the kernel if the runner dies (pdeathsig). Each test that wants a
// database gets a fresh one copied from a migrated template, so tests never see each other's rows.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './ports';

const BIN = '/usr/lib/postgresql/15/bin';
const READY_TIMEOUT_MS = 60_000;

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres — the maintenance database. */
  adminUrl: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

function postgresBinaries(): string {
  const dir = fs.existsSync(path.join(BIN, 'postgres')) ? BIN : findInstalled();
  if (!dir) throw new Error('PostgreSQL is not installed: run `bash scripts/test-setup.sh` as root (it installs Debian `postgresql`).');
  return dir;
}

function findInstalled(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs.readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => path.join(root, v, 'bin')).find((d) => fs.existsSync(path.join(d, 'postgres')));
}

/** As the `postgres` user when we are root (the server refuses root), as ourselves otherwise. */
function asServerUser(): string[] {
  return process.getuid?.() === 0 ? ['--reuid=postgres', '--regid=postgres', '--init-groups'] : [];
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinaries();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-pg-'));
  fs.mkdirSync(path.join(dir, 'sock'));
  if (process.getuid?.() === 0) chownTree(dir);
  await run(
    'setpriv',
    [
      ...asServerUser(),
      path.join(bin, 'initdb'),
      '-D',
      path.join(dir, 'data'),
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
      '--auth=trust',
      '--no-sync',
    ],
    dir,
  );
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawnServer(bin, dir, port);
    const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const up = await waitReady(adminUrl, child);
    if (up) return { adminUrl, port, dir, stop: () => stopServer(child, dir) };
    if (attempt >= 3) throw new Error(`PostgreSQL did not start; its log: ${path.join(dir, 'postgres.log')}`);
  }
}

function spawnServer(bin: string, dir: string, port: number): ChildProcess {
  const log = fs.openSync(path.join(dir, 'postgres.log'), 'a');
  const args = [...asServerUser(), '--pdeathsig', 'INT', path.join(bin, 'postgres'), '-D', path.join(dir, 'data'), '-p', String(port)];
  args.push('-k', path.join(dir, 'sock'), '-h', '127.0.0.1', '-F', '-c', 'max_connections=300', '-c', `cluster_name=mw-test-${port}`);
  const child = spawn('setpriv', args, { cwd: dir, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  return child;
}

/** True once `select 1` answers; false when the server exited first (a taken port). */
async function waitReady(url: string, child: ChildProcess): Promise<boolean> {
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!exited && Date.now() < deadline) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return true;
    } catch {
      await client.end().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  if (!exited) child.kill('SIGKILL');
  return false;
}

async function stopServer(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await gone;
    clearTimeout(timer);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

function run(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.find((a) => a.endsWith('initdb')) ?? command} failed: ${stderr.trim()}`))));
  });
}

function chownTree(dir: string): void {
  const { uid, gid } = userIds('postgres');
  for (const p of [dir, path.join(dir, 'sock')]) fs.chownSync(p, uid, gid);
}

function userIds(name: string): { uid: number; gid: number } {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`There is no ${name} user: is Debian's postgresql package installed?`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** The URL of database `name` on the server behind `adminUrl`. */
function databaseUrl(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates database `name` (optionally as a copy of `template`) and returns its URL. */
export async function createDatabase(adminUrl: string, name: string, template?: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
  } finally {
    await client.end();
  }
  return databaseUrl(adminUrl, name);
}
