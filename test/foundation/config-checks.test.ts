// What a config value means, not only its type (SPEC §2, issue 10): a real time zone, a cron that
// parses, at least one language, a long enough secret, a usable data dir; every problem in one
// pass; one line per YAML syntax error. In-process: no CLI, no server.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { formatIssue, loadConfig } from '../../src/config/load';
import { dataDirProblem } from '../../src/config/fields';
import { REPO_ROOT } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { makeTempDir, removeTempDir } from '../support/tmp';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeTempDir(d);
});

async function config(change: (doc: Record<string, any>, cfg: TestConfig) => void): Promise<{ cfg: TestConfig; lines: string[] }> {
  const dir = await makeTempDir('mw-cfgchk-');
  dirs.push(dir);
  const cfg = await writeTestConfig({ dir });
  change(cfg.doc, cfg);
  fs.writeFileSync(cfg.configPath, YAML.stringify(cfg.doc));
  const { issues } = loadConfig(cfg.configPath, {});
  return { cfg, lines: issues.map(formatIssue) };
}

describe('values are checked for what they mean', () => {
  it('refuses a time zone that is not an IANA zone', async () => {
    const { lines } = await config((doc) => (doc.instance.timezone = 'Europe/Warsw'));
    expect(lines).toEqual(['instance.timezone: "Europe/Warsw" is not an IANA time zone (e.g. Europe/Warsaw, UTC)']);
  });

  it('refuses a pool without languages', async () => {
    const { lines } = await config((doc) => (doc.pools[0].languages = []));
    expect(lines).toEqual(['pools[0].languages: must name at least one language']);
  });

  it('refuses a cron expression that does not parse', async () => {
    const { lines } = await config((doc) => (doc.schedule.reminders = '61 * * * *'));
    expect(lines).toEqual(['schedule.reminders: is not a valid cron expression (got "61 * * * *")']);
  });

  it('refuses a short secret without repeating it', async () => {
    const { lines } = await config((doc) => (doc.instance.secret = 'hunter2'));
    expect(lines).toEqual(['instance.secret: must be at least 32 bytes long']);
  });

  it('refuses a data_dir that is a file', async () => {
    const { cfg, lines } = await config((doc, c) => {
      fs.writeFileSync(path.join(c.dir, 'not-a-dir'), 'x');
      doc.instance.data_dir = 'not-a-dir';
    });
    expect(lines).toEqual([`instance.data_dir: ${path.join(cfg.dir, 'not-a-dir')} is a file, not a directory`]);
  });

  // Run as root, every directory is writable: the access check is handed in to be provoked.
  it('refuses a data_dir whose nearest existing parent is not writable', async () => {
    const dir = await makeTempDir('mw-cfgchk-');
    dirs.push(dir);
    const denied = (p: string) => {
      if (p === dir) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    };
    expect(dataDirProblem(path.join(dir, 'a', 'data'), denied)).toBe(`${path.join(dir, 'a', 'data')} cannot be created: ${dir} is not writable`);
    expect(dataDirProblem(dir, denied)).toBe(`${dir} is not writable`);
    expect(dataDirProblem(path.join(dir, 'a', 'data'))).toBeNull();
  });

  it('names a wrong type by what it is', async () => {
    const { lines } = await config((doc) => (doc.ingest.max_parts = 'many'));
    expect(lines).toEqual(['ingest.max_parts: must be a whole number (got string "many")']);
  });
});

describe('auto-response templates', () => {
  it('refuses a mailbox or pool naming a template no file provides, one line per field', async () => {
    const { lines } = await config((doc) => {
      doc.mailboxes[0].auto_response = 'holiday';
      doc.pools[0].auto_response = 'welcome';
    });
    const dir = path.join(REPO_ROOT, 'templates'); // the shipped templates: the test config names no templates_dir
    expect(lines).toEqual([
      `pools[0].auto_response: names missing template "welcome" (no welcome.hbs in ${dir})`,
      `mailboxes[0].auto_response: names missing template "holiday" (no holiday.hbs in ${dir})`,
    ]);
  });

  it('takes a named template from a pool or mailbox override directory', async () => {
    const { lines } = await config((doc, c) => {
      fs.cpSync(path.join(REPO_ROOT, 'templates'), path.join(c.dir, 'templates'), { recursive: true });
      doc.instance.templates_dir = path.join(c.dir, 'templates');
      doc.mailboxes[0].auto_response = 'holiday';
      const boxDir = path.join(c.dir, 'templates', 'mailboxes', doc.mailboxes[0].id);
      fs.mkdirSync(boxDir, { recursive: true });
      fs.writeFileSync(path.join(boxDir, 'holiday.hbs'), 'Subject: Away\n\nBack soon.\n');
      doc.pools[0].auto_response = 'welcome';
      const poolDir = path.join(c.dir, 'templates', 'pools', doc.pools[0].id);
      fs.mkdirSync(poolDir, { recursive: true });
      fs.writeFileSync(path.join(poolDir, 'welcome.hbs'), 'Subject: Welcome\n\nWe read every mail.\n');
    });
    expect(lines).toEqual([]);
  });
});

describe('every problem in one pass', () => {
  it('lists all six mistakes of a config at once, cross-references included', async () => {
    const { lines } = await config((doc) => {
      doc.instance.timezone = 'Europe/Warsw'; // not a zone
      doc.instance.colour = 'blue'; // unknown key
      doc.ingest.max_parts = 'many'; // wrong type
      doc.mailboxes[1].id = doc.mailboxes[0].id; // duplicate id
      doc.mailboxes[0].pool = 'nowhere'; // unknown pool
      doc.pools[0].languages = []; // no language
    });
    expect(lines).toHaveLength(6);
    expect(lines).toContain('instance.timezone: "Europe/Warsw" is not an IANA time zone (e.g. Europe/Warsaw, UTC)');
    expect(lines).toContainEqual(expect.stringMatching(/^instance\.colour: is not a known setting \(known: name, /));
    expect(lines).toContain('ingest.max_parts: must be a whole number (got string "many")');
    expect(lines).toContain('mailboxes[1].id: duplicates mailboxes[0].id "support"');
    expect(lines).toContain('mailboxes[0].pool: names unknown pool "nowhere" (known: general, cards)');
    expect(lines).toContain('pools[0].languages: must name at least one language');
  });

  it('still checks references in a list whose other items are broken', async () => {
    const { lines } = await config((doc) => {
      doc.consultants[1].email = 'not-an-address'; // this consultant fails the schema…
      doc.consultants[1].pools[0].pool = 'ghost'; // …and its reference is still checked
    });
    expect(lines).toContain('consultants[1].email: must be an e-mail address (got "not-an-address")');
    expect(lines).toContain('consultants[1].pools[0].pool: names unknown pool "ghost" (known: general, cards)');
    expect(lines).toHaveLength(2);
  });
});

describe('YAML syntax errors', () => {
  it('are one line with the file, line and column, even when the parser reports many', async () => {
    const dir = await makeTempDir('mw-cfgchk-');
    dirs.push(dir);
    const file = path.join(dir, 'config.yaml');
    fs.writeFileSync(
      file,
      'instance: { name: x, case_prefix: AB }\nmailboxes:\n  - id: a\n    imap: { host: x, password: ${X}, port: 993, tls: true, user: u, folder: INBOX }\n',
    );
    const { config: loaded, issues } = loadConfig(file, {});
    expect(loaded).toBeNull();
    expect(issues).toHaveLength(1);
    expect(formatIssue(issues[0]!)).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:33: YAML syntax error: .*quote a value holding`));
  });

  it('do not occur in any YAML example of the README or in the example config', () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    blocks.push(fs.readFileSync(path.join(REPO_ROOT, 'config', 'mailwarden.example.yaml'), 'utf8'));
    for (const block of blocks)
      expect(
        YAML.parseDocument(block).errors.map((e) => e.message),
        block,
      ).toEqual([]);
  });
});
