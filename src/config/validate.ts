// Walks a YAML document against the schema, collecting every problem instead of stopping at the
// first, and returns the value with defaults applied and durations/sizes converted.
import path from 'node:path';
import cron from 'node-cron';
import type { Field } from './schema.js';

export interface ConfigIssue {
  path: string;
  message: string;
}

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const UNITS_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Parses `90s`, `15m`, `8h`, `2d`, `1w`, `1h30m`; returns null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const s = text.trim().toLowerCase();
  if (!/^(\d+(ms|s|m|h|d|w))+$/.test(s)) return null;
  let total = 0;
  for (const m of s.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) total += Number(m[1]) * UNITS_MS[m[2]!]!;
  return total;
}

/** Parses `25MB`, `512KB`, `1GB`, or a plain number of bytes. */
export function parseSize(text: string | number): number | null {
  if (typeof text === 'number') return Number.isInteger(text) && text >= 0 ? text : null;
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * UNITS_BYTES[(m[2] ?? 'b').toLowerCase()]!);
}

// Deliberately simple: one @, no spaces or control characters, a dot in the domain.
const EMAIL = /^[^\s@<>()",;:\\\x00-\x1f]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;
export function isEmail(text: string): boolean {
  return EMAIL.test(text);
}

export interface ValidateContext {
  /** Directory of the config file; relative paths resolve against it. */
  baseDir: string;
  issues: ConfigIssue[];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : `${typeof value} ${JSON.stringify(value)}`;
}

export function validateValue(value: unknown, field: Field, at: string, ctx: ValidateContext): unknown {
  const problem = (message: string): undefined => {
    ctx.issues.push({ path: at || '(top)', message });
    return undefined;
  };
  if (value === undefined || value === null) {
    if (field.default !== undefined) return validateValue(structuredClone(field.default), field, at, ctx);
    if (field.required) return problem('is required');
    return undefined;
  }
  switch (field.type) {
    case 'string':
    case 'cron': {
      if (typeof value === 'number') value = String(value);
      if (typeof value !== 'string') return problem(`must be text, not ${describe(value)}`);
      if (field.pattern && !field.pattern.re.test(value)) return problem(`${field.pattern.says} (got ${JSON.stringify(value)})`);
      if (field.type === 'cron' && !cron.validate(value)) return problem(`is not a valid cron expression (got ${JSON.stringify(value)})`);
      return value;
    }
    case 'email':
      if (typeof value !== 'string' || !isEmail(value)) return problem(`must be an e-mail address (got ${JSON.stringify(value)})`);
      return value.toLowerCase();
    case 'path':
      if (typeof value !== 'string' || value === '') return problem(`must be a path (got ${describe(value)})`);
      return path.resolve(ctx.baseDir, value);
    case 'int': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return problem(`must be a whole number (got ${describe(value)})`);
      if (field.min !== undefined && value < field.min) return problem(`must be at least ${field.min} (got ${value})`);
      if (field.max !== undefined && value > field.max) return problem(`must be at most ${field.max} (got ${value})`);
      return value;
    }
    case 'bool':
      if (typeof value !== 'boolean') return problem(`must be true or false (got ${describe(value)})`);
      return value;
    case 'duration': {
      const ms = typeof value === 'string' ? parseDuration(value) : null;
      if (ms === null || ms <= 0) return problem(`must be a duration like 30s, 15m, 8h, 2d or 1w (got ${JSON.stringify(value)})`);
      return ms;
    }
    case 'size': {
      const bytes = typeof value === 'string' || typeof value === 'number' ? parseSize(value) : null;
      if (bytes === null || bytes <= 0) return problem(`must be a size like 512KB or 25MB (got ${JSON.stringify(value)})`);
      return bytes;
    }
    case 'enum':
      if (typeof value !== 'string' || !field.values!.includes(value)) {
        return problem(`must be one of ${field.values!.join(', ')} (got ${JSON.stringify(value)})`);
      }
      return value;
    case 'template':
      if (value === false && field.allowFalse) return false;
      if (typeof value !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/.test(value)) {
        return problem(`must be a template name${field.allowFalse ? ' or false' : ''} (got ${JSON.stringify(value)})`);
      }
      return value;
    case 'array': {
      if (!Array.isArray(value)) return problem(`must be a list, not ${describe(value)}`);
      return value.map((item, i) => validateValue(item, field.items!, `${at}[${i}]`, ctx));
    }
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) return problem(`must be a mapping, not ${describe(value)}`);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = validateValue(v, field.items!, `${at}.${k}`, ctx);
      return out;
    }
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return problem(`must be a mapping, not ${describe(value)}`);
      const out: Record<string, unknown> = {};
      const fields = field.fields ?? {};
      for (const key of Object.keys(value)) {
        if (!(key in fields)) ctx.issues.push({ path: join(at, key), message: `is not a known setting (known: ${Object.keys(fields).join(', ')})` });
      }
      for (const [key, sub] of Object.entries(fields)) {
        const v = validateValue((value as Record<string, unknown>)[key], sub, join(at, key), ctx);
        if (v !== undefined) out[key] = v;
      }
      return out;
    }
  }
}

function join(at: string, key: string): string {
  return at ? `${at}.${key}` : key;
}
