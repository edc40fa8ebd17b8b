// Finds, reads, expands and validates the configuration. Every problem is collected in one pass
// (schema problems, and cross-references among the parts that are well-formed), so an admin fixes
// the file in one go rather than one batch per run. Passwords stay unresolved references here;
// `checkSecrets` says whether they would resolve now (config check, the daemon).
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { MailwardenError } from '../errors.js';
import { configSchema, BUILTIN_TEMPLATES_DIR } from './schema.js';
import { checkReferences } from './crossref.js';
import { salvage, type Loose } from './salvage.js';
import { expandReferences, isSecretPath, secretProblems } from './secrets.js';
import { fromZodIssues, type ConfigIssue } from './validate.js';
import type { Config, LoginAuth, SnippetNode } from './types.js';
import { sha256, writeCachedConfig, type ConfigSources } from './cache.js';
import { findConfigPath } from './locate.js';

export { BUILTIN_TEMPLATES_DIR, findConfigPath };

export interface LoadResult {
  config: Config | null;
  issues: ConfigIssue[];
  path: string;
}

export interface LoadOptions {
  /**
   * Also report passwords that cannot be resolved now (unset variable, unreadable file). For
   * `config check` and the daemon; commands that never connect leave it off.
   */
  checkSecrets?: boolean;
  /**
   * Compile every template to find the ones that cannot be used (default true). Off for the
   * commands that only read cases (`cases`, `show`, `next`, `pools`): they render no mail, and
   * loading Handlebars and compiling each template was a good part of their start-up. Whether
   * each needed template exists is checked either way.
   */
  compileTemplates?: boolean;
}

/** Replaces ${NAME} and ${file:/path}; what cannot be resolved is reported, not left in place. */
function expandEnv(text: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[], at = ''): string {
  return expandReferences(text, env, (message) => issues.push({ path: at || '(top)', message }));
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): LoadResult {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`;
    return { config: null, path: file, issues: [{ path: file, message: why }] };
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) return { config: null, path: file, issues: [syntaxIssue(file, text, doc.errors[0]!)] };

  const issues: ConfigIssue[] = [];
  const sources: ConfigSources = { snippets: null, expanded: 0 };
  const raw = expandInTree(doc.toJS(), env, issues, sources);
  const baseDir = path.dirname(file);
  if (raw && typeof raw === 'object' && typeof (raw as Record<string, unknown>).snippets === 'string') {
    (raw as Record<string, unknown>).snippets = readSnippetsFile(path.resolve(baseDir, (raw as Record<string, string>).snippets!), env, issues, sources);
  }
  const schema = configSchema({ baseDir });
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) issues.push(...fromZodIssues(parsed.error.issues));
  const value = (parsed.success ? parsed.data : salvage(schema, raw ?? {})) as Loose<Config>;
  // A field the schema found wrong is not reported again as missing by the cross-checks.
  const reported = new Set(issues.map((i) => i.path));
  issues.push(...checkReferences(value, { compileTemplates: opts.compileTemplates ?? true }).filter((i) => !reported.has(i.path)));
  if (opts.checkSecrets) issues.push(...checkSecrets(value, env));
  if (!parsed.success || issues.length > 0) return { config: null, path: file, issues };
  const config: Config = { ...parsed.data, sourcePath: file };
  writeCachedConfig(config, text, sources, env);
  return { config, path: file, issues };
}

/** Loads or throws a config error listing every problem (for commands that need a valid config). */
export function requireConfig(file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Config {
  const result = loadConfig(file, env, opts);
  if (!result.config) {
    const lines = result.issues.map(formatIssue);
    throw new MailwardenError('config', 'EINVALIDCONFIG', `The configuration ${file} is invalid: ${lines.length} problem(s).`, lines);
  }
  return result.config;
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.path}: ${issue.message}`;
}

/** Every secret that would not resolve now (passwords, OAuth2 client secrets and refresh tokens), by the field that holds it. */
function checkSecrets(config: Loose<Config>, env: NodeJS.ProcessEnv = process.env): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const check = (ref: { secret?: string } | undefined, at: string) => {
    if (ref?.secret !== undefined) for (const message of secretProblems({ secret: ref.secret }, env)) issues.push({ path: at, message });
  };
  const checkLogin = (login: { password?: { secret?: string }; auth?: Loose<LoginAuth> } | undefined, at: string) => {
    check(login?.password, `${at}.password`);
    if (login?.auth?.method !== 'xoauth2') return;
    check(login.auth.client_secret, `${at}.auth.client_secret`);
    if (login.auth.grant !== 'client_credentials') check(login.auth.refresh_token, `${at}.auth.refresh_token`);
  };
  checkLogin(config.smtp, 'smtp');
  (config.mailboxes ?? []).forEach((box, i) => checkLogin(box.imap, `mailboxes[${i}].imap`));
  return issues;
}

// The parser's first error is the one to fix; the ones after it are mostly its echoes (an
// unquoted ${X} in a flow mapping gave hundreds), so one line with its position is shown.
function syntaxIssue(file: string, text: string, error: YAML.YAMLError): ConfigIssue {
  const pos = error.linePos?.[0];
  const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
  const what = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const line = pos ? (text.split('\n')[pos.line - 1] ?? '') : '';
  const hint = /\$\{/.test(line) && /[{[]/.test(line) ? ' (inside { } or [ ], quote a value holding ${…}: "${NAME}")' : '';
  return { path: where, message: `YAML syntax error: ${what}${hint}` };
}

// Expanding after parsing (on string values only) means a secret containing YAML syntax
// cannot change the document's structure. Passwords are left as written: see ./secrets.ts.
// Every expansion is counted: a config that took values from outside its files is not kept (./cache.ts).
function expandInTree(node: unknown, env: NodeJS.ProcessEnv, issues: ConfigIssue[], sources: ConfigSources, at = ''): unknown {
  if (typeof node === 'string') {
    if (isSecretPath(at) || !node.includes('${')) return node;
    sources.expanded++;
    return expandEnv(node, env, issues, at);
  }
  if (Array.isArray(node)) return node.map((n, i) => expandInTree(n, env, issues, sources, `${at}[${i}]`));
  if (node && typeof node === 'object') {
    // `key:` with nothing after it means "not set", as if the key were absent.
    const present = Object.entries(node).filter(([, v]) => v !== null);
    return Object.fromEntries(present.map(([k, v]) => [k, expandInTree(v, env, issues, sources, at ? `${at}.${k}` : k)]));
  }
  return node;
}

/**
 * The snippets tree from its own file. Only where that file went wrong is said, never what it
 * holds: a path pointing at the wrong file (a key, /etc/shadow) must not put its lines into the
 * `config check` output or the daemon's log.
 */
function readSnippetsFile(file: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[], sources: ConfigSources): SnippetNode[] | undefined {
  const problem = (why: string) => {
    issues.push({ path: 'snippets', message: `the snippets file ${file} ${why}` });
    return undefined;
  };
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return problem(code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`);
  }
  sources.snippets = { file, sha256: sha256(text) };
  const doc = YAML.parseDocument(text, { uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    const pos = error.linePos?.[0];
    return problem(`is not valid YAML${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`);
  }
  const tree = doc.toJS() as unknown;
  if (tree === null || tree === undefined) return [];
  if (!Array.isArray(tree)) return problem(`must hold a YAML list of snippets, not ${typeof tree === 'object' ? 'a mapping' : 'text'}`);
  return expandInTree(tree, env, issues, sources, 'snippets') as SnippetNode[];
}
