// The loop breaker of auto-responses (SPEC §4), rules that do not depend on the sender's address.
// The per-sender window and daily cap stop a flood from one address, but an auto-responder that
// answers from a new address every time (or a hostile sender rotating addresses) passes both:
// each answer opens a case, the case is auto-answered, and that answer is answered again. So:
//  - mail that carries our case tag, or names mail we sent (In-Reply-To, References, or even its
//    own Message-ID), is never auto-answered: a person writing to us for the first time has
//    neither, and anything that has them is answering us;
//  - a box sends at most `auto_response.box_cap` auto-responses per `box_window`, whoever they go
//    to; when that trips, the supervisors get one mail a day per box saying so.
// Everything is read from the outbox and the mail itself, inside the accept transaction.
import { sql, type Kysely } from 'kysely';
import type { Config, MailboxConfig } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { addMs, nowIso } from '../clock.js';
import { tagsInSubject } from '../db/case-ids.js';
import { formatDuration } from '../config/validate.js';
import { MailwardenError } from '../errors.js';
import { preparedList } from '../db/prepared.js';
import { boxAutoResponses } from './box-rate-bound.js';
import { boxSender, queueMail } from './queue.js';

/** Who answers a box's alerts (the pool's supervisors); the caller knows the roles. */
export interface AlertRecipient {
  id: string;
  name: string;
  email: string;
}

export interface LoopFacts {
  subject: string;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
}

/** One of our outbox rows among these Message-IDs: asked of every mail, so prepared (per number of IDs). */
const ourMailAmong = preparedList<Record<string, never>, { message_id: string }>((db, _p, ids) =>
  db
    .selectFrom('outbox')
    .select('message_id')
    .where('message_id', 'in', ids as string[])
    .limit(sql.lit(1)),
);

/** Why this mail answers us rather than opening a conversation, or null. */
export async function answersOurMail(tx: Kysely<DB>, config: Config, mail: LoopFacts): Promise<string | null> {
  const tag = tagsInSubject(mail.subject, config.instance.case_prefix)[0];
  if (tag) return `carries our case tag [${tag}]`;
  const named = [mail.inReplyTo, ...mail.references].filter((id): id is string => !!id);
  const ids = [...new Set([...named, ...(mail.messageId ? [mail.messageId] : [])])].slice(0, 100);
  if (ids.length === 0) return null;
  const ours = (await ourMailAmong.execute(tx, {}, ids)).rows[0];
  if (!ours) return null;
  return ours.message_id === mail.messageId ? `reuses the Message-ID of our mail ${ours.message_id}` : `refers to our mail ${ours.message_id}`;
}

export interface BoxLimitInput {
  config: Config;
  mailbox: MailboxConfig;
  /** the case that found the limit tripped, named in the alert */
  caseId: string;
  supervisors: AlertRecipient[];
}

/**
 * Why the box's own rate forbids another auto-response now, or null. When it does, the
 * supervisors are told once per box and day (the notice key makes that a database rule).
 */
export async function boxLimitRefusal(tx: Kysely<DB>, input: BoxLimitInput): Promise<string | null> {
  const { config, mailbox } = input;
  const { box_cap: cap, box_window: window } = config.auto_response;
  const address = boxSender(config, mailbox).address;
  const at = nowIso();
  const sent = await boxAutoResponses(tx, address, addMs(at, -window), cap);
  if (sent < cap) return null;
  await alertSupervisors(tx, input, sent, at);
  return `box ${mailbox.id} reached its limit of ${cap} auto-responses per ${formatDuration(window)}`;
}

async function alertSupervisors(tx: Kysely<DB>, input: BoxLimitInput, sent: number, at: string): Promise<void> {
  const { config, mailbox, supervisors } = input;
  if (supervisors.length === 0) return;
  const noticeKey = `auto-response-limit:${mailbox.id}:${at.slice(0, 10)}`;
  const already = await tx.selectFrom('outbox').select('id').where('notice_key', '=', noticeKey).executeTakeFirst();
  if (already) return;
  try {
    await queueMail(tx, {
      config,
      caseId: null,
      kind: 'supervisor_alert',
      template: 'auto-response-limit',
      scope: { pool: mailbox.pool, mailbox: mailbox.id },
      from: boxSender(config, mailbox),
      to: supervisors.map((s) => ({ address: s.email, name: s.name })),
      vars: {
        consultant: supervisors[0],
        limit: {
          mailbox: mailbox.id,
          mailbox_address: mailbox.address,
          pool: mailbox.pool,
          cap: config.auto_response.box_cap,
          window: formatDuration(config.auto_response.box_window),
          sent,
          case: input.caseId,
        },
      },
      messageKind: null,
      autoSubmitted: 'auto-generated',
      noticeKey,
    });
  } catch (err) {
    // A broken override template must not cost the customer's mail its case: the refusal stands.
    if (!(err instanceof MailwardenError)) throw err;
  }
}
