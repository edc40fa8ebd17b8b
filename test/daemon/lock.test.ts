// One daemon per data dir: a second `mailwarden run` is refused with one sentence, and a daemon
// killed with -9 does not block the next start.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, type Daemon } from '../support/cli';
import { writeTestConfig } from '../support/config';
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
    const pidFile = path.join(cfg.dataDir, 'daemon.pid');
    expect(fs.readFileSync(pidFile, 'utf8').trim()).toBe(String(first.proc.pid));

    const second = await runCli(['run', '--config', cfg.configPath]);
    expect(second.code).toBe(69);
    expect(second.stderr).toContain(`Another mailwarden daemon (pid ${first.proc.pid}) is already running on ${cfg.dataDir}.`);
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
