// bench/pg: one throw-away PostgreSQL for a benchmark, durable like production (fsync on, initdb
// synced), unlike the tests' server (test/support/postgres.ts, fsync off): a bench that measures
// commits must pay for them. The recipe is ../shared/notes/postgres-for-tests.md: initdb in a temp
// dir as the `postgres` user (the server refuses root) through setpriv, which execs in place so the
// PID we hold IS the postmaster; a free loopback port; stopped with SIGINT (fast shutdown), and
// killed by the kernel if this process dies first (--pdeathsig). Only that PID is ever signalled.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

function binaries() {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const dir = versions.map((v) => path.join(root, v, 'bin')).find((d) => fs.existsSync(path.join(d, 'postgres')));
  if (!dir) throw new Error('PostgreSQL is not installed: run `bash scripts/test-setup.sh` as root (Debian `postgresql`).');
  return dir;
}

const asServerUser = () => (process.getuid() === 0 ? ['--reuid=postgres', '--regid=postgres', '--init-groups'] : []);

/** A free loopback TCP port (the kernel picks it); also used by scale-out for the daemons' listeners. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function run(args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`initdb failed: ${err.trim()}`))));
  });
}

async function ready(url, child) {
  const deadline = Date.now() + 120_000;
  while (child.exitCode === null && Date.now() < deadline) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return true;
    } catch {
      await client.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return false;
}

/**
 * Starts the server; returns its admin URL, `createDatabase(name)` → URL, `fsync` (as the server
 * reports it) and `stop()`. The caller must call stop() in a finally; an exit handler is a backstop.
 */
export async function startBenchPostgres() {
  const bin = binaries();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-pg-'));
  fs.mkdirSync(path.join(dir, 'sock'));
  if (process.getuid() === 0) {
    const [, , uid, gid] = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'))
      .split(':');
    for (const p of [dir, path.join(dir, 'sock')]) fs.chownSync(p, Number(uid), Number(gid));
  }
  let child;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await gone;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // Backstop if the caller never reaches its finally (an uncaught error, Ctrl-C): our PID only.
  const onExit = () => {
    if (child && child.exitCode === null) child.kill('SIGINT');
  };
  process.once('exit', onExit);
  try {
    await run(
      [...asServerUser(), path.join(bin, 'initdb'), '-D', path.join(dir, 'data'), '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8', '--auth=trust'],
      dir,
    );
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const log = fs.openSync(path.join(dir, 'postgres.log'), 'a');
      const args = [...asServerUser(), '--pdeathsig', 'INT', path.join(bin, 'postgres'), '-D', path.join(dir, 'data'), '-p', String(port)];
      // fsync stays on (the default): no -F. More connections than the default for 3 daemons + 8 workers.
      args.push('-k', path.join(dir, 'sock'), '-h', '127.0.0.1', '-c', 'max_connections=200', '-c', `cluster_name=mw-bench-${port}`);
      child = spawn('setpriv', args, { cwd: dir, stdio: ['ignore', log, log] });
      fs.closeSync(log);
      const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
      if (await ready(adminUrl, child)) {
        const fsync = await query(adminUrl, `select current_setting('fsync') as v`).then((r) => r.rows[0].v);
        return { adminUrl, port, dir, fsync, stop, createDatabase: (name) => createDatabase(adminUrl, name) };
      }
      if (child.exitCode === null) child.kill('SIGKILL');
      if (attempt >= 3) throw new Error(`PostgreSQL did not start; see ${path.join(dir, 'postgres.log')}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One statement on its own connection (the admin work of the bench). */
export async function query(url, text, values) {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

async function createDatabase(adminUrl, name) {
  await query(adminUrl, `create database "${name}"`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}
