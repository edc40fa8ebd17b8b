// The daemon's own threads carry names the operating system shows (src/thread-name.ts): after one
// delivery the file thread and a parser thread run, and on SQLite the checkpoint thread too, each
// under its name in /proc/<pid>/task/*/comm, where `top -H` and `ps -L` read it. Linux only, as
// the naming is; the rest of the threads (the main one, Node's helpers) keep Node's "node".
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../support/cli';
import { writeTestConfig } from '../support/config';
import { freePort } from '../support/ports';
import { removeTempDir } from '../support/tmp';
import { waitFor } from '../support/wait';
import { testBackend } from '../support/backend';
import { buildMail } from '../support/imap';
import { deliverLmtp, newMessageId } from '../ingest/helpers';

const ALICE = 'alice@example.test';
const dirs: string[] = [];
const daemons: Daemon[] = [];
afterAll(async () => {
  for (const d of daemons) await d.kill();
  for (const d of dirs) await removeTempDir(d);
});

function threadNames(pid: number): string[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
}

describe.skipIf(process.platform !== 'linux')('the daemon’s thread names', () => {
  it('names its file, parser and (on SQLite) checkpoint threads once mail has flowed; the main thread keeps Node’s name (fails while every thread is "node")', async () => {
    const port = await freePort();
    const cfg = await writeTestConfig({ listener: { port, protocol: 'lmtp' }, mailboxes: [{ id: 'direct', address: ALICE, pool: 'general' }] });
    dirs.push(cfg.dir);
    const daemon = await startDaemon(cfg.configPath);
    daemons.push(daemon);
    const raw = buildMail({ from: 'named@customer.test', to: ALICE, subject: 'Which thread?', text: 'x', messageId: newMessageId() });
    expect((await deliverLmtp(port, 'named@customer.test', ALICE, raw)).code).toBe(250);
    await daemon.waitForLog((l) => l.event === 'ingest.accepted', 'the message to be accepted');

    const pid = daemon.proc.pid!;
    const wanted = testBackend() === 'postgres' ? ['mw-file', 'mw-parser'] : ['mw-checkpoint', 'mw-file', 'mw-parser'];
    // The checkpoint thread starts with the first accept and names itself once its script runs.
    const ours = await waitFor(
      () => {
        const named = threadNames(pid)
          .filter((n) => n.startsWith('mw-'))
          .sort();
        return named.length >= wanted.length ? named : undefined;
      },
      { what: `the daemon's threads to be named ${wanted.join(', ')}` },
    );
    expect(ours).toEqual(wanted);
    // The main thread's name is the process's: left alone, so `ps -C node` and friends still find it.
    expect(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()).toBe('node');
    expect(await daemon.stop()).toBe(0);
  });
});
