// One daemon per data dir: a second `mailwarden run` is refused with one sentence, and a daemon
// killed with -9 does not block the next start. With a shared database (`database.url`, SPEC §10)
// the lock is per node, `daemon-<node_name>.pid`, so one daemon per host may run on a shared dir.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, formatIssue, requireConfig } from '../../src/config/load';
import { acquireDaemonLock, lockFileName } from '../../src/daemon/lock';
import { runCli, startDaemon, type Daemon } from '../support/cli';
import { rewriteTestConfig, writeTestConfig } from '../support/config';
import { removeTempDir } from '../support/tmp';

const dirs: string[] = [];
const daemons: Daemon[] = [];
afterAll(async () => {
  for (const d of daemons) await d.kill();
  for (const d of dirs) await removeTempDir(d);
});

describe('daemon lock', () => {
  it('refuses a second daemon on the same data dir (fails if both run), and takes over after kill -9', async () => {
    const cfg = await writeTestConfig();
    dirs.push(cfg.dir);
    const first = await startDaemon(cfg.configPath);
    daemons.push(first);
    // daemon.pid on SQLite; daemon-<node_name>.pid in the PostgreSQL pass.
    const pidFile = path.join(cfg.dataDir, lockFileName(requireConfig(cfg.configPath)));
    expect(fs.readFileSync(pidFile, 'utf8').trim()).toBe(String(first.proc.pid));

    const second = await runCli(['run', '--config', cfg.configPath]);
    expect(second.code).toBe(69);
    expect(second.stderr).toContain(`Another mailwarden daemon (pid ${first.proc.pid}) is already running on ${cfg.dataDir}`);
    expect(second.stderr).not.toMatch(/\n\s+at /);

    await first.kill(); // leaves the pid file behind
    expect(fs.existsSync(pidFile)).toBe(true);
    const third = await startDaemon(cfg.configPath);
    daemons.push(third);
    expect(fs.readFileSync(pidFile, 'utf8').trim()).toBe(String(third.proc.pid));
    expect(await third.stop()).toBe(0);
    expect(fs.existsSync(pidFile)).toBe(false);
  });
});

describe('the lock file name', () => {
  it('is daemon.pid without database.url, daemon-<node_name>.pid with it; node_name defaults to the host name', async () => {
    const cfg = await writeTestConfig();
    dirs.push(cfg.dir);
    rewriteTestConfig(cfg, (doc) => delete doc.database); // the rule from SQLite on, in either pass
    const load = () => {
      const r = loadConfig(cfg.configPath, process.env);
      if (!r.config) throw new Error(r.issues.map(formatIssue).join('; '));
      return r.config;
    };
    expect(load().instance.node_name).toBe(os.hostname());
    expect(lockFileName(load())).toBe('daemon.pid');
    rewriteTestConfig(cfg, (doc) => (doc.database = { url: 'postgres://mw@db.example.test/mailwarden' }));
    expect(lockFileName(load())).toBe(`daemon-${os.hostname()}.pid`);
    rewriteTestConfig(cfg, (doc) => (doc.instance.node_name = 'app-2.example.test'));
    expect(lockFileName(load())).toBe('daemon-app-2.example.test.pid');
    rewriteTestConfig(cfg, (doc) => (doc.instance.node_name = '../evil'));
    expect(loadConfig(cfg.configPath, process.env).issues.map(formatIssue).join('\n')).toContain('instance.node_name');
  });

  it('per node: two nodes share a data dir, a second daemon of the same node is refused, a dead one is taken over and named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-lock-'));
    dirs.push(dir);
    const a = acquireDaemonLock(dir, process.pid, 'daemon-a.pid');
    // Another live process as the second daemon of node a: refused; node b may run beside it.
    expect(() => acquireDaemonLock(dir, process.ppid, 'daemon-a.pid')).toThrow(`Another mailwarden daemon (pid ${process.pid}) is already running on ${dir}`);
    const b = acquireDaemonLock(dir, process.ppid, 'daemon-b.pid');
    expect(fs.readdirSync(dir).sort()).toEqual(['daemon-a.pid', 'daemon-b.pid']);
    b.release();
    a.release();
    expect(fs.readdirSync(dir)).toEqual([]);
    // A pid file left by a dead daemon is taken over, and its pid is handed back (its leases are released at once).
    const dead = 2 ** 22 + 12345; // above pid_max's default, so no such process
    fs.writeFileSync(path.join(dir, 'daemon-a.pid'), `${dead}\n`);
    const again = acquireDaemonLock(dir, process.pid, 'daemon-a.pid');
    expect(again.stalePid).toBe(dead);
    again.release();
  });
});
