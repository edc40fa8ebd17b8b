// `mailwarden reprocess`: parses kept raw mail again (after an upgrade of the parser, or after
// raising max_message_size) and updates the messages it produced. Threading is not redone: a
// message stays on its case. Parse flags on the case follow the new result; history records it.
// `reprocess --parked` takes parked messages (src/ingest/park.ts) through the accept again.
import type { Kysely } from 'kysely';
import fs from 'node:fs';
import { nowIso } from '../clock.js';
import type { Config } from '../config/types.js';
import { writeTx, type Db } from '../db/connection.js';
import type { DB } from '../db/schema.js';
import { changeCase, recordEvent } from '../db/history.js';
import { headerColumns, insertAttachments } from '../db/message-rows.js';
import { usageError } from '../errors.js';
import type { ParsedMessage } from './message.js';
import type { ParserPool } from './parse.js';
import type { AcceptOutcome } from './accept.js';
import { isTransientFailure } from '../db/errors.js';
import { markReprocessed, markStillParked, parkedForReprocess, parkedSource } from './park.js';
import { acceptOrDegrade, parseStored, type IngestContext } from './pipeline.js';
import { contentStore, localRawFile } from '../db/content-store.js';
import { parseJsonList } from '../db/json-columns.js';

const PARSE_FLAGS = new Set(['unparsed', 'oversize', 'truncated']);

export interface ReprocessResult {
  case: string;
  messages: number;
  parsed: number;
  unparsed: number;
  /** raw file gone (erased customer data) */
  missing: number;
  flags: string[];
}

/** Cases flagged `unparsed`, oldest first. */
export async function unparsedCases(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('cases').select('id').where('flags', 'like', '%"unparsed"%').orderBy('received_at').orderBy('id').execute();
  return rows.map((r) => r.id);
}

export async function reprocessCase(db: Db, config: Config, parsers: ParserPool, caseId: string): Promise<ReprocessResult> {
  const row = await db.selectFrom('cases').select(['id']).where('id', '=', caseId).executeTakeFirst();
  if (!row) throw usageError('ENOCASE', `There is no case ${caseId}.`);
  const messages = await db
    .selectFrom('messages')
    .select(['id', 'raw_sha256', 'flags'])
    .where('case_id', '=', caseId)
    .where('kind', 'in', ['inbound', 'consult_in'])
    .where('raw_sha256', 'is not', null)
    .orderBy('id')
    .execute();
  const result: ReprocessResult = { case: caseId, messages: messages.length, parsed: 0, unparsed: 0, missing: 0, flags: [] };
  const store = contentStore(config, db);
  const outcomes: Array<{ id: number; flags: string; parsed: ParsedMessage }> = [];
  for (const m of messages) {
    const file = await localRawFile(store, m.raw_sha256!);
    if (!fs.existsSync(file)) {
      result.missing++;
      continue;
    }
    const parsed = await parseStored(store, parsers, file, config);
    if (parsed.status === 'parsed') result.parsed++;
    else result.unparsed++;
    outcomes.push({ id: m.id, flags: m.flags, parsed });
  }
  result.flags = await writeTx(db, async (tx) => {
    for (const o of outcomes) await updateMessage(tx, o.id, o.flags, o.parsed);
    return updateCase(
      tx,
      caseId,
      outcomes.map((o) => o.parsed),
      result,
    );
  });
  return result;
}

async function updateMessage(tx: Kysely<DB>, id: number, oldFlags: string, p: ParsedMessage): Promise<void> {
  const kept = parseJsonList(oldFlags).filter((f) => !PARSE_FLAGS.has(f));
  await tx
    .updateTable('messages')
    .set({
      ...headerColumns(p),
      text: p.text,
      flags: JSON.stringify([...new Set([...kept, ...p.flags])]),
    })
    .where('id', '=', id)
    .execute();
  await tx.deleteFrom('attachments').where('message_row_id', '=', id).execute();
  await insertAttachments(tx, id, p.attachments);
}

async function updateCase(tx: Kysely<DB>, caseId: string, results: ParsedMessage[], summary: ReprocessResult): Promise<string[]> {
  const row = await tx.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirstOrThrow();
  const at = nowIso();
  const parseFlags = new Set(results.flatMap((r) => r.flags));
  const flags = [...parseJsonList(row.flags).filter((f) => !PARSE_FLAGS.has(f)), ...parseFlags];
  const first = results[0];
  await changeCase(tx, caseId, 'system', { flags: JSON.stringify(flags), ...(row.subject === '' && first?.subject ? { subject: first.subject } : {}) }, { at });
  const from = first?.from;
  if (row.customer_address === '' && from) {
    // changeCase does not cover the customer; record the change the same way it would.
    await tx
      .updateTable('cases')
      .set((eb) => ({ customer_address: from.address, customer_name: from.name ?? null, updated_at: at, version: eb('version', '+', 1) }))
      .where('id', '=', caseId)
      .execute();
    await recordEvent(tx, { caseId, actor: 'system', kind: 'change', field: 'customer_address', from: '', to: from.address, at });
  }
  await recordEvent(tx, { caseId, actor: 'system', kind: 'reprocessed', at, data: summary });
  return flags;
}

/** What `reprocess --parked` did with one parked message. */
export interface ParkedReprocessResult {
  parked: number;
  mailbox: string;
  /** the accept's outcome (created, threaded, duplicate…), or failed: still parked */
  outcome: AcceptOutcome | 'failed';
  case: string | null;
  error?: string;
}

/**
 * Takes every parked message up again: parsed from its kept raw file and accepted for its box as
 * if it had just arrived (same source key, so it can never be taken twice). One that fails again
 * stays parked with the new error; nothing is mailed again.
 */
export async function reprocessParked(ctx: IngestContext): Promise<ParkedReprocessResult[]> {
  const config = ctx.getConfig();
  const store = contentStore(config, ctx.db);
  const results: ParkedReprocessResult[] = [];
  for (const row of await parkedForReprocess(ctx.db)) {
    const base = { parked: row.id, mailbox: row.mailbox_id };
    const fail = async (error: string) => {
      await markStillParked(ctx.db, row.id, error);
      results.push({ ...base, outcome: 'failed', case: null, error });
    };
    const mailbox = config.mailboxes.find((m) => m.id === row.mailbox_id);
    if (!mailbox) {
      await fail(`the box ${row.mailbox_id} is no longer in the configuration`);
      continue;
    }
    const file = await localRawFile(store, row.sha256);
    if (!fs.existsSync(file)) {
      await fail('the raw message was erased');
      continue;
    }
    const parsed = await parseStored(store, ctx.parsers, file, config);
    try {
      const accepted = await acceptOrDegrade(
        ctx,
        { sha256: row.sha256, size: row.size, parsed },
        { mailbox, source: parkedSource(row), envelopeFrom: row.envelope_from, receivedAt: row.received_at },
      );
      await markReprocessed(ctx.db, row.id, accepted.caseId);
      results.push({ ...base, outcome: accepted.outcome, case: accepted.caseId });
    } catch (err) {
      if (isTransientFailure(err)) throw err;
      await fail((err as Error).message);
    }
  }
  return results;
}
