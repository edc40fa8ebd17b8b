// The configuration reference, generated from the zod schema and the docs each field registers
// (./fields.ts). The README embeds this text between markers and a test compares the two, so the
// documentation cannot drift from the code.
import type { z } from 'zod';
import { fieldDocs, type FieldDoc } from './fields.js';
import { configSchema } from './schema.js';

export interface ReferenceRow {
  key: string;
  type: string;
  default: string;
  doc: string;
}

/** What the reference says about one field, found by looking through optional/default wrappers. */
interface Described {
  doc: FieldDoc | undefined;
  required: boolean;
  defaultValue: unknown;
  /** The field itself, without wrappers: an object or array is walked into. */
  inner: z.core.$ZodType;
}

function describe(schema: z.core.$ZodType): Described {
  const out: Described = { doc: undefined, required: true, defaultValue: undefined, inner: schema };
  for (let node = schema; ;) {
    out.doc ??= fieldDocs.get(node as z.ZodType);
    out.inner = node;
    const def = node._zod.def as z.core.$ZodTypeDef & { innerType?: z.core.$ZodType; defaultValue?: unknown };
    if (def.type !== 'optional' && def.type !== 'default' && def.type !== 'prefault') return out;
    out.required = false;
    if (def.type !== 'optional') out.defaultValue ??= def.defaultValue;
    node = def.innerType!;
  }
}

// The reference is the same for every file: the base directory only matters when parsing.
export function referenceRows(): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const walk = (schema: z.core.$ZodType, at: string, depth: number) => {
    const field = describe(schema);
    if (at) rows.push({ key: at, type: field.doc?.type ?? 'value', default: defaultText(field), doc: field.doc?.doc ?? '' });
    if (depth > 3 || at.endsWith('children')) return; // snippet children repeat the snippet's own keys
    const inner = field.inner._zod.def;
    if (inner.type === 'object') {
      for (const [k, sub] of Object.entries((inner as z.core.$ZodObjectDef).shape)) walk(sub, at ? `${at}.${k}` : k, depth + 1);
    }
    if (inner.type === 'array') {
      const element = describe((inner as z.core.$ZodArrayDef).element).inner._zod.def;
      if (element.type !== 'object') return;
      for (const [k, sub] of Object.entries((element as z.core.$ZodObjectDef).shape)) walk(sub, `${at}[].${k}`, depth + 1);
    }
  };
  walk(configSchema({ baseDir: '/' }), '', 0);
  return rows;
}

export function referenceMarkdown(): string {
  const lines = ['| key | type | default | meaning |', '| --- | --- | --- | --- |'];
  for (const r of referenceRows()) lines.push(`| \`${r.key}\` | ${r.type} | ${r.default} | ${r.doc.replace(/\|/g, '\\|')} |`);
  return lines.join('\n');
}

function defaultText(field: Described): string {
  if (field.doc?.defaultText !== undefined) return field.doc.defaultText;
  if (field.required) return 'required';
  const value = field.defaultValue;
  if (value === undefined) return '';
  if (typeof value === 'object') return Array.isArray(value) && value.length ? `\`${JSON.stringify(value)}\`` : '';
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}
