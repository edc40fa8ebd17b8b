// What can still be read from a config that failed validation: every field that is valid on its
// own, normalised as usual, with list items kept at their index. The cross-reference checks run
// on this, so an admin sees an unknown pool or a duplicate id in the same pass as a bad time zone
// elsewhere, instead of only after fixing it.
import type { z } from 'zod';

/** A config in which any field may be missing (because it was invalid). */
export type Loose<T> = T extends (infer U)[] ? Loose<U>[] : T extends object ? { [K in keyof T]?: Loose<T[K]> } : T;

export function salvage(schema: z.ZodType, raw: unknown): unknown {
  const whole = schema.safeParse(raw);
  if (whole.success) return whole.data;
  const def = unwrap(schema)._zod.def;
  if (def.type === 'object' && isMapping(raw)) {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries((def as z.core.$ZodObjectDef).shape)) {
      const value = salvage(field as z.ZodType, raw[key]);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
  // Items stay at their index (an item with nothing valid becomes {}), so paths stay true.
  if (def.type === 'array' && Array.isArray(raw)) {
    const element = (def as z.core.$ZodArrayDef).element as z.ZodType;
    return raw.map((item) => salvage(element, item) ?? {});
  }
  return undefined;
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let node = schema;
  for (let def = node._zod.def; def.type === 'optional' || def.type === 'default' || def.type === 'prefault'; def = node._zod.def) {
    node = (def as z.core.$ZodOptionalDef).innerType;
  }
  return node;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
