// The configuration reference, generated from the schema. The README embeds this text between
// markers and a test compares the two, so the documentation cannot drift from the code.
import { configSchema, type Field } from './schema.js';

export interface ReferenceRow {
  key: string;
  type: string;
  default: string;
  doc: string;
}

export function referenceRows(): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const walk = (field: Field, at: string, depth: number) => {
    if (at) rows.push({ key: at, type: typeName(field), default: defaultText(field), doc: field.doc });
    if (depth > 3) return;
    if (field.type === 'object') for (const [k, sub] of Object.entries(field.fields ?? {})) walk(sub, at ? `${at}.${k}` : k, depth + 1);
    if (field.type === 'array' && field.items?.type === 'object') {
      for (const [k, sub] of Object.entries(field.items.fields ?? {})) {
        if (at.endsWith('children')) continue; // snippet children repeat the snippet's own keys
        walk(sub, `${at}[].${k}`, depth + 1);
      }
    }
  };
  walk(configSchema, '', 0);
  return rows;
}

export function referenceMarkdown(): string {
  const lines = ['| key | type | default | meaning |', '| --- | --- | --- | --- |'];
  for (const r of referenceRows()) lines.push(`| \`${r.key}\` | ${r.type} | ${r.default} | ${r.doc.replace(/\|/g, '\\|')} |`);
  return lines.join('\n');
}

function typeName(field: Field): string {
  if (field.type === 'enum') return field.values!.join(' \\| ');
  if (field.type === 'array') return field.items?.type === 'object' ? 'list' : `list of ${field.items?.type ?? 'values'}`;
  if (field.type === 'template') return field.allowFalse ? 'template name or false' : 'template name';
  if (field.type === 'object') return 'section';
  return field.type;
}

function defaultText(field: Field): string {
  if (field.required) return 'required';
  if (field.default === undefined) return '';
  if (typeof field.default === 'object') return Array.isArray(field.default) && field.default.length ? `\`${JSON.stringify(field.default)}\`` : '';
  return `\`${String(field.default)}\``;
}
