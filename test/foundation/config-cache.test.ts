// The kept configuration (src/config/cache.ts, issue 18): the commands that render no mail start
// from the result of the last full validation, but only while it still stands for the file. Each
// way it could stop standing is provoked here: the file edited, the snippets file edited, another
// build, a config drawing values from the environment, a directory others may write. The CLI
// runs show a consultant's command taking it and an edited, now invalid file still refused.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { readCachedConfig } from '../../src/config/cache';
import { loadConfig } from '../../src/config/load';
import { runCli } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { makeTempDir, removeTempDir } from '../support/tmp';

const dirs: string[] = [];
let cacheDir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const dir = await makeTempDir('mw-config-cache-');
  dirs.push(dir);
  cacheDir = path.join(dir, 'cache');
  env = { ...process.env, MAILWARDEN_CACHE_DIR: cacheDir };
});
afterAll(async () => {
  for (const d of dirs) await removeTempDir(d);
});

async function config(overrides: Record<string, unknown> = {}): Promise<TestConfig> {
  const cfg = await writeTestConfig({ overrides });
  dirs.push(cfg.dir);
  return cfg;
}

/** undefined members are not written to JSON, and mean the same as absent ones. */
function withoutUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutUndefined);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).flatMap(([k, x]) => (x === undefined ? [] : [[k, withoutUndefined(x)]])));
  return v;
}

function entryFiles(): string[] {
  return fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).filter((n) => n.startsWith('config-')) : [];
}

describe('the kept configuration', () => {
  it('is the full validation’s result, value for value, in a private directory', async () => {
    const cfg = await config();
    const full = loadConfig(cfg.configPath, env).config!;
    expect(full).not.toBeNull();
    const kept = readCachedConfig(cfg.configPath, env);
    expect(kept).toEqual(withoutUndefined(full));
    expect(fs.statSync(cacheDir).mode & 0o777).toBe(0o700);
    for (const name of entryFiles()) expect(fs.statSync(path.join(cacheDir, name)).mode & 0o777).toBe(0o600);
  });

  it('stops standing when the file is edited, even keeping its size', async () => {
    const cfg = await config();
    loadConfig(cfg.configPath, env);
    const text = fs.readFileSync(cfg.configPath, 'utf8');
    fs.writeFileSync(cfg.configPath, text.replace('Test Desk', 'Test Dusk'));
    expect(readCachedConfig(cfg.configPath, env)).toBeNull();
    expect(loadConfig(cfg.configPath, env).config!.instance.name).toBe('Test Dusk');
    expect(readCachedConfig(cfg.configPath, env)!.instance.name).toBe('Test Dusk');
  });

  it('stops standing when the snippets file is edited', async () => {
    const cfg = await config();
    const snippets = path.join(cfg.dir, 'snippets.yaml');
    fs.writeFileSync(snippets, YAML.stringify([{ code: 'hello', title: 'Opening', text: { en: 'Hello,' } }]));
    fs.writeFileSync(cfg.configPath, YAML.stringify({ ...cfg.doc, snippets: 'snippets.yaml' }));
    expect(loadConfig(cfg.configPath, env).config).not.toBeNull();
    expect(readCachedConfig(cfg.configPath, env)).not.toBeNull();
    fs.writeFileSync(snippets, YAML.stringify([{ code: 'hello', title: 'Opening', text: { en: 'Hello again,' } }]));
    expect(readCachedConfig(cfg.configPath, env)).toBeNull();
  });

  it('is not kept when an ordinary field takes a value from the environment (it may be a secret)', async () => {
    const cfg = await config({ instance: { secret: '${MW_TEST_INSTANCE_SECRET}' } });
    const withSecret = { ...env, MW_TEST_INSTANCE_SECRET: 'from-the-environment-0123456789-abcdef' };
    expect(loadConfig(cfg.configPath, withSecret).config!.instance.secret).toBe('from-the-environment-0123456789-abcdef');
    expect(readCachedConfig(cfg.configPath, withSecret)).toBeNull();
    for (const name of entryFiles()) expect(fs.readFileSync(path.join(cacheDir, name), 'utf8')).not.toContain('from-the-environment');
  });

  it('is kept when only passwords name the environment: they stay references', async () => {
    const cfg = await writeTestConfig({
      imap: { host: '127.0.0.1', port: 1143 },
      mailboxes: [{ id: 'support', address: 'alice@example.test', pool: 'general', password: '${MW_TEST_IMAP_PW}' }],
    });
    dirs.push(cfg.dir);
    loadConfig(cfg.configPath, { ...env, MW_TEST_IMAP_PW: 'hunter2-not-on-disk' });
    const kept = readCachedConfig(cfg.configPath, env);
    expect(kept!.mailboxes[0]!.imap!.password).toEqual({ secret: '${MW_TEST_IMAP_PW}' });
    for (const name of entryFiles()) expect(fs.readFileSync(path.join(cacheDir, name), 'utf8')).not.toContain('hunter2');
  });

  it('is not taken from another build, nor from a directory others may write', async () => {
    const cfg = await config();
    loadConfig(cfg.configPath, env);
    const [name] = entryFiles().filter((n) => JSON.parse(fs.readFileSync(path.join(cacheDir, n), 'utf8')).file === cfg.configPath);
    const file = path.join(cacheDir, name!);
    const entry = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...entry, build: 'v0.0.0:older' }));
    expect(readCachedConfig(cfg.configPath, env)).toBeNull();
    fs.writeFileSync(file, JSON.stringify(entry));
    expect(readCachedConfig(cfg.configPath, env)).not.toBeNull();
    fs.chmodSync(cacheDir, 0o777);
    try {
      expect(readCachedConfig(cfg.configPath, env)).toBeNull();
    } finally {
      fs.chmodSync(cacheDir, 0o700);
    }
  });

  it('a consultant’s command takes it; once the file is broken the command refuses, exit 78', async () => {
    const cfg = await config();
    const cli = (args: string[]) => runCli([...args, '--config', cfg.configPath], { env: { MAILWARDEN_CACHE_DIR: cacheDir } });
    expect((await cli(['cases', '--json'])).code).toBe(0);
    // Written by the compiled CLI (another build than these sources): read as a file here.
    const [name] = entryFiles().filter((n) => JSON.parse(fs.readFileSync(path.join(cacheDir, n), 'utf8')).file === cfg.configPath);
    expect(name).toBeDefined();
    // Proof that the next run took the kept result: it is pointed at another data dir, and used it.
    const entry = JSON.parse(fs.readFileSync(path.join(cacheDir, name!), 'utf8'));
    const elsewhere = path.join(cfg.dir, 'elsewhere');
    entry.config.instance.data_dir = elsewhere;
    fs.writeFileSync(path.join(cacheDir, name!), JSON.stringify(entry));
    expect((await cli(['cases', '--json'])).code).toBe(0);
    expect(fs.existsSync(path.join(elsewhere, 'mailwarden.sqlite'))).toBe(true);
    fs.writeFileSync(cfg.configPath, YAML.stringify({ ...cfg.doc, pools: 'not a list' }));
    const refused = await cli(['cases']);
    expect(refused.code).toBe(78);
    expect(refused.stderr).toMatch(/pools/);
  });

  it('spares a consultant’s command the YAML parser and zod, which the full validation loads from their own bundles', async () => {
    const cfg = await config();
    // Node's module loader, told every request by a preload, lists them in a file at exit.
    const preload = path.join(cfg.dir, 'list-loads.cjs');
    const listed = path.join(cfg.dir, 'loads.json');
    fs.writeFileSync(
      preload,
      `const Module = require('node:module'); const load = Module._load; const seen = new Set();
Module._load = function (request, ...rest) { seen.add(request); return load.call(this, request, ...rest); };
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(listed)}, JSON.stringify([...seen])));`,
    );
    const loadsOf = async (args: string[]) => {
      const r = await runCli([...args, '--config', cfg.configPath], { env: { MAILWARDEN_CACHE_DIR: cacheDir, NODE_OPTIONS: `--require ${preload}` } });
      expect(r.code).toBe(0);
      return JSON.parse(fs.readFileSync(listed, 'utf8')) as string[];
    };
    // The first run validates the file: both come from the files beside the CLI's bundle.
    expect(await loadsOf(['cases', '--json'])).toEqual(expect.arrayContaining(['./zod.cjs', './yaml.cjs']));
    const kept = await loadsOf(['cases', '--json']);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.filter((m) => /zod|yaml/.test(m))).toEqual([]);
  });
});
