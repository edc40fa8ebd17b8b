// Renders a mail template (Subject line + text body) with Handlebars. Mail bodies are plain text,
// so nothing is HTML-escaped: `{{case.subject}}` prints "Fish & Chips", not "Fish &amp; Chips".
// Safety of headers is not the template's job: the subject is flattened by headers.ts after
// rendering, whatever the template or the variables contain.
import fs from 'node:fs';
import Handlebars from 'handlebars';
import { dataError } from '../errors.js';
import { resolveTemplateFile, splitTemplate, templateCandidates, type TemplateScope } from '../config/templates.js';

export interface Rendered {
  subject: string;
  text: string;
  /** The template file used, for logs and tests. */
  file: string;
}

interface Compiled {
  mtimeMs: number;
  subject: Handlebars.TemplateDelegate;
  body: Handlebars.TemplateDelegate;
}

// A long-running daemon renders the same few files again and again; recompiled when edited.
const cache = new Map<string, Compiled>();

const hbs = Handlebars.create();
/** A template value as text: nothing for null/undefined, JSON for an object (never "[object Object]"). */
const asText = (s: unknown): string => (typeof s === 'string' ? s : (JSON.stringify(s) ?? ''));
hbs.registerHelper('upper', (s: unknown) => asText(s).toUpperCase());
hbs.registerHelper('lower', (s: unknown) => asText(s).toLowerCase());
hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);

function compiled(file: string): Compiled {
  const mtimeMs = fs.statSync(file).mtimeMs;
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit;
  const { subject, body } = splitTemplate(fs.readFileSync(file, 'utf8'));
  const options = { noEscape: true, strict: false };
  const entry = { mtimeMs, subject: hbs.compile(subject, options), body: hbs.compile(body, options) };
  cache.set(file, entry);
  return entry;
}

export function renderTemplate(templatesDir: string, name: string, scope: TemplateScope, vars: Record<string, unknown>): Rendered {
  const file = resolveTemplateFile(templatesDir, name, scope);
  if (!file) {
    const tried = templateCandidates(templatesDir, name, scope).join(', ');
    throw dataError('ENOTEMPLATE', `No template "${name}" exists (looked for ${tried}).`);
  }
  try {
    const t = compiled(file);
    const text = t.body(vars).replace(/\r\n?/g, '\n');
    return { subject: t.subject(vars), text: text.endsWith('\n') ? text : text + '\n', file };
  } catch (err) {
    throw dataError('EBADTEMPLATE', `The template ${file} cannot be rendered: ${String((err as Error).message).split('\n')[0]}.`);
  }
}
