// Finds, reads, expands and validates the configuration. Every problem is collected, so an admin
// fixes the file in one go rather than one error per run.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { MailwardenError } from '../errors.js';
import { configSchema } from './schema.js';
import { checkReferences } from './crossref.js';
import { validateValue, type ConfigIssue } from './validate.js';
import type { Config, SnippetNode } from './types.js';

/** The templates shipped with mailwarden (used when instance.templates_dir is not set). */
export const BUILTIN_TEMPLATES_DIR = fileURLToPath(new URL('../../templates', import.meta.url));

export interface LoadResult {
  config: Config | null;
  issues: ConfigIssue[];
  path: string;
}

/** --config beats MAILWARDEN_CONFIG beats config/mailwarden.yaml (relative to the working dir). */
export function findConfigPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(explicit ?? env.MAILWARDEN_CONFIG ?? 'config/mailwarden.yaml');
}

/** Replaces ${NAME} with the environment's value; unset names are reported, not left in place. */
export function expandEnv(text: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[], at = ''): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, name: string) => {
    const value = env[name];
    if (value === undefined) {
      issues.push({ path: at || '(top)', message: `uses \${${name}}, which is not set in the environment` });
      return '';
    }
    return value;
  });
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`;
    return { config: null, path: file, issues: [{ path: file, message: why }] };
  }
  const issues: ConfigIssue[] = [];
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { config: null, path: file, issues: doc.errors.map((e) => ({ path: file, message: e.message.split('\n')[0]! })) };
  }
  const raw = expandInTree(doc.toJS(), env, issues);
  const baseDir = path.dirname(file);
  if (raw && typeof raw === 'object' && typeof (raw as Record<string, unknown>).snippets === 'string') {
    (raw as Record<string, unknown>).snippets = readSnippetsFile(path.resolve(baseDir, (raw as Record<string, string>).snippets!), env, issues);
  }
  const value = validateValue(raw ?? {}, configSchema, '', { baseDir, issues }) as Omit<Config, 'sourcePath'> | undefined;
  if (!value || issues.length > 0) return { config: null, path: file, issues };

  const config = { ...value, sourcePath: file } as Config;
  config.instance.templates_dir ??= BUILTIN_TEMPLATES_DIR;
  issues.push(...checkReferences(config));
  return { config: issues.length ? null : config, path: file, issues };
}

/** Loads or throws a config error listing every problem (for commands that need a valid config). */
export function requireConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const result = loadConfig(file, env);
  if (!result.config) {
    const lines = result.issues.map(formatIssue);
    throw new MailwardenError('config', 'EINVALIDCONFIG', `The configuration ${file} is invalid: ${lines.length} problem(s).`, lines);
  }
  return result.config;
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.path}: ${issue.message}`;
}

// Expanding after parsing (on string values only) means a secret containing YAML syntax
// cannot change the document's structure.
function expandInTree(node: unknown, env: NodeJS.ProcessEnv, issues: ConfigIssue[], at = ''): unknown {
  if (typeof node === 'string') return expandEnv(node, env, issues, at);
  if (Array.isArray(node)) return node.map((n, i) => expandInTree(n, env, issues, `${at}[${i}]`));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, expandInTree(v, env, issues, at ? `${at}.${k}` : k)]));
  }
  return node;
}

function readSnippetsFile(file: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): SnippetNode[] | undefined {
  try {
    const parsed = YAML.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return expandInTree(parsed, env, issues, 'snippets') as SnippetNode[];
  } catch (err) {
    issues.push({ path: 'snippets', message: `cannot read snippets file ${file}: ${(err as Error).message.split('\n')[0]}` });
    return undefined;
  }
}
