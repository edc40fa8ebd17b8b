// The kinds of value a mailwarden config holds (durations, sizes, paths, cron expressions, time
// zones, secrets…), each one zod schema that checks what the value means, says what is wrong in
// the house phrasing, and normalises it (durations to ms, sizes to bytes, paths made absolute).
// Every builder registers its documentation in `fieldDocs`, which the generated configuration
// reference reads: a field cannot exist without the sentence that explains it.
import fs from 'node:fs';
import path from 'node:path';
import cron from 'node-cron';
import { z } from 'zod';
import { isEmail, parseDuration, parseSize } from './validate.js';
import { secretRef, type SecretRef } from './secrets.js';

export interface FieldDoc {
  doc: string;
  /** How the reference names the kind of value: duration, path, list of string… */
  type: string;
  /** Replaces the default shown in the reference (for defaults that depend on the machine). */
  defaultText?: string;
}

/** Documentation of every field, keyed by its schema; read by ./reference.ts. */
export const fieldDocs = z.registry<FieldDoc>();

/** What the schema needs from the file being checked. */
export interface SchemaContext {
  /** Directory of the config file; relative paths resolve against it. */
  baseDir: string;
}

/** Registers a field's documentation (the outermost registration is the one the reference shows). */
export function documented<T extends z.ZodType>(schema: T, doc: FieldDoc): T {
  fieldDocs.add(schema, doc);
  return schema;
}

/** Names a value in a message: `a list`, `a mapping`, `number 3`, `string "x"`. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : `${typeof value} ${JSON.stringify(value)}`;
}

const got = (value: unknown) => JSON.stringify(value);

/** A type error message that says "is required" when the key is absent. */
const wrongType = (want: (input: unknown) => string) => (iss: { input?: unknown }) => (iss.input === undefined ? 'is required' : want(iss.input));

const fail = (ctx: z.RefinementCtx, message: string): never => {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
};

// YAML reads `folder: 2024` as a number; a text field takes it as the text it looks like.
const textInput = z.union([z.string(), z.number()], { error: wrongType((v) => `must be text, not ${describeValue(v)}`) });

export function text(doc: string, pattern?: { re: RegExp; says: string }) {
  const schema = textInput.transform((value, ctx) => {
    const s = String(value);
    return pattern && !pattern.re.test(s) ? fail(ctx, `${pattern.says} (got ${got(s)})`) : s;
  });
  return documented(schema, { doc, type: 'string' });
}

export function int(doc: string, bounds: { min?: number; max?: number } = {}) {
  const schema = z.unknown().transform((value, ctx) => {
    if (value === undefined) return fail(ctx, 'is required');
    if (typeof value !== 'number' || !Number.isInteger(value)) return fail(ctx, `must be a whole number (got ${describeValue(value)})`);
    if (bounds.min !== undefined && value < bounds.min) return fail(ctx, `must be at least ${bounds.min} (got ${value})`);
    if (bounds.max !== undefined && value > bounds.max) return fail(ctx, `must be at most ${bounds.max} (got ${value})`);
    return value;
  });
  return documented(schema, { doc, type: 'int' });
}

export function bool(doc: string) {
  return documented(z.boolean({ error: wrongType((v) => `must be true or false (got ${describeValue(v)})`) }), { doc, type: 'bool' });
}

/** A duration, normalised to ms; `min` (ms, with the text shown for it) refuses shorter ones. */
export function duration(doc: string, min?: { ms: number; text: string }) {
  const schema = z.unknown().transform((value, ctx) => {
    if (value === undefined) return fail(ctx, 'is required');
    const ms = typeof value === 'string' ? parseDuration(value) : null;
    if (ms === null || ms <= 0) return fail(ctx, `must be a duration like 30s, 15m, 8h, 2d or 1w (got ${got(value)})`);
    return min && ms < min.ms ? fail(ctx, `must be at least ${min.text} (got ${got(value)})`) : ms;
  });
  return documented(schema, { doc, type: 'duration' });
}

export function size(doc: string) {
  const schema = z.unknown().transform((value, ctx) => {
    const bytes = typeof value === 'string' || typeof value === 'number' ? parseSize(value) : null;
    return bytes === null || bytes <= 0 ? fail(ctx, `must be a size like 512KB or 25MB (got ${got(value)})`) : bytes;
  });
  return documented(schema, { doc, type: 'size' });
}

export function email(doc: string) {
  const schema = z.unknown().transform((value, ctx) => {
    if (value === undefined) return fail(ctx, 'is required');
    return typeof value === 'string' && isEmail(value) ? value.toLowerCase() : fail(ctx, `must be an e-mail address (got ${got(value)})`);
  });
  return documented(schema, { doc, type: 'email' });
}

/**
 * An http(s) URL a secret is sent to (an OAuth2 token endpoint): https, or plain http only to this
 * machine, where nothing on the network can read the secret on its way.
 */
export function secureUrl(doc: string) {
  const schema = text(doc).transform((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return fail(ctx, `must be a URL like https://login.example/token (got ${got(value)})`);
    }
    const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
    if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return url.href;
    return fail(ctx, `must be an https:// URL (http:// only on this machine: 127.0.0.1, [::1], localhost) (got ${got(value)})`);
  });
  return documented(schema, { doc, type: 'URL' });
}

/** A path relative to the config file, made absolute. */
export function filePath(ctx: SchemaContext, doc: string) {
  const schema = z.unknown().transform((value, rctx) => {
    if (typeof value !== 'string' || value === '') return fail(rctx, `must be a path (got ${describeValue(value)})`);
    return path.resolve(ctx.baseDir, value);
  });
  return documented(schema, { doc, type: 'path' });
}

/** A path to a file that must be readable now (a CA certificate, say). */
export function readableFile(ctx: SchemaContext, doc: string) {
  const schema = filePath(ctx, doc).transform((file, rctx) => {
    const problem = unreadable(file);
    return problem ? fail(rctx, `cannot be read (${file}: ${problem})`) : file;
  });
  return documented(schema, { doc, type: 'path' });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T, doc: string) {
  const schema = z.enum(values, { error: (iss) => `must be one of ${values.join(', ')} (got ${got(iss.input)})` });
  return documented(schema, { doc, type: values.join(' \\| ') });
}

/** A template name, or `false` for "send none". */
export function template(doc: string) {
  const schema = z.unknown().transform((value, ctx): string | false => {
    if (value === false) return false;
    if (typeof value !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/.test(value)) return fail(ctx, `must be a template name or false (got ${got(value)})`);
    return value;
  });
  return documented(schema, { doc, type: 'template name or false' });
}

/** Text of a minimum length in bytes (UTF-8) whose value is never repeated in a message (a signing key). */
export function secretText(doc: string, min: number) {
  const schema = text(doc).refine((s) => Buffer.byteLength(s) >= min, { error: `must be at least ${min} bytes long` });
  return documented(schema, { doc, type: 'string' });
}

export function cronExpression(doc: string) {
  const schema = text(doc).refine((expr) => cron.validate(expr), { error: (iss) => `is not a valid cron expression (got ${got(iss.input)})` });
  return documented(schema, { doc, type: 'cron' });
}

export function timeZone(doc: string) {
  const schema = text(doc).refine(isTimeZone, { error: (iss) => `${got(iss.input)} is not an IANA time zone (e.g. Europe/Warsaw, UTC)` });
  return documented(schema, { doc, type: 'IANA time zone' });
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * A password kept as written (`${ENV}`, `${file:/path}` or literal) and resolved only by the part
 * that connects, so commands that never connect never need it.
 */
export function secret(doc: string) {
  const schema = textInput.transform((value): SecretRef => secretRef(String(value)));
  return documented(schema, { doc, type: 'secret' });
}

/** The data directory: created when missing, so it must not be a file and its parent must be writable. */
export function dataDir(ctx: SchemaContext, doc: string) {
  const schema = filePath(ctx, doc).transform((dir, rctx) => {
    const problem = dataDirProblem(dir);
    return problem ? fail(rctx, problem) : dir;
  });
  return documented(schema, { doc, type: 'path' });
}

/** Why `dir` cannot serve as the data directory, or null. `access` is replaceable for tests. */
export function dataDirProblem(dir: string, access: (p: string, mode: number) => void = fs.accessSync): string | null {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch {
    stat = undefined;
  }
  if (stat && !stat.isDirectory()) return `${dir} is a file, not a directory`;
  // A missing directory is created with its missing parents: the nearest existing one must be writable.
  let existing = dir;
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  try {
    access(existing, fs.constants.W_OK);
    return null;
  } catch {
    return stat ? `${dir} is not writable` : `${dir} cannot be created: ${existing} is not writable`;
  }
}

export function list<T extends z.ZodType>(item: T, doc: string, opts: { nonEmpty?: string } = {}) {
  const base = z.array(item, { error: wrongType((v) => `must be a list, not ${describeValue(v)}`) });
  const schema = opts.nonEmpty ? base.min(1, { error: opts.nonEmpty }) : base;
  const itemType = fieldDocs.get(item)?.type;
  return documented(schema, { doc, type: itemType && itemType !== 'section' ? `list of ${itemType}` : 'list' });
}

export function section<T extends z.ZodRawShape>(shape: T, doc: string) {
  const known = Object.keys(shape).join(', ');
  const schema = z.strictObject(shape, {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `is not a known setting (known: ${known})`
        : iss.input === undefined
          ? 'is required'
          : `must be a mapping, not ${describeValue(iss.input)}`,
  });
  return documented(schema, { doc, type: 'section' });
}

export function map<T extends z.ZodType>(value: T, doc: string) {
  const schema = z.record(z.string(), value, { error: wrongType((v) => `must be a mapping, not ${describeValue(v)}`) });
  return documented(schema, { doc, type: 'map' });
}

function unreadable(file: string): string | null {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return fs.statSync(file).isFile() ? null : 'not a file';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}
