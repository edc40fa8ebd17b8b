// The auto-response to a new case, decided and queued inside ingest's accept transaction, so a
// crash never sends one twice or forgets one. The rate limits are read from the outbox itself
// (rows of kind auto_response): no other state to keep in step. RFC 3834 decides from the mail
// (rfc3834.ts), the loop breaker from our own mail and the box's rate (loop-breaker.ts).
import type { Kysely } from 'kysely';
import type { Config, MailboxConfig } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { addMs, nowIso } from '../clock.js';
import { serializeOn } from '../db/dialect.js';
import { recordEvent } from '../db/history.js';
import { MailwardenError } from '../errors.js';
import { isValidAddress } from './headers.js';
import { boxSender, queueMail } from './queue.js';
import { autoResponseRefusal, type InboundFacts } from './rfc3834.js';
import { autoResponsesTo } from './auto-response-counts.js';
import { answersOurMail, boxLimitRefusal, type AlertRecipient } from './loop-breaker.js';

export type { InboundFacts } from './rfc3834.js';

export interface AutoResponseInput {
  config: Config;
  caseId: string;
  mailbox: MailboxConfig;
  inbound: InboundFacts;
  /** who is told when the box's own limit trips (the pool's supervisors) */
  supervisors: AlertRecipient[];
}

export interface AutoResponseResult {
  queued: boolean;
  reason: string;
  outboxId?: number;
  messageId?: string;
}

const DAY_MS = 86_400_000;

/** The template for this box: its own override, else its pool's; null when neither sends one. */
function autoResponseTemplate(config: Config, mailbox: MailboxConfig): string | null {
  if (mailbox.auto_response === false) return null;
  if (typeof mailbox.auto_response === 'string') return mailbox.auto_response;
  const pool = config.pools.find((p) => p.id === mailbox.pool);
  return pool && pool.auto_response ? pool.auto_response : null;
}

/** Why the rate limits forbid another auto-response to this address now, or null. */
async function rateRefusal(tx: Kysely<DB>, config: Config, recipient: string): Promise<string | null> {
  const now = nowIso();
  const { window, daily_cap: cap } = config.auto_response;
  if (window > 0 && (await autoResponsesTo(tx, recipient, addMs(now, -window))) > 0) {
    return `already answered ${recipient} within the window`;
  }
  if ((await autoResponsesTo(tx, recipient, addMs(now, -DAY_MS))) >= cap) {
    return `daily cap of ${cap} reached for ${recipient}`;
  }
  return null;
}

async function decide(tx: Kysely<DB>, input: AutoResponseInput): Promise<{ template: string } | { reason: string }> {
  const template = autoResponseTemplate(input.config, input.mailbox);
  if (!template) return { reason: 'no auto-response configured for this mailbox' };
  const own = new Set(input.config.mailboxes.map((m) => m.address.toLowerCase()));
  const refusal = autoResponseRefusal(input.inbound, own) ?? (await answersOurMail(tx, input.config, input.inbound));
  if (refusal) return { reason: refusal };
  const recipient = input.inbound.from!.address.trim().toLowerCase();
  if (!isValidAddress(recipient)) return { reason: 'invalid sender address' };
  // The box's own limit comes last: only mail that would otherwise be answered counts against it.
  const limited = (await rateRefusal(tx, input.config, recipient)) ?? (await boxLimitRefusal(tx, input));
  return limited ? { reason: limited } : { template };
}

/**
 * Queues the auto-response for a new case if RFC 3834 and the rate limits allow, and records
 * the outcome in the case history either way. Never throws for anything the inbound mail
 * contains: a bad address or a broken template suppresses the response, it never loses the mail.
 */
export async function maybeQueueAutoResponse(tx: Kysely<DB>, input: AutoResponseInput): Promise<AutoResponseResult> {
  // The per-recipient limits count earlier auto-responses; with several daemons those counts are
  // settled one transaction at a time per recipient. (The box-wide loop cap is not serialized: it
  // may be passed by the few mails in flight at once on other daemons, not by a loop.)
  if (input.inbound.from) await serializeOn(tx, `auto-response-to:${input.inbound.from.address.toLowerCase()}`);
  const decision = await decide(tx, input);
  if ('reason' in decision) return suppressed(tx, input.caseId, decision.reason);

  const { config, mailbox, inbound } = input;
  try {
    const mail = await queueMail(tx, {
      config,
      caseId: input.caseId,
      kind: 'auto_response',
      template: decision.template,
      scope: { pool: mailbox.pool, mailbox: mailbox.id },
      from: boxSender(config, mailbox),
      to: [{ address: inbound.from!.address, ...(inbound.from!.name ? { name: inbound.from!.name } : {}) }],
      inReplyTo: inbound.messageId,
      references: inbound.references,
      vars: {},
      messageKind: 'auto_response',
      author: null,
      autoSubmitted: 'auto-replied',
    });
    await recordEvent(tx, {
      caseId: input.caseId,
      actor: 'system',
      kind: 'auto_response',
      to: 'queued',
      data: { outbox_id: mail.outboxId, message_id: mail.messageId, template: decision.template },
    });
    return { queued: true, reason: 'queued', outboxId: mail.outboxId, messageId: mail.messageId };
  } catch (err) {
    if (!(err instanceof MailwardenError)) throw err;
    return suppressed(tx, input.caseId, err.message);
  }
}

async function suppressed(tx: Kysely<DB>, caseId: string, reason: string): Promise<AutoResponseResult> {
  await recordEvent(tx, { caseId, actor: 'system', kind: 'auto_response', to: 'suppressed', data: { reason } });
  return { queued: false, reason };
}
