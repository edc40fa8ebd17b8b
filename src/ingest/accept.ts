// The accept transaction (DESIGN: a message's way in, step 3). Everything a message does to the
// database happens here, in one BEGIN IMMEDIATE transaction: the exactly-once key, dedupe,
// threading, the case and message rows, history, the auto-response in the outbox, and the box's
// high-water mark. A crash anywhere leaves the message either wholly accepted or not at all,
// and since the raw bytes are on disk before the commit, "not at all" just means "again next
// time".
import type { Kysely } from 'kysely';
import { nowIso, onClock } from '../clock.js';
import type { Config, MailboxConfig } from '../config/types.js';
import { writeTx, type Db, type TxOptions } from '../db/connection.js';
import type { DB } from '../db/schema.js';
import { recordEvent } from '../db/history.js';
import { insertMessage } from '../db/message-rows.js';
import { appendToCase, reopenDecision } from '../cases/inbound-effects.js';
import { openCase } from '../cases/open-from-mail.js';
import { poolSupervisors } from '../cases/actors.js';
import { serializeOn } from '../db/dialect.js';
import { maybeQueueAutoResponse } from '../outbound/autoresponse.js';
import { classifyInbound, type Classification } from './classify.js';
import type { ParsedMessage } from './message.js';
import { advanceHighWater, findInbound, findSameContent, insertInbound, insertRaw, type InboundRecord, type InboundSource } from './records.js';
import { acceptTaggedDepartmentAnswer, findTaggedDepartmentAnswer } from './consult-accept.js';
import { acceptRatingMail } from './rating-accept.js';
import { findRatingMail } from './rating-mail.js';
import { acceptStaffMail } from './staff-accept.js';
import { findStaffToken } from './staff-mail.js';
import { findOwnCopy, findSentMail, findThread, referencedIds } from './thread.js';

export type { InboundSource } from './records.js';

export interface AcceptInput {
  config: Config;
  mailbox: MailboxConfig;
  source: InboundSource;
  raw: { sha256: string; size: number };
  parsed: ParsedMessage;
  /** SMTP MAIL FROM for listener deliveries ('' = null sender); IMAP mail has Return-Path instead. */
  envelopeFrom?: string | null;
  /** When the message reached the box (IMAP INTERNALDATE); defaults to now. */
  receivedAt?: string | null;
  /** How long to wait for a lock held by another process (see writeTx). */
  lock?: TxOptions;
  /**
   * The raw bytes' way to disk, when they may still be on it (src/ingest/pipeline.ts): the
   * transaction commits only after it resolves, and is rolled back when it rejects.
   */
  durable?: Promise<void>;
}

export type AcceptOutcome =
  /** this key was accepted before (a re-fetch after a crash) */
  | 'already'
  | 'created'
  | 'threaded'
  | 'reopened'
  /** same content seen before, or mail mailwarden sent itself */
  | 'duplicate'
  /** a bounce of our mail, threaded; or an unrelated one, kept but suppressed (caseId null) */
  | 'bounce'
  /** its accept failed max_attempts times: kept raw, parked for `reprocess --parked` (src/ingest/park.ts) */
  | 'parked'
  /** staff mail acted on: a consultant's answer from their mail client, a decision on an approval, a department's answer (SPEC §5A, §5C) */
  | 'staff'
  /** staff mail kept in quarantine, not acted on */
  | 'quarantined'
  /** a customer's rating of a reply, recorded (SPEC §5E) */
  | 'rating'
  /** a rating mail whose token or content did not hold: ignored, logged */
  | 'rating_ignored';

export interface AcceptResult {
  outcome: AcceptOutcome;
  caseId: string | null;
  messageRowId: number | null;
  /** for the log: how threading decided, why suppressed… */
  detail: string;
  autoResponse?: { queued: boolean; reason: string };
  /** a rating mail: recorded (reason = the score) or ignored (reason = why), for the log */
  rating?: { recorded: boolean; reason: string; detail: string };
}

export function acceptMessage(db: Db, input: AcceptInput): Promise<AcceptResult> {
  return writeTx(
    db,
    async (tx) => {
      const result = await acceptInTx(tx, input);
      // No row commits before the bytes it names are durable (DESIGN: step 1 before step 3).
      await input.durable;
      return result;
    },
    input.lock,
  );
}

async function acceptInTx(tx: Kysely<DB>, input: AcceptInput): Promise<AcceptResult> {
  const { mailbox, source, parsed } = input;
  const at = nowIso();
  const known = await findInbound(tx, mailbox.id, source);
  if (known) {
    await advanceHighWater(tx, mailbox.id, source, at);
    return { outcome: 'already', caseId: known.case_id, messageRowId: known.message_row_id, detail: `inbound #${known.id}` };
  }
  await insertRaw(tx, input.raw, at);
  const record = (outcome: InboundRecord['outcome'], caseId: string | null, messageRowId: number | null) =>
    insertInbound(tx, { mailboxId: mailbox.id, source, rawSha256: input.raw.sha256, parsed, outcome, caseId, messageRowId, at }).then(() =>
      advanceHighWater(tx, mailbox.id, source, at),
    );

  // A copy of mail mailwarden sent coming back (a Cc to a supervised box, a loop): never a new case.
  const own = await findOwnCopy(tx, parsed);
  if (own) {
    await record('duplicate', own.case_id, null);
    return { outcome: 'duplicate', caseId: own.case_id, messageRowId: null, detail: `our own outbox #${own.id}` };
  }
  // Two daemons accepting the same content at once (one mail to two boxes) must see each other.
  await serializeOn(tx, `content:${parsed.fingerprint}`);
  const same = await findSameContent(tx, parsed.fingerprint);
  if (same) {
    await record('duplicate', same.case_id, same.message_row_id);
    return { outcome: 'duplicate', caseId: same.case_id, messageRowId: same.message_row_id, detail: `same content as inbound #${same.id}` };
  }

  const cls = classifyInbound(parsed, input.envelopeFrom);
  if (cls.kind === 'bounce') return acceptBounce(tx, input, cls, at, record);
  // Ratings and staff mail are told apart before customer threading: neither is a customer message.
  const ratingTokens = findRatingMail(parsed);
  if (ratingTokens !== null) return acceptRatingMail(tx, input, cls, ratingTokens, at, record);
  const token = findStaffToken(parsed);
  if (token !== null) return acceptStaffMail(tx, input, cls, token, at, record);
  const departmentAnswer = await findTaggedDepartmentAnswer(tx, input.config, parsed);
  if (departmentAnswer) return acceptTaggedDepartmentAnswer(tx, input, cls, departmentAnswer, at, record);

  const thread = await findThread(tx, input.config.instance.case_prefix, parsed);
  if (thread.via === 'header' || thread.via === 'tag') {
    const decision = reopenDecision(input.config, thread.caseRow, cls, at, { parsed, participant: thread.participant });
    if (decision !== 'too-late') {
      const appended = await appendToCase(tx, {
        ...input,
        at,
        cls,
        caseRow: thread.caseRow,
        via: thread.via,
        participant: thread.participant,
        reopen: decision === 'reopen',
      });
      await record('case', thread.caseRow.id, appended.messageRowId);
      return {
        outcome: decision === 'reopen' ? 'reopened' : 'threaded',
        caseId: thread.caseRow.id,
        messageRowId: appended.messageRowId,
        detail: `via ${thread.via}`,
      };
    }
    return createCase(tx, input, cls, at, record, { linkTo: thread.caseRow.id, reason: 'after-reopen-window' });
  }
  if (thread.via === 'stranger-tag' || thread.via === 'stranger-header')
    return createCase(tx, input, cls, at, record, { linkTo: thread.linkTo.id, reason: thread.via });
  return createCase(tx, input, cls, at, record, { linkTo: null, reason: 'new' });
}

type Recorder = (outcome: InboundRecord['outcome'], caseId: string | null, messageRowId: number | null) => Promise<void>;

async function createCase(
  tx: Kysely<DB>,
  input: AcceptInput,
  cls: Classification,
  at: string,
  record: Recorder,
  link: { linkTo: string | null; reason: string },
): Promise<AcceptResult> {
  const { parsed, config, mailbox } = input;
  const autoReply = cls.kind === 'auto_reply';
  const flags = [...parsed.flags, ...(autoReply ? ['auto_reply'] : [])];
  const caseId = await openCase(tx, {
    config,
    mailbox,
    parsed,
    receivedAt: receivedAt(input, at),
    at,
    flags,
    linkedCaseId: link.linkTo,
    reason: link.reason,
  });
  const messageRowId = await insertInboundMessage(tx, input, caseId, at, flags, autoReply);
  await recordEvent(tx, {
    caseId,
    actor: 'system',
    kind: 'message',
    at,
    data: { message_row_id: messageRowId, from: parsed.from?.address ?? null, mailbox: mailbox.id },
  });
  let autoResponse: AcceptResult['autoResponse'];
  if (autoReply) {
    await recordEvent(tx, { caseId, actor: 'system', kind: 'auto_response', at, to: 'suppressed', data: { reason: `automatic reply (${cls.reason})` } });
    autoResponse = { queued: false, reason: `automatic reply (${cls.reason})` };
  } else {
    const r = await maybeQueueAutoResponse(tx, {
      config,
      caseId,
      mailbox,
      inbound: {
        from: parsed.from,
        envelopeFrom: input.envelopeFrom ?? null,
        messageId: parsed.messageId,
        inReplyTo: parsed.inReplyTo,
        references: parsed.references,
        subject: parsed.subject,
        headers: parsed.headers,
      },
      supervisors: poolSupervisors(config, mailbox.pool).map((c) => ({ id: c.id, name: c.name, email: c.email })),
    });
    autoResponse = { queued: r.queued, reason: r.reason };
  }
  await record('case', caseId, messageRowId);
  return { outcome: 'created', caseId, messageRowId, detail: link.linkTo ? `${link.reason}, linked to ${link.linkTo}` : link.reason, autoResponse };
}

/**
 * A delivery report: when it names mail mailwarden sent, it goes onto that case flagged `bounce`
 * and the outbox row becomes `bounced`; it is never answered and never reopens anything. A
 * report about mail we never sent (backscatter) is kept raw and recorded, but opens no case.
 */
async function acceptBounce(tx: Kysely<DB>, input: AcceptInput, cls: Classification, at: string, record: Recorder): Promise<AcceptResult> {
  const { parsed } = input;
  const sent = await findSentMail(
    tx,
    [...parsed.quotedMessageIds, ...referencedIds(parsed)].filter((id) => id !== parsed.messageId),
  );
  if (!sent || !sent.case_id) {
    await record('bounce', null, null);
    return { outcome: 'bounce', caseId: null, messageRowId: null, detail: `suppressed: ${cls.reason}; names no mail we sent` };
  }
  const caseId = sent.case_id;
  const failure = cls.failure !== false;
  const flags = [...parsed.flags, failure ? 'bounce' : 'delivery_report'];
  const messageRowId = await insertInboundMessage(tx, input, caseId, at, flags, true);
  if (!failure) {
    // "Delayed" or "delivered": worth seeing on the case, but the mail has not bounced.
    await recordEvent(tx, {
      caseId,
      actor: 'system',
      kind: 'delivery_report',
      at,
      data: { outbox_id: sent.id, message_row_id: messageRowId, reason: cls.reason },
    });
    await record('bounce', caseId, messageRowId);
    return { outcome: 'bounce', caseId, messageRowId, detail: `delivery report for outbox #${sent.id} (${cls.reason})` };
  }
  if (sent.state !== 'bounced') {
    await tx
      .updateTable('outbox')
      .set({ state: 'bounced', last_error: `bounced: ${parsed.subject}`.slice(0, 500) })
      .where('id', '=', sent.id)
      .execute();
  }
  await recordEvent(tx, {
    caseId,
    actor: 'system',
    kind: 'bounce',
    at,
    field: 'outbox_state',
    from: sent.state,
    to: 'bounced',
    data: { outbox_id: sent.id, message_id: sent.message_id, message_row_id: messageRowId, reason: cls.reason },
  });
  await record('bounce', caseId, messageRowId);
  return { outcome: 'bounce', caseId, messageRowId, detail: `bounce of outbox #${sent.id}` };
}

/** The customer's message on the case it opened or bounced onto (never feedback: that is src/cases/inbound-effects.ts). */
function insertInboundMessage(tx: Kysely<DB>, input: AcceptInput, caseId: string, at: string, flags: string[], isAutoReply: boolean): Promise<number> {
  return insertMessage(tx, { caseId, kind: 'inbound', parsed: input.parsed, rawSha256: input.raw.sha256, at, flags, isFeedback: false, isAutoReply });
}

/**
 * INTERNALDATE on the clock's timeline (tests shift "now"), never after `at`. The shift is the
 * clock's own: one derived from `at` and the time now shrank by however long the transaction had
 * taken so far (PostgreSQL round trips), which put a mail appended at 15:00:00 at 14:59:59.9.
 */
function receivedAt(input: AcceptInput, at: string): string {
  if (!input.receivedAt) return at;
  const t = Date.parse(input.receivedAt);
  if (Number.isNaN(t)) return at;
  return new Date(Math.min(onClock(t).getTime(), Date.parse(at))).toISOString();
}
