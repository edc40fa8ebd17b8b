// The value grammar the schema shares with the rest of the code (durations, sizes, addresses) and
// the shape every config problem takes: `path.to.field: what is wrong`, with zod's issues turned
// into that shape (one problem per unknown key, paths written as in the YAML).
import type { z } from 'zod';

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

/** Writes milliseconds back in that grammar, largest units first: 5400000 -> `1h30m`. */
export function formatDuration(ms: number): string {
  let rest = Math.max(0, Math.round(ms));
  let out = '';
  for (const unit of ['w', 'd', 'h', 'm', 's', 'ms']) {
    const size = UNITS_MS[unit]!;
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out || '0s';
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

/** `['pools', 1, 'languages']` -> `pools[1].languages`. */
function issuePath(at: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of at) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out || '(top)';
}

export function fromZodIssues(issues: ReadonlyArray<z.core.$ZodIssue>): ConfigIssue[] {
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: issuePath([...issue.path, key]), message: issue.message }))
      : [{ path: issuePath(issue.path), message: issue.message }],
  );
}
