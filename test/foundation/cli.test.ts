// CLI conventions (SPEC §7): one sentence on stderr, distinct exit codes, no stack traces.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, REPO_ROOT, runCli } from '../support/cli';
import { ERROR_CODES, usageError } from '../../src/errors';
import { describeError } from '../../src/cli/run';
import { rewriteTestConfig, writeTestConfig } from '../support/config';
import { spawnOwned } from '../support/processes';
import { insertCase, openTestDb } from '../cases/fixtures';

describe('CLI conventions', () => {
  it('an unknown command is a usage error (64) with one line and no stack trace', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a command that needs a config and finds an invalid one exits 78, listing the problems', async () => {
    const r = await runCli(['cases', '--config', '/nonexistent/mailwarden.yaml']);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(
      /^mailwarden: The configuration \/nonexistent\/mailwarden.yaml is invalid: 1 problem\(s\)\.\n {2}\/nonexistent\/mailwarden.yaml: does not exist\n$/,
    );
  });

  it('--version prints the package version and exits 0', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag]);
      expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });

  it('under --json an error is one JSON object on stderr with its stable code, for usage and config errors alike', async () => {
    const unknown = await runCli(['cases', '--bogus', '--json']);
    expect(unknown.code).toBe(64);
    expect(JSON.parse(unknown.stderr)).toEqual({ error: { code: 'EUSAGE', message: "unknown option '--bogus'", exit: 64 } });
    const config = await runCli(['cases', '--json', '--config', '/nonexistent/mailwarden.yaml']);
    expect(config.code).toBe(78);
    expect(JSON.parse(config.stderr)).toEqual({
      error: {
        code: 'EINVALIDCONFIG',
        message: 'The configuration /nonexistent/mailwarden.yaml is invalid: 1 problem(s).',
        details: ['/nonexistent/mailwarden.yaml: does not exist'],
        exit: 78,
      },
    });
  });

  it('every error code has one line of meaning in the registry, and an unexpected error is EINTERNAL', () => {
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^E[A-Z]+$/);
      expect(meaning.length).toBeGreaterThan(10);
    }
    expect(describeError(new TypeError('boom'))).toMatchObject({ code: 'EINTERNAL', exit: 70 });
    expect(describeError(usageError('ENOCASE', 'No case X-1.'))).toEqual({ code: 'ENOCASE', message: 'No case X-1.', exit: 64 });
  });

  it('a full database disk is EBUSY, exit 75, told as "free some space and try again" (fails on 70 "unexpected error")', () => {
    const sqlite = new Database(':memory:');
    sqlite.pragma('max_page_count = 8');
    sqlite.exec('CREATE TABLE t (b BLOB)');
    let full: unknown;
    try {
      sqlite.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(64 * 1024));
    } catch (err) {
      full = err;
    } finally {
      sqlite.close();
    }
    expect(describeError(full)).toEqual({
      code: 'EBUSY',
      message: 'The disk holding the data directory is full or failing; free some space and try again.',
      exit: 75,
    });
  });

  it('--help prints the commands', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('config');
  });
});

describe('output and config faults (issue 11)', () => {
  it('a reader that closes the pipe early (`cases --json | head -c 100`) gets one sentence and exit 74, no stack trace', async () => {
    const cfg = await writeTestConfig();
    const opened = await openTestDb(cfg.dataDir);
    // Far more than a pipe holds (64 KB), so the command is still writing when the reader leaves.
    for (let i = 0; i < 1500; i++) await insertCase(opened.db, { subject: `Case number ${i} with a subject long enough to fill the pipe` });
    await opened.close();
    // --limit: a page of every case (the default page of 100 could fit in the pipe).
    const proc = spawnOwned(process.execPath, [BIN, 'cases', '--json', '--limit', '2000'], {
      cwd: REPO_ROOT,
      env: { ...process.env, MAILWARDEN_CONFIG: cfg.configPath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.child.stdout!.once('data', () => proc.child.stdout!.destroy());
    expect(await proc.exited).toBe(74);
    expect(JSON.parse(stderr.trim())).toEqual({ error: { code: 'EPIPE', message: 'The output was closed before everything was written.', exit: 74 } });
  });

  it('a snippets path that points at a file that is not a snippets list is named in one sentence that quotes nothing of that file', async () => {
    const cfg = await writeTestConfig();
    const secretFile = path.join(cfg.dir, 'not-snippets.txt');
    const lines = ['db_password: hunter2-very-secret', 'second line of a private file'];
    fs.writeFileSync(secretFile, `${lines.join('\n')}\n`);
    rewriteTestConfig(cfg, (doc) => (doc.snippets = secretFile));
    for (const content of [lines.join('\n'), 'plain text that YAML reads as one string', 'key: [unclosed']) {
      fs.writeFileSync(secretFile, content);
      const r = await runCli(['config', 'check', '--config', cfg.configPath]);
      expect(r.code).toBe(1); // config check's "invalid" (README), not a crash
      const problems = r.stderr.split('\n').filter((l) => l.includes('snippets'));
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^  snippets: the snippets file ${secretFile} (must hold a YAML list|is not valid YAML)`))]);
      expect(r.stderr + r.stdout).not.toMatch(/hunter2|second line|plain text|unclosed/);
    }
  });
});
