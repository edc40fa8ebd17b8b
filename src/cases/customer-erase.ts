// `customer <address> --erase --as <supervisor>` (SPEC §9, the GDPR right to erasure). Personal
// data goes; what the desk did stays. The address, names, subjects and every message text of the
// customer's cases are replaced by a pseudonym (`erased-000001`) or a placeholder, their raw mail
// and attachments are deleted from disk, and the erasure is recorded (who, when, the pseudonym,
// never the address) in `erasures` and in each case's history. Statuses, times, deadlines,
// assignees, pools, message kinds and counts, consultations, questionnaire answers, ratings and
// feedback flags are left exactly as they were, so every report figure is the same afterwards.
//
// Later mail from the address starts afresh: its participant rows name the pseudonym (so a case
// tag no longer threads), every Message-ID of the erased cases is replaced (so In-Reply-To and
// References find nothing), and threading skips cases flagged `erased` altogether (so a tag does
// not even link a new case to them). The content fingerprints of the erased inbound mail stay (a
// hash, no text): an exact copy of an old message fetched again (a box rescanned) is recognised
// as seen instead of bringing the erased text back as a new case.
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config, ConsultantConfig } from '../config/types.js';
import { writeTx, type Db } from '../db/connection.js';
import { changeCase, recordEvent } from '../db/history.js';
import { parseJsonList } from '../db/json-columns.js';
import type { DB } from '../db/schema.js';
import { tempfailError, usageError } from '../errors.js';
import { isSupervisor } from './actors.js';
import { customerKey } from './customer-record.js';
import { findHoldings, holdsNothing, type Holdings } from './customer-holdings.js';
import { deleteUnsharedFiles, eraseHeldMail, eraseOutbox, eraseRecord, sweepAddress, type ErasureContext } from './erase-rows.js';
import { Scrubber } from './scrub.js';
import { ERASED_FLAG } from './view.js';

/** Subjects shorter than this are not searched for inside other text (history data). */
const MIN_SUBJECT = 5;

export interface EraseResult {
  /** false when nothing was held about the address (nothing was recorded either) */
  erased: boolean;
  pseudonym: string | null;
  cases: number;
  copiedCases: number;
  messages: number;
  filesDeleted: number;
  /** raw files and attachments kept because mail of someone else is the same content */
  filesShared: number;
}

/** Erases a customer's personal data; only supervisors may. Files are deleted before the commit (see eraseFiles). */
export async function eraseCustomer(db: Db, config: Config, actor: ConsultantConfig, address: string): Promise<EraseResult> {
  if (!isSupervisor(actor)) throw usageError('EFORBIDDEN', `Only a supervisor may erase a customer's data, and ${actor.id} is not one.`);
  const key = customerKey(address);
  return writeTx(db, (tx) => eraseInTx(tx, config, actor, key));
}

async function eraseInTx(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, key: string): Promise<EraseResult> {
  const h = await findHoldings(tx, key);
  const record = await tx.selectFrom('customers').selectAll().where('address', '=', key).executeTakeFirst();
  if (holdsNothing(h, record !== undefined)) return { erased: false, pseudonym: null, cases: 0, copiedCases: 0, messages: 0, filesDeleted: 0, filesShared: 0 };
  if (h.outbox.some((o) => o.state === 'sending') || h.ccOutbox.some((o) => o.state === 'sending')) {
    throw tempfailError('ESENDING', 'Mail to this customer is being sent right now; nothing was erased, try again in a minute.');
  }
  const at = nowIso();
  const row = await tx.insertInto('erasures').values({ erased_by: actor.id, erased_at: at }).returning('id').executeTakeFirstOrThrow();
  const pseudonym = `erased-${String(row.id).padStart(6, '0')}`;
  const ctx: ErasureContext = {
    config,
    actor,
    at,
    key,
    pseudonym,
    address: `${pseudonym}@erased.invalid`,
    placeholder: `[erased: personal data removed on request (${pseudonym})]`,
    scrub: new Scrubber(),
    person: new Scrubber(),
    ids: new Map(),
  };
  buildScrubber(ctx, h, record?.name ?? null);
  const erasedMessages = await eraseMessages(tx, ctx, h);
  await eraseParticipantsAndHistory(tx, ctx, h);
  await eraseOutbox(tx, ctx, h);
  const files = await eraseHeldMail(tx, ctx, h);
  await eraseCases(tx, ctx, h);
  await eraseRecord(tx, ctx);
  await sweepAddress(tx, ctx);
  const deleted = await deleteUnsharedFiles(tx, ctx, { ...files, messageIds: erasedMessages, inboundIds: h.inbound.map((i) => i.id) });
  await tx
    .updateTable('erasures')
    .set({ pseudonym, cases: h.ownCases.length, messages: erasedMessages.length, files_deleted: deleted.deleted })
    .where('id', '=', row.id)
    .execute();
  return {
    erased: true,
    pseudonym,
    cases: h.ownCases.length,
    copiedCases: h.ccCases.length,
    messages: erasedMessages.length,
    filesDeleted: deleted.deleted,
    filesShared: deleted.shared,
  };
}

/** What names the person, and what replaces it: the address, their names, their subjects, every Message-ID of their cases. */
function buildScrubber(ctx: ErasureContext, h: Holdings, recordName: string | null): void {
  // The person (address, names) is searched for everywhere; subjects and Message-IDs only in their own cases' data.
  const names = [
    recordName,
    ...h.ownCases.map((c) => c.customer_name),
    ...h.messages.filter((m) => m.from_address?.toLowerCase() === ctx.key).map((m) => m.from_name),
  ];
  for (const s of [ctx.scrub, ctx.person]) {
    s.add(ctx.key, ctx.address);
    for (const n of names) s.addName(n, ctx.pseudonym);
  }
  const own = new Set(h.ownCases.map((c) => c.id));
  for (const c of h.ownCases) if (c.subject.length >= MIN_SUBJECT) ctx.scrub.add(c.subject, '[erased]');
  const ids = [
    ...h.messages.filter((m) => own.has(m.case_id) || m.from_address?.toLowerCase() === ctx.key).map((m) => m.message_id),
    ...h.outbox.map((o) => o.message_id),
    ...h.inbound.map((i) => i.message_id),
  ];
  // Message-IDs are unique strings: replaced wherever they are (a reply to Ann names Jan's answer in References).
  for (const id of ids) if (id) for (const s of [ctx.scrub, ctx.person]) s.add(id, pseudoId(ctx, id));
}

/** The Message-ID that replaces `id`: the same one every time within an erasure, unguessable to nobody but useless to thread on. */
function pseudoId(ctx: ErasureContext, id: string): string {
  let p = ctx.ids.get(id.toLowerCase());
  if (!p) {
    p = `<${ctx.pseudonym}.${ctx.ids.size + 1}@erased.invalid>`;
    ctx.ids.set(id.toLowerCase(), p);
  }
  return p;
}

/** In-Reply-To / References: known IDs mapped to their pseudonyms, others (which may name the person's domain) dropped. */
function mapIds(ctx: ErasureContext, value: string | null): string | null {
  if (!value) return value;
  const mapped = value
    .split(/\s+/)
    .filter(Boolean)
    .map((id) => ctx.ids.get(id.toLowerCase()))
    .filter((x): x is string => !!x);
  return mapped.length ? mapped.join(' ') : null;
}

/**
 * Every message of the customer's cases, and the customer's own messages on cases of others: text
 * and subject become the placeholder, the customer's address and name the pseudonym. Kind, time,
 * author, state, feedback and auto-reply marks stay (report figures count them). Other messages
 * on copied cases only lose the address and name where they mention them.
 */
async function eraseMessages(tx: Kysely<DB>, ctx: ErasureContext, h: Holdings): Promise<number[]> {
  const erased: number[] = [];
  for (const m of h.messages) {
    const fromCustomer = m.from_address?.toLowerCase() === ctx.key;
    erased.push(m.id);
    await tx
      .updateTable('messages')
      .set({
        text: ctx.placeholder,
        subject: '[erased]',
        from_address: fromCustomer ? ctx.address : m.from_address,
        from_name: fromCustomer ? ctx.pseudonym : m.from_name,
        to_addresses: ctx.scrub.json(m.to_addresses) ?? '[]',
        cc_addresses: ctx.scrub.json(m.cc_addresses) ?? '[]',
        message_id: m.message_id ? pseudoId(ctx, m.message_id) : null,
        in_reply_to: mapIds(ctx, m.in_reply_to),
        references: mapIds(ctx, m.references),
        raw_sha256: null,
        state: m.state === 'held' || m.state === 'queued' ? 'rejected' : m.state,
      })
      .where('id', '=', m.id)
      .execute();
  }
  for (let i = 0; i < erased.length; i += 500) {
    await tx
      .updateTable('attachments')
      .set({ filename: '[erased]', sha256: null, content_id: null })
      .where('message_row_id', 'in', erased.slice(i, i + 500))
      .execute();
  }
  // The rest of each copied case: the customer's address and name wherever they are mentioned.
  const erasedSet = new Set(erased);
  for (const c of h.ccCases) {
    const others = await tx
      .selectFrom('messages')
      .select(['id', 'text', 'to_addresses', 'cc_addresses', 'in_reply_to', 'references'])
      .where('case_id', '=', c.id)
      .execute();
    for (const m of others.filter((o) => !erasedSet.has(o.id))) {
      await tx
        .updateTable('messages')
        .set({
          text: ctx.person.text(m.text),
          to_addresses: ctx.person.json(m.to_addresses) ?? '[]',
          cc_addresses: ctx.person.json(m.cc_addresses) ?? '[]',
          in_reply_to: ctx.person.text(m.in_reply_to),
          references: ctx.person.text(m.references),
        })
        .where('id', '=', m.id)
        .execute();
    }
  }
  return erased;
}

/** Participant rows name the pseudonym; history rows keep what happened, with personal data replaced inside. */
async function eraseParticipantsAndHistory(tx: Kysely<DB>, ctx: ErasureContext, h: Holdings): Promise<void> {
  await tx.updateTable('case_participants').set({ address: ctx.address }).where('address', '=', ctx.key).execute();
  const own = new Set(h.ownCases.map((c) => c.id));
  for (const c of [...h.ownCases, ...h.ccCases]) {
    const events = await tx.selectFrom('case_events').selectAll().where('case_id', '=', c.id).execute();
    // Of a copied case only the person goes; its subject is the other customer's.
    const scrub = own.has(c.id) ? ctx.scrub : ctx.person;
    for (const e of events) {
      const subject = e.field === 'subject' && own.has(c.id);
      const next = {
        from_value: subject && e.from_value !== null ? '[erased]' : scrub.text(e.from_value),
        to_value: subject && e.to_value !== null ? '[erased]' : scrub.text(e.to_value),
        data: scrub.json(e.data),
      };
      if (next.from_value === e.from_value && next.to_value === e.to_value && next.data === e.data) continue;
      await tx.updateTable('case_events').set(next).where('id', '=', e.id).execute();
    }
    const answers = await tx.selectFrom('questionnaire_answers').select(['id', 'value']).where('case_id', '=', c.id).execute();
    for (const a of answers) {
      const value = scrub.text(a.value);
      if (value !== a.value) await tx.updateTable('questionnaire_answers').set({ value }).where('id', '=', a.id).execute();
    }
  }
}

/**
 * The customer's cases: address, name and subject replaced (directly, so the history does not
 * receive the old values), flagged `erased` through the history, and one `erasure` history row
 * saying what was replaced and under which pseudonym.
 */
async function eraseCases(tx: Kysely<DB>, ctx: ErasureContext, h: Holdings): Promise<void> {
  for (const c of h.ownCases) {
    const flags = parseJsonList(c.flags);
    if (!flags.includes(ERASED_FLAG)) await changeCase(tx, c.id, ctx.actor.id, { flags: JSON.stringify([...flags, ERASED_FLAG]) }, { at: ctx.at });
    const current = await tx.selectFrom('cases').select('version').where('id', '=', c.id).executeTakeFirstOrThrow();
    await tx
      .updateTable('cases')
      .set({
        customer_address: ctx.address,
        customer_name: c.customer_name === null ? null : ctx.pseudonym,
        subject: '[erased]',
        version: current.version + 1,
        updated_at: ctx.at,
      })
      .where('id', '=', c.id)
      .execute();
    await recordEvent(tx, {
      caseId: c.id,
      actor: ctx.actor.id,
      kind: 'erasure',
      at: ctx.at,
      to: ctx.pseudonym,
      data: { pseudonym: ctx.pseudonym, replaced: ['customer address', 'customer name', 'subject', 'message texts', 'raw mail', 'attachments'] },
    });
  }
  for (const c of h.ccCases) {
    await recordEvent(tx, {
      caseId: c.id,
      actor: ctx.actor.id,
      kind: 'erasure',
      at: ctx.at,
      to: ctx.pseudonym,
      data: { pseudonym: ctx.pseudonym, replaced: ['a copied participant: address, name, their messages'] },
    });
  }
}
