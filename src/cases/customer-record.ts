// The customer record (SPEC §5 "Customer"): name, phone, organisation and notes kept per address,
// beside the cases the customer's mail opened. Addresses are compared ignoring case, as threading
// and `customer` always did, so the record is keyed by the lower-case address. An edit never
// overwrites silently: every changed field is one append-only customer_changes row (who, when,
// from, to), the same rule as case history.
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config, ConsultantConfig } from '../config/types.js';
import { checkNoRecordCollision } from './collision.js';
import type { DB } from '../db/schema.js';
import { dataError, usageError } from '../errors.js';

export const CUSTOMER_FIELDS = ['name', 'phone', 'organisation', 'notes'] as const;
export type CustomerField = (typeof CUSTOMER_FIELDS)[number];

/** Text fields hold at most this many characters (SPEC §5). */
const MAX_FIELD_LENGTH = 2000;

export interface CustomerChangeView {
  at: string;
  actor: string;
  field: string;
  from: string | null;
  to: string | null;
}

export interface CustomerRecordView {
  address: string;
  name: string | null;
  phone: string | null;
  organisation: string | null;
  notes: string | null;
  /** false when nothing was ever recorded for the address (the fields are then null) */
  recorded: boolean;
  updated_at: string | null;
  updated_by: string | null;
  changes: CustomerChangeView[];
}

/** The key of a customer: the address trimmed and in lower case; refuses what is not an address. */
export function customerKey(address: string): string {
  const key = address.trim().toLowerCase();
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(key)) throw usageError('EBADADDRESS', `"${address}" is not an e-mail address.`);
  return key;
}

/** `name=Jan Kowalski` pairs from the command line, checked: known fields, at most 2000 characters. */
export function parseCustomerSets(pairs: string[]): Partial<Record<CustomerField, string | null>> {
  const out: Partial<Record<CustomerField, string | null>> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const field = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    if (!(CUSTOMER_FIELDS as readonly string[]).includes(field)) {
      throw usageError('EBADFIELD', `A customer record has no field "${field}" (fields: ${CUSTOMER_FIELDS.join(', ')}).`);
    }
    if (eq < 0) throw usageError('EBADFIELD', `Give the ${field} as ${field}=value (an empty value clears it).`);
    const value = pair.slice(eq + 1).trim();
    if (value.length > MAX_FIELD_LENGTH) {
      throw dataError('ETOOLONG', `The value of ${field} is ${value.length} characters long; at most ${MAX_FIELD_LENGTH} are allowed.`);
    }
    out[field as CustomerField] = value === '' ? null : value;
  }
  if (Object.keys(out).length === 0) throw usageError('EBADFIELD', `Name at least one field to set (fields: ${CUSTOMER_FIELDS.join(', ')}).`);
  return out;
}

/** The record of an address (an empty one when nothing was recorded), with its change history. */
export async function getCustomerRecord(db: Kysely<DB>, address: string): Promise<CustomerRecordView> {
  const key = customerKey(address);
  const row = await db.selectFrom('customers').selectAll().where('address', '=', key).executeTakeFirst();
  const changes = await db
    .selectFrom('customer_changes')
    .select(['at', 'actor', 'field', 'from_value', 'to_value'])
    .where('address', '=', key)
    .orderBy('id')
    .execute();
  return {
    address: key,
    name: row?.name ?? null,
    phone: row?.phone ?? null,
    organisation: row?.organisation ?? null,
    notes: row?.notes ?? null,
    recorded: row !== undefined,
    updated_at: row?.updated_at ?? null,
    updated_by: row?.updated_by ?? null,
    changes: changes.map((c) => ({ at: c.at, actor: c.actor, field: c.field, from: c.from_value, to: c.to_value })),
  };
}

/** Sets fields of a customer's record, recording each field that really changed; refused when someone else changed it since this consultant last viewed it. */
export async function setCustomerFields(
  tx: Kysely<DB>,
  config: Config,
  actor: ConsultantConfig,
  address: string,
  fields: Partial<Record<CustomerField, string | null>>,
  opts: { force?: boolean } = {},
): Promise<{ record: CustomerRecordView; changed: CustomerField[] }> {
  const key = customerKey(address);
  await checkNoRecordCollision(tx, config, key, actor.id, opts);
  const at = nowIso();
  const current = await tx.selectFrom('customers').selectAll().where('address', '=', key).executeTakeFirst();
  const changed: CustomerField[] = [];
  for (const field of CUSTOMER_FIELDS) {
    const value = fields[field];
    if (value === undefined) continue;
    const before = current?.[field] ?? null;
    if (before === value) continue;
    changed.push(field);
    await tx.insertInto('customer_changes').values({ address: key, at, actor: actor.id, field, from_value: before, to_value: value }).execute();
  }
  if (changed.length > 0) {
    const values = Object.fromEntries(changed.map((f) => [f, fields[f] ?? null]));
    if (current) {
      await tx
        .updateTable('customers')
        .set({ ...values, updated_at: at, updated_by: actor.id })
        .where('address', '=', key)
        .execute();
    } else {
      await tx
        .insertInto('customers')
        .values({ address: key, name: null, phone: null, organisation: null, notes: null, ...values, created_at: at, updated_at: at, updated_by: actor.id })
        .execute();
    }
  }
  return { record: await getCustomerRecord(tx, key), changed };
}
