// Config loading and checking (SPEC §2): every problem listed at once with its path.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/load';
import { resolveSecret } from '../../src/config/secrets';
import { parseDuration, parseSize } from '../../src/config/validate';
import { runCli, REPO_ROOT } from '../support/cli';
import { writeTestConfig } from '../support/config';
import { makeTempDir, removeTempDir } from '../support/tmp';

const EXAMPLE = path.join(REPO_ROOT, 'config', 'mailwarden.example.yaml');
const EXAMPLE_ENV = {
  MAILWARDEN_SECRET: 's3cret-signing-key-0123-4567-89ab-cdef',
  CARDS_PL_IMAP_PASSWORD: 'a',
  CARDS_EN_IMAP_PASSWORD: 'b',
  API_IMAP_PASSWORD: 'c',
};
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeTempDir(d);
});

async function tempDir(): Promise<string> {
  const d = await makeTempDir('mw-cfg-');
  dirs.push(d);
  return d;
}

describe('the committed example config', () => {
  it('is valid and complete (2 pools, 3 mailboxes, 4 consultants incl. a trainee and a supervisor, 2 departments)', () => {
    const { config, issues } = loadConfig(EXAMPLE, EXAMPLE_ENV);
    expect(issues).toEqual([]);
    expect(config!.pools).toHaveLength(2);
    expect(config!.mailboxes).toHaveLength(3);
    expect(config!.consultants).toHaveLength(4);
    expect(config!.consultants.some((c) => c.trainee && c.supervisor)).toBe(true);
    expect(config!.consultants.some((c) => c.roles.includes('supervisor'))).toBe(true);
    expect(config!.departments).toHaveLength(2);
    expect(config!.questionnaires[0]!.questions.some((q) => q.dictionary)).toBe(true);
    expect(resolveSecret(config!.mailboxes[0]!.imap!.password!, EXAMPLE_ENV)).toBe('a');
    expect(config!.pools[0]!.response_deadline).toBe(8 * 3600_000);
  });

  it('config check exits 0 with a one-line summary', async () => {
    const r = await runCli(['config', 'check', '--config', EXAMPLE], { env: EXAMPLE_ENV });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toMatch(/is valid: instance ACME, 2 pools, 3 mailboxes, 4 consultants, 2 departments/);
  });

  it('config check reports an unset ${ENV} secret by the field that uses it', async () => {
    const r = await runCli(['config', 'check', '--config', EXAMPLE], { env: { ...EXAMPLE_ENV, API_IMAP_PASSWORD: undefined } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('mailboxes[2].imap.password: uses ${API_IMAP_PASSWORD}, which is not set in the environment');
  });
});

describe('a config with many mistakes', () => {
  it('lists every problem with its path, not just the first', async () => {
    const cfg = await writeTestConfig({ dir: await tempDir() });
    const doc = cfg.doc;
    doc.mailboxes[1].pool = 'nonexistent'; // unknown pool
    doc.mailboxes[1].address = doc.mailboxes[0].address; // duplicate address
    doc.consultants[2].id = 'sam'; // duplicate id
    doc.pools[0].response_deadline = 'soon'; // bad duration
    doc.pools[1].auto_response = 'no-such-template'; // missing template
    doc.consultants[1].footer.image = path.join(cfg.dir, 'missing.jpg'); // unreadable footer image
    doc.instance.colour = 'blue'; // unknown key
    doc.smtp.port = 70000; // out of range
    doc.departments[0].email = 'not-an-address'; // bad e-mail
    fs.writeFileSync(cfg.configPath, YAML.stringify(doc));

    const r = await runCli(['config', 'check', '--config', cfg.configPath]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const expected = [
      'instance.colour: is not a known setting',
      'pools[0].response_deadline: must be a duration like 30s, 15m, 8h, 2d or 1w (got "soon")',
      'smtp.port: must be at most 65535',
      'departments[0].email: must be an e-mail address (got "not-an-address")',
    ];
    for (const line of expected) expect(r.stderr).toContain(line);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('reports reference problems once the document itself is well-formed', async () => {
    const cfg = await writeTestConfig({ dir: await tempDir() });
    const doc = cfg.doc;
    doc.mailboxes[1].pool = 'nonexistent';
    doc.mailboxes[1].address = doc.mailboxes[0].address;
    doc.consultants[2].id = 'sam';
    doc.pools[1].auto_response = 'no-such-template';
    doc.consultants[1].footer.image = path.join(cfg.dir, 'missing.jpg');
    doc.pools[1].questionnaire = 'nope';
    doc.consultants[0].pools[0].pool = 'ghost';
    fs.writeFileSync(cfg.configPath, YAML.stringify(doc));

    const r = await runCli(['config', 'check', '--config', cfg.configPath, '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { valid: boolean; issues: Array<{ path: string; message: string }> };
    expect(out.valid).toBe(false);
    const byPath = Object.fromEntries(out.issues.map((i) => [i.path, i.message]));
    expect(byPath['mailboxes[1].pool']).toMatch(/unknown pool "nonexistent"/);
    expect(byPath['mailboxes[1].address']).toMatch(/duplicates mailboxes\[0\]\.address/);
    expect(byPath['consultants[2].id']).toMatch(/duplicates consultants\[0\]\.id "sam"/);
    expect(byPath['pools[1].auto_response']).toMatch(/missing template "no-such-template"/);
    expect(byPath['consultants[1].footer.image']).toMatch(/cannot be read/);
    expect(byPath['pools[1].questionnaire']).toMatch(/unknown questionnaire "nope"/);
    expect(byPath['consultants[0].pools[0].pool']).toMatch(/unknown pool "ghost"/);
    expect(out.issues.length).toBeGreaterThanOrEqual(7);
  });

  it('refuses a template that does not compile, naming the file', async () => {
    const dir = await tempDir();
    const templates = path.join(dir, 'templates');
    fs.cpSync(path.join(REPO_ROOT, 'templates'), templates, { recursive: true });
    fs.mkdirSync(path.join(templates, 'pools', 'cards'), { recursive: true });
    fs.writeFileSync(path.join(templates, 'pools', 'cards', 'auto-response.hbs'), 'Subject: {{#if}}\n\nbody {{/each}}\n');
    const cfg = await writeTestConfig({ dir, overrides: { instance: { templates_dir: templates } } });
    const { issues } = loadConfig(cfg.configPath, {});
    expect(issues.map((i) => i.path)).toContain('templates/pools/cards/auto-response.hbs');
  });

  it('gives one sentence for a file that is not YAML, and for a missing file', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'broken.yaml');
    fs.writeFileSync(file, 'instance: [unclosed\n');
    const r = await runCli(['config', 'check', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(file);
    const missing = await runCli(['config', 'check', '--config', path.join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.yaml: does not exist/);
  });

  it('finds the config through MAILWARDEN_CONFIG when --config is absent', async () => {
    const cfg = await writeTestConfig({ dir: await tempDir() });
    const r = await runCli(['config', 'check'], { env: { MAILWARDEN_CONFIG: cfg.configPath } });
    expect(r.stdout).toContain(`${cfg.configPath} is valid`);
    expect(r.code).toBe(0);
  });
});

describe('durations and sizes', () => {
  it('parses the documented forms and rejects others', () => {
    expect(parseDuration('8h')).toBe(8 * 3600_000);
    expect(parseDuration('1h30m')).toBe(5400_000);
    expect(parseDuration('2d')).toBe(2 * 86_400_000);
    expect(parseDuration('soon')).toBeNull();
    expect(parseDuration('8')).toBeNull();
    expect(parseSize('25MB')).toBe(25 * 1024 * 1024);
    expect(parseSize(1000)).toBe(1000);
    expect(parseSize('lots')).toBeNull();
  });
});
