// CLI conventions (SPEC §7): one sentence on stderr, distinct exit codes, no stack traces.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, runCli } from '../support/cli';
import { ERROR_CODES, usageError } from '../../src/errors';
import { describeError } from '../../src/cli/run';

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
