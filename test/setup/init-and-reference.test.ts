// `mailwarden init` gives a config that checks valid; the README's configuration reference is the
// one generated from the schema (so the two cannot drift).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceMarkdown, referenceRows } from '../../src/config/reference';
import { runCli, REPO_ROOT } from '../support/cli';
import { makeTempDir, removeTempDir } from '../support/tmp';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeTempDir(d);
});

describe('mailwarden init', () => {
  it('writes a config and templates that pass config check once the named secrets are set', async () => {
    const dir = await makeTempDir('mw-init-');
    dirs.push(dir);
    const r = await runCli(['init', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('MAILWARDEN_SECRET=');
    const configPath = path.join(dir, 'config', 'mailwarden.yaml');
    expect(fs.existsSync(path.join(dir, 'templates', 'auto-response.hbs'))).toBe(true);
    const env = Object.fromEntries([...r.stdout.matchAll(/([A-Z_]+)=…/g)].map((m) => [m[1]!, 'x'.repeat(40)]));
    expect(Object.keys(env).length).toBeGreaterThanOrEqual(2);
    const check = await runCli(['config', 'check', '--config', configPath], { env });
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
  });

  it("refuses to overwrite an existing config without --force, and keeps the admin's edits", async () => {
    const dir = await makeTempDir('mw-init-');
    dirs.push(dir);
    expect((await runCli(['init', dir])).code).toBe(0);
    const configPath = path.join(dir, 'config', 'mailwarden.yaml');
    fs.appendFileSync(configPath, '# my edit\n');
    const again = await runCli(['init', dir]);
    expect(again.code).toBe(64);
    expect(again.stderr).toMatch(/already exists\. Use --force to overwrite it\./);
    expect(fs.readFileSync(configPath, 'utf8')).toContain('# my edit');
    const forced = await runCli(['init', dir, '--force']);
    expect(forced.code).toBe(0);
    expect(fs.readFileSync(configPath, 'utf8')).not.toContain('# my edit');
  });
});

describe('configuration reference', () => {
  it('covers every key of the example config', () => {
    const keys = new Set(referenceRows().map((r) => r.key));
    for (const k of [
      'instance.case_prefix',
      'mailboxes[].imap.password',
      'pools[].response_deadline',
      'consultants[].footer.image',
      'ingest.listener.port',
      'snippets[].text',
    ]) {
      expect(keys).toContain(k);
    }
  });

  it('is in the README exactly as generated', () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const m = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(readme);
    expect(m, 'README lacks the config-reference markers').not.toBeNull();
    expect(m![1]).toBe(referenceMarkdown());
  });
});
