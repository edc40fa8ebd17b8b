// Signals while the daemon starts: systemd may stop or reload a unit the moment it has started
// it. Before the fix a SIGTERM or SIGHUP that arrived before the handlers were installed met the
// default action and killed the daemon outright (seen on a loaded machine: exit by SIGTERM right
// after "daemon ready"). Both are sent here while the services are still starting.
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../support/cli';
import { writeTestConfig } from '../support/config';
import { removeTempDir } from '../support/tmp';

const dirs: string[] = [];
const daemons: Daemon[] = [];
afterAll(async () => {
  for (const d of daemons) await d.kill();
  for (const d of dirs) await removeTempDir(d);
});

async function startingDaemon(): Promise<Daemon> {
  const cfg = await writeTestConfig();
  dirs.push(cfg.dir);
  const daemon = await startDaemon(cfg.configPath, { waitReady: false });
  daemons.push(daemon);
  // The drainer starts before the scheduler, and "daemon ready" comes after both.
  await daemon.waitForLog((l) => l.event === 'outbox.drainer_started', 'the drainer to start');
  return daemon;
}

describe('signals during start-up', () => {
  it('a SIGTERM while the services start stops the daemon cleanly, and a SIGHUP while it stops is ignored: exit 0, "daemon.stopped" logged (fails on death by signal)', async () => {
    const daemon = await startingDaemon();
    daemon.signal('SIGTERM');
    // A SIGHUP while it stops is ignored, not the default action that would kill it.
    await daemon.waitForLog((l) => l.event === 'daemon.stopping', 'the daemon to begin stopping');
    daemon.signal('SIGHUP');
    expect(await daemon.exited).toBe(0);
    expect(daemon.logs.map((l) => l.event).filter((e) => e === 'daemon.stopping' || e === 'daemon.stopped')).toEqual(['daemon.stopping', 'daemon.stopped']);
  });

  it('a SIGHUP while the services start is taken as a reload once they are up (fails on death by signal)', async () => {
    const daemon = await startingDaemon();
    daemon.signal('SIGHUP');
    await daemon.waitForLog((l) => l.event === 'config.reloaded', 'the reload asked for during start-up');
    expect(daemon.logs.findIndex((l) => l.event === 'daemon.ready')).toBeLessThan(daemon.logs.findIndex((l) => l.event === 'config.reloaded'));
    expect(await daemon.stop()).toBe(0);
  });
});
