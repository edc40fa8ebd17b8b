// The erasure's work outside cases and messages (src/cases/customer-erase.ts holds the plan):
// the outbox (frozen mail we sent or were about to send), kept mail that never became a message
// (quarantined, parked), the customer record, a last sweep of every text column for the address,
// and the files on disk (and their chunks in the database). Raw mail and attachments are content-addressed, so one file may be named
// by someone else's message too: a file is deleted only when no row outside the erasure names it.
import { sql, type Kysely } from 'kysely';
import type { Config, ConsultantConfig } from '../config/types.js';
import { bytesAsText } from '../db/dialect.js';
import type { DB } from '../db/schema.js';
import { contentStore, removeContent } from '../db/content-store.js';
import { LATER_CASE_TABLES, type Holdings } from './customer-holdings.js';
import { Scrubber } from './scrub.js';

export interface ErasureContext {
  config: Config;
  actor: ConsultantConfig;
  at: string;
  /** the erased address, lower case */
  key: string;
  /** `erased-000001` */
  pseudonym: string;
  /** `erased-000001@erased.invalid`: never deliverable (RFC 2606) */
  address: string;
  /** what every erased text becomes */
  placeholder: string;
  /** the person, their subjects and Message-IDs: for data of their own cases */
  scrub: Scrubber;
  /** the person only (address, names): for data of other customers' cases */
  person: Scrubber;
  /** old Message-ID (lower case) -> pseudonymous Message-ID */
  ids: Map<string, string>;
}

function pseudoIdOf(ctx: ErasureContext, id: string | null): string | null {
  return id ? (ctx.ids.get(id.toLowerCase()) ?? null) : null;
}

/** A stand-in for a frozen mail: who sent it to whom (pseudonymised) and nothing of its content. */
function placeholderMime(ctx: ErasureContext, from: string, to: string[], messageId: string | null): Buffer {
  const head = [`From: ${from}`, `To: ${to.join(', ')}`, 'Subject: [erased]', ...(messageId ? [`Message-ID: ${messageId}`] : [])];
  return Buffer.from([...head, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', ctx.placeholder, ''].join('\r\n'));
}

/**
 * Mail of the customer's cases: the bytes become a placeholder, the recipients the pseudonym, and
 * mail not yet sent is never sent (rejected, with any approval it waited for). Mail on copied
 * cases keeps its bytes with the address replaced; notices about the customer's parked mail lose
 * their content.
 */
export async function eraseOutbox(tx: Kysely<DB>, ctx: ErasureContext, h: Holdings): Promise<void> {
  for (const o of h.outbox) {
    const row = await tx
      .selectFrom('outbox')
      .select(['from_address', 'to_addresses', 'last_error', 'smtp_response'])
      .where('id', '=', o.id)
      .executeTakeFirstOrThrow();
    const to = ctx.scrub.json(row.to_addresses) ?? '[]';
    const messageId = pseudoIdOf(ctx, o.message_id) ?? `<${ctx.pseudonym}.outbox-${o.id}@erased.invalid>`;
    const unsent = o.state === 'queued' || o.state === 'held';
    await tx
      .updateTable('outbox')
      .set({
        to_addresses: to,
        subject: '[erased]',
        mime: placeholderMime(ctx, row.from_address, JSON.parse(to) as string[], messageId),
        message_id: messageId,
        state: unsent ? 'rejected' : (o.state as 'sent'),
        last_error: unsent ? "not sent: the customer's data was erased" : ctx.scrub.text(row.last_error),
        smtp_response: ctx.scrub.text(row.smtp_response),
      })
      .where('id', '=', o.id)
      .execute();
  }
  const caseIds = h.ownCases.map((c) => c.id);
  for (let i = 0; i < caseIds.length; i += 500) {
    const chunk = caseIds.slice(i, i + 500);
    await tx
      .updateTable('approvals')
      .set({ state: 'rejected', reason: "the customer's data was erased", decided_by: ctx.actor.id, decided_at: ctx.at, decided_via: 'cli' })
      .where('case_id', 'in', chunk)
      .where('state', '=', 'pending')
      .execute();
    const reasons = await tx.selectFrom('approvals').select(['id', 'reason']).where('case_id', 'in', chunk).where('reason', 'is not', null).execute();
    for (const r of reasons)
      await tx
        .updateTable('approvals')
        .set({ reason: ctx.scrub.text(r.reason) })
        .where('id', '=', r.id)
        .execute();
  }
  for (const o of h.ccOutbox) {
    const row = await tx.selectFrom('outbox').select(['to_addresses', 'mime', 'last_error', 'smtp_response']).where('id', '=', o.id).executeTakeFirstOrThrow();
    await tx
      .updateTable('outbox')
      .set({
        to_addresses: ctx.person.json(row.to_addresses) ?? '[]',
        mime: ctx.person.bytes(Buffer.from(row.mime)),
        last_error: ctx.person.text(row.last_error),
        smtp_response: ctx.person.text(row.smtp_response),
      })
      .where('id', '=', o.id)
      .execute();
  }
  for (const p of h.parked.filter((p) => p.notice_outbox_id !== null)) {
    const row = await tx.selectFrom('outbox').select(['from_address', 'to_addresses', 'message_id']).where('id', '=', p.notice_outbox_id!).executeTakeFirst();
    if (!row) continue;
    const to = JSON.parse(row.to_addresses) as string[];
    await tx
      .updateTable('outbox')
      .set({ subject: '[erased]', mime: placeholderMime(ctx, row.from_address, to, row.message_id) })
      .where('id', '=', p.notice_outbox_id!)
      .execute();
  }
}

export interface HeldFiles {
  raw: Set<string>;
  blobs: Set<string>;
  quarantineIds: number[];
}

/**
 * Inbound records keep their exactly-once keys and content fingerprints (hashes, no text) but
 * lose their Message-IDs; quarantined mail keeps its row (a staff matter) without the person;
 * parked rows, which only held the raw mail for another try, are deleted.
 */
export async function eraseHeldMail(tx: Kysely<DB>, ctx: ErasureContext, h: Holdings): Promise<HeldFiles> {
  const raw = new Set<string>();
  for (const m of h.messages) if (m.raw_sha256) raw.add(m.raw_sha256);
  for (const i of h.inbound) {
    raw.add(i.sha256);
    if (i.message_id)
      await tx
        .updateTable('inbound')
        .set({ message_id: pseudoIdOf(ctx, i.message_id) })
        .where('id', '=', i.id)
        .execute();
  }
  for (const q of h.quarantine) {
    raw.add(q.raw_sha256);
    await tx
      .updateTable('quarantine')
      .set({
        from_address: q.from_address?.toLowerCase() === ctx.key ? ctx.address : q.from_address,
        subject: q.subject === null ? null : '[erased]',
        detail: ctx.scrub.text(q.detail),
        message_id: pseudoIdOf(ctx, q.message_id),
      })
      .where('id', '=', q.id)
      .execute();
  }
  for (const p of h.parked) {
    raw.add(p.sha256);
    await tx.deleteFrom('parked').where('id', '=', p.id).execute();
  }
  const blobs = new Set(h.attachments.map((a) => a.sha256).filter((s): s is string => !!s));
  await eraseLaterTables(tx, ctx, h);
  return { raw, blobs, quarantineIds: h.quarantine.map((q) => q.id) };
}

/** Free text in tables later migrations add (a rating's comment, SPEC §5E); scores and times stay. */
async function eraseLaterTables(tx: Kysely<DB>, ctx: ErasureContext, h: Holdings): Promise<void> {
  const tables = await tx.introspection.getTables();
  const ids = h.ownCases.map((c) => c.id);
  for (const name of LATER_CASE_TABLES) {
    const table = tables.find((t) => t.name === name);
    if (!table || ids.length === 0 || !table.columns.some((c) => c.name === 'case_id')) continue;
    for (const column of table.columns.filter((c) => c.name === 'comment' || c.name === 'text')) {
      await sql`update ${sql.table(name)} set ${sql.ref(column.name)} = ${ctx.placeholder} where ${sql.ref(column.name)} is not null and case_id in (${sql.join(ids)})`.execute(
        tx,
      );
    }
  }
}

/** The record keeps its history of edits, with every value replaced; the erasure is its last entry. */
export async function eraseRecord(tx: Kysely<DB>, ctx: ErasureContext): Promise<void> {
  const row = await tx.selectFrom('customers').select('address').where('address', '=', ctx.key).executeTakeFirst();
  if (row) {
    await tx
      .updateTable('customers')
      .set({ address: ctx.address, name: ctx.pseudonym, phone: null, organisation: null, notes: null, updated_at: ctx.at, updated_by: ctx.actor.id })
      .where('address', '=', ctx.key)
      .execute();
  }
  const changes = await tx.selectFrom('customer_changes').select(['id', 'from_value', 'to_value']).where('address', '=', ctx.key).execute();
  for (const c of changes) {
    await tx
      .updateTable('customer_changes')
      .set({ address: ctx.address, from_value: c.from_value === null ? null : '[erased]', to_value: c.to_value === null ? null : '[erased]' })
      .where('id', '=', c.id)
      .execute();
  }
  if (row || changes.length) {
    await tx
      .insertInto('customer_changes')
      .values({ address: ctx.address, at: ctx.at, actor: ctx.actor.id, field: 'erased', from_value: null, to_value: ctx.pseudonym })
      .execute();
  }
}

/** Tables of the migrator itself: they never hold mail data. */
const NOT_SWEPT = new Set(['kysely_migration', 'kysely_migration_lock']);

/**
 * The last net: the address wherever it is still written, in every text column of every table
 * (a colleague's mail naming it, a log line kept on a row). Slow on a big database, and an
 * erasure is rare. Frozen mail elsewhere in the outbox that names the address loses it too.
 */
export async function sweepAddress(tx: Kysely<DB>, ctx: ErasureContext): Promise<void> {
  const only = new Scrubber().add(ctx.key, ctx.address);
  const pattern = `%${ctx.key.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  for (const table of await tx.introspection.getTables()) {
    if (NOT_SWEPT.has(table.name)) continue;
    for (const column of table.columns.filter((c) => /char|text|clob/i.test(c.dataType))) {
      const col = sql.ref(column.name);
      const t = sql.table(table.name);
      const hits = await sql<{ v: string }>`select distinct ${col} as v from ${t} where lower(${col}) like ${pattern} escape '\\'`.execute(tx);
      for (const { v } of hits.rows) await sql`update ${t} set ${col} = ${only.text(v)} where ${col} = ${v}`.execute(tx);
    }
  }
  const mails = await tx
    .selectFrom('outbox')
    .select(['id', 'mime'])
    .where(sql<boolean>`lower(${bytesAsText(tx, 'mime')}) like ${pattern} escape '\\'`)
    .execute();
  for (const m of mails)
    await tx
      .updateTable('outbox')
      .set({ mime: only.bytes(Buffer.from(m.mime)) })
      .where('id', '=', m.id)
      .execute();
}

/**
 * Deletes the raw mail and attachments no remaining row names (the erased rows no longer do), and
 * marks the raw files erased. Done inside the transaction, before it commits: should the commit
 * fail, the files are gone and the erasure can simply be run again; the other order could leave
 * the files of a recorded erasure on disk.
 */
export async function deleteUnsharedFiles(
  tx: Kysely<DB>,
  ctx: ErasureContext,
  held: HeldFiles & { messageIds: number[]; inboundIds: number[] },
): Promise<{ deleted: number; shared: number }> {
  const store = contentStore(ctx.config, tx);
  const erasedInbound = new Set(held.inboundIds);
  const erasedQuarantine = new Set(held.quarantineIds);
  let deleted = 0;
  let shared = 0;
  const removed: string[] = [];
  for (const sha of held.raw) {
    const byMessage = await tx.selectFrom('messages').select('id').where('raw_sha256', '=', sha).executeTakeFirst();
    const byInbound = (await tx.selectFrom('inbound').select('id').where('sha256', '=', sha).execute()).some((r) => !erasedInbound.has(r.id));
    const byQuarantine = (await tx.selectFrom('quarantine').select('id').where('raw_sha256', '=', sha).execute()).some((r) => !erasedQuarantine.has(r.id));
    const byParked = await tx.selectFrom('parked').select('id').where('sha256', '=', sha).executeTakeFirst();
    if (byMessage || byInbound || byQuarantine || byParked) {
      shared++;
      continue;
    }
    if (await removeContent(tx, store, 'raw', sha)) deleted++;
    removed.push(sha);
  }
  for (let i = 0; i < removed.length; i += 500) {
    await tx
      .updateTable('raw_messages')
      .set({ erased_at: ctx.at })
      .where('sha256', 'in', removed.slice(i, i + 500))
      .execute();
  }
  for (const sha of held.blobs) {
    if (await tx.selectFrom('attachments').select('id').where('sha256', '=', sha).executeTakeFirst()) {
      shared++;
      continue;
    }
    if (await removeContent(tx, store, 'blob', sha)) deleted++;
  }
  return { deleted, shared };
}
