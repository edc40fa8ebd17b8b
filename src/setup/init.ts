// `mailwarden init [dir]`: a starting point an admin edits — the commented example config,
// the templates to override, a footer image — never overwriting without being told to.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { usageError } from '../errors.js';
import { BUILTIN_TEMPLATES_DIR } from '../config/load.js';

const EXAMPLE_DIR = fileURLToPath(new URL('../../config', import.meta.url));

export interface InitResult {
  dir: string;
  configPath: string;
  written: string[];
  /** Environment variables the config refers to, which must be set before it checks valid. */
  envNames: string[];
}

export function initProject(opts: { dir: string; force?: boolean }): InitResult {
  const dir = path.resolve(opts.dir);
  const configPath = path.join(dir, 'config', 'mailwarden.yaml');
  const targets = [configPath, path.join(dir, 'templates')];
  const existing = targets.filter((t) => fs.existsSync(t));
  if (existing.length > 0 && !opts.force) {
    throw usageError('EINITEXISTS', `${existing[0]} already exists.`);
  }
  const example = fs.readFileSync(path.join(EXAMPLE_DIR, 'mailwarden.example.yaml'), 'utf8');
  // The copy uses its own templates, so the admin edits files next to the config.
  const config = example.replace(
    /^ {2}# templates_dir: \.\.\/templates.*$/m,
    '  templates_dir: ../templates   # edit these; pools/<id>/ and mailboxes/<id>/ override',
  );
  fs.mkdirSync(path.join(dir, 'config', 'footers'), { recursive: true });
  fs.writeFileSync(configPath, config);
  fs.copyFileSync(path.join(EXAMPLE_DIR, 'footers', 'anna.jpg'), path.join(dir, 'config', 'footers', 'anna.jpg'));
  fs.cpSync(BUILTIN_TEMPLATES_DIR, path.join(dir, 'templates'), { recursive: true, force: true });
  const envNames = envReferences(YAML.parse(config));
  return {
    dir,
    configPath,
    written: [configPath, path.join(dir, 'config', 'footers', 'anna.jpg'), path.join(dir, 'templates')],
    envNames,
  };
}

/** ${NAME} references in the document's values (comments do not count). */
function envReferences(node: unknown, found = new Set<string>()): string[] {
  if (typeof node === 'string') for (const m of node.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) found.add(m[1]!);
  else if (node && typeof node === 'object') for (const v of Object.values(node)) envReferences(v, found);
  return [...found];
}
