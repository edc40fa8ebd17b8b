// A daemon makes the directories raw mail and attachments are kept in when it starts, before it
// says it is ready: on a new data dir the first message would otherwise wait for 514 mkdirs and
// their parents' fsyncs before its 250. A directory that cannot be made stops the start with one
// sentence (exit 69), instead of a daemon that runs and fails every message.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireConfig } from '../../src/config/load';
import { lockFileName } from '../../src/daemon/lock';
import { runCli, startDaemon, type Daemon } from '../support/cli';
import { rewriteTestConfig, writeTestConfig } from '../support/config';
import { removeTempDir } from '../support/tmp';

const dirs: string[] = [];
const daemons: Daemon[] = [];
afterAll(async () => {
  for (const d of daemons) await d.kill();
  for (const d of dirs) await removeTempDir(d);
});

const PREFIXES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

describe("the content store's directories at a daemon's start", () => {
  it('are all there once the daemon is ready, before any message (fails if the first message has to make them)', async () => {
    const cfg = await writeTestConfig();
    dirs.push(cfg.dir);
    for (const root of ['raw', 'blobs']) expect(fs.existsSync(path.join(cfg.dataDir, root))).toBe(false);
    const daemon = await startDaemon(cfg.configPath);
    daemons.push(daemon);
    for (const root of ['raw', 'blobs']) expect(fs.readdirSync(path.join(cfg.dataDir, root)).sort()).toEqual([...PREFIXES, 'tmp'].sort());
    expect(await daemon.stop()).toBe(0);
  });

  it('that cannot be made stop the start with one sentence and exit 69, the lock released (fails if the daemon runs on, or a stack trace shows)', async () => {
    const cfg = await writeTestConfig();
    dirs.push(cfg.dir);
    const notADirectory = path.join(cfg.dir, 'a-file');
    fs.writeFileSync(notADirectory, 'not a directory\n');
    const shared = path.join(notADirectory, 'shared');
    rewriteTestConfig(cfg, (doc) => (doc.storage = { files: 'directory', directory: shared }));
    const run = await runCli(['run', '--config', cfg.configPath]);
    expect(run.code).toBe(69);
    expect(run.stderr).toContain(`mailwarden: Cannot make the directories raw mail is kept in, under ${shared}: ENOTDIR`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(path.join(cfg.dataDir, lockFileName(requireConfig(cfg.configPath))))).toBe(false);
  });
});
