// Where mail templates live and which file wins. A template is `<name>.hbs`: a `Subject:` line,
// a blank line, then the text body, all Handlebars. Overrides: templates/mailboxes/<mailbox>/
// beats templates/pools/<pool>/ beats templates/. Within each of those, a translation
// `<name>.<language>.hbs` (e.g. auto-response.pl.hbs) beats `<name>.hbs` for a case in that language.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Config } from './types.js';
import type { ConfigIssue } from './validate.js';
import type { Loose } from './salvage.js';

/** Every kind of mail mailwarden sends; each needs a default template. */
export const TEMPLATE_NAMES = [
  'auto-response',
  'reply',
  'approval-request',
  'approval-rejected',
  'staff-mail-refused',
  'quarantine-notice',
  'consultation',
  'consultation-overdue',
  'consultation-withdrawn',
  'case-overdue',
  'reminder',
  'staff-notification',
  'message-parked',
  'auto-response-limit',
  'rating',
  'report',
] as const;

/** Templates needed only when a feature uses them, so an older templates_dir stays valid without them. */
function templateNeeded(config: Loose<Config>, name: TemplateName): boolean {
  if (name === 'rating') return (config.pools ?? []).some((p) => p?.ratings === true);
  if (name === 'report') return (config.reports ?? []).length > 0;
  return true;
}

export type TemplateName = (typeof TEMPLATE_NAMES)[number];

export interface TemplateScope {
  pool?: string;
  mailbox?: string;
  /** The case's language; picks `<name>.<language>.hbs` where one exists. */
  language?: string | null;
}

/** Candidate files for a template, most specific first. */
export function templateCandidates(templatesDir: string, name: string, scope: TemplateScope): string[] {
  const dirs: string[] = [];
  if (scope.mailbox) dirs.push(path.join(templatesDir, 'mailboxes', scope.mailbox));
  if (scope.pool) dirs.push(path.join(templatesDir, 'pools', scope.pool));
  dirs.push(templatesDir);
  const language = scope.language && /^[a-z]{2,3}(-[A-Za-z0-9]+)?$/.test(scope.language) ? scope.language : null;
  const files: string[] = [];
  for (const dir of dirs) {
    if (language) files.push(path.join(dir, `${name}.${language}.hbs`));
    files.push(path.join(dir, `${name}.hbs`));
  }
  return files;
}

/** The file that applies, or null when none exists. */
export function resolveTemplateFile(templatesDir: string, name: string, scope: TemplateScope): string | null {
  return templateCandidates(templatesDir, name, scope).find((f) => fs.existsSync(f)) ?? null;
}

export interface SplitTemplate {
  subject: string;
  body: string;
}

/** Splits a template file's text into its Subject line and body. Throws on a malformed file. */
export function splitTemplate(text: string): SplitTemplate {
  const normalised = text.replace(/\r\n/g, '\n');
  const m = /^Subject:[ \t]*(.*)\n\n([\s\S]*)$/.exec(normalised);
  if (!m) throw new Error('must start with a "Subject: …" line followed by a blank line');
  return { subject: m[1]!, body: m[2]! };
}

/** Problems with the templates the configuration needs: missing, malformed, or not compiling. */
/** Runs on a partly valid config too (every field may be missing): see config/salvage.ts. */
export function checkTemplates(config: Loose<Config>, compile = true): ConfigIssue[] {
  const dir = config.instance?.templates_dir;
  const issues: ConfigIssue[] = [];
  if (dir === undefined) return issues;
  if (!fs.existsSync(dir)) return [{ path: 'instance.templates_dir', message: `does not exist (${dir})` }];

  for (const name of TEMPLATE_NAMES) {
    if (templateNeeded(config, name) && !fs.existsSync(path.join(dir, `${name}.hbs`))) {
      issues.push({ path: 'instance.templates_dir', message: `lacks the template ${name}.hbs (${dir})` });
    }
  }
  (config.pools ?? []).forEach((pool, i) => {
    if (pool.auto_response && !resolveTemplateFile(dir, pool.auto_response, { pool: pool.id })) {
      issues.push({ path: `pools[${i}].auto_response`, message: `names missing template "${pool.auto_response}" (no ${pool.auto_response}.hbs in ${dir})` });
    }
  });
  (config.mailboxes ?? []).forEach((box, i) => {
    if (box.auto_response && !resolveTemplateFile(dir, box.auto_response, { pool: box.pool, mailbox: box.id })) {
      issues.push({ path: `mailboxes[${i}].auto_response`, message: `names missing template "${box.auto_response}" (no ${box.auto_response}.hbs in ${dir})` });
    }
  });
  if (!compile) return issues;
  for (const file of listTemplateFiles(dir)) {
    const problem = templateProblem(file);
    if (problem) issues.push({ path: `templates/${path.relative(dir, file)}`, message: problem });
  }
  return issues;
}

function listTemplateFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.hbs')) out.push(full);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Handlebars (a CommonJS package), loaded when a template is first compiled rather than with the
 * config: a command that compiles none (LoadOptions.compileTemplates) never pays for it.
 */
const requireCjs = createRequire(import.meta.url);
let handlebars: typeof import('handlebars') | undefined;

function templateProblem(file: string): string | null {
  try {
    const { subject, body } = splitTemplate(fs.readFileSync(file, 'utf8'));
    handlebars ??= requireCjs('handlebars') as typeof import('handlebars');
    handlebars.precompile(subject);
    handlebars.precompile(body);
    return null;
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    return `cannot be used: ${first}`;
  }
}
