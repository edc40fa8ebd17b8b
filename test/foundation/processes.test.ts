// The harness owns every process a test starts (test/support/processes.ts). These run vitest on
// fixture files that misbehave the way real tests did — one hangs past its timeout, one's worker
// dies by SIGKILL — and check that the process each started is gone when vitest is done.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli';
import { groupAlive, runOwned, spawnOwned } from '../support/processes';
import { makeTempDir, removeTempDir } from '../support/tmp';
import { bound, waitFor } from '../support/wait';

const VITEST = path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const FIXTURE_CONFIG = 'test/fixtures/harness/vitest.config.ts';

describe('the harness reaps what tests start', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('mw-reap-');
  });
  afterAll(async () => removeTempDir(dir));

  async function runFixture(name: string): Promise<{ code: number; pid: number; notes: string[]; output: string }> {
    const pidFile = path.join(dir, `${name}.pid`);
    const r = await runOwned(process.execPath, [VITEST, 'run', '--config', FIXTURE_CONFIG, name], {
      cwd: REPO_ROOT,
      env: { ...process.env, FIXTURE_PID_FILE: pidFile, NO_COLOR: '1' },
      timeoutMs: bound(60_000),
      what: `vitest on the ${name} fixture`,
    });
    const [pid, ...notes] = fs.readFileSync(pidFile, 'utf8').trim().split('\n');
    return { code: r.code, pid: Number(pid), notes, output: r.stdout + r.stderr };
  }

  it('kills the process of a test that timed out, and starts none for it afterwards', async () => {
    const r = await runFixture('times-out');
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toMatch(/timed out/i);
    // The root afterAll waits until the group is gone, so it is gone when vitest has exited.
    expect(groupAlive(r.pid)).toBe(false);
    expect(r.notes).not.toContain('started after the file ended');
  });

  it('kills the process of a worker that died by SIGKILL (no hook ran: the kernel does it)', async () => {
    const r = await runFixture('killed');
    expect(r.code, r.output).not.toBe(0);
    // The parent-death signal is delivered as the worker dies; vitest notices a moment later.
    await waitFor(() => !groupAlive(r.pid), { what: `process group ${r.pid} to be gone`, timeoutMs: 5_000 });
  });

  it("ready resolves once the command itself runs (setpriv has exec'd), and is made once", async () => {
    const proc = spawnOwned('sleep', ['600'], { stdio: 'ignore' });
    expect(proc.ready).toBe(proc.ready);
    await proc.ready;
    expect(fs.readFileSync(`/proc/${proc.pgid}/comm`, 'utf8').trim()).toBe('sleep');
    await proc.kill();
    // First read after the process is gone: it resolves too (nothing is left to wait for).
    const quick = spawnOwned('true', [], { stdio: 'ignore' });
    expect(await quick.exited).toBe(0);
    await expect(quick.ready).resolves.toBeUndefined();
  });

  it('stop() returns only when every process of the group is gone, children included', async () => {
    const proc = spawnOwned('bash', ['-c', 'sleep 600 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const childPid = await new Promise<number>((resolve) => proc.child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    expect(groupAlive(proc.pgid)).toBe(true);
    await proc.stop({ signal: 'SIGTERM', graceMs: 1_000 });
    expect(groupAlive(proc.pgid)).toBe(false);
    expect(() => process.kill(childPid, 0)).toThrow();
  });
});
