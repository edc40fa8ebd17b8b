// The fields of a case opened by inbound mail (SPEC §3): pool and mailbox, customer, subject,
// language, received time, the pool's response deadline (working time when the pool names a
// calendar: src/calendar.ts), priority `normal` raised by the pool's rules, status `received`, flags. These are case rules, so they live in src/cases; ingest's
// accept transaction (src/ingest/accept.ts) calls openCase when threading finds no case to join,
// and writes the message row itself.
import type { Insertable, Kysely } from 'kysely';
import { deadlineAfter } from '../calendar.js';
import type { CasePriority, Config, MailboxConfig, PoolConfig } from '../config/types.js';
import { prepared } from '../db/prepared.js';
import type { CasesTable, DB } from '../db/schema.js';
import { allocateCaseId } from '../db/case-ids.js';
import { recordEvent } from '../db/history.js';
import { caseLanguage } from './case-language.js';
import type { InboundMail } from './inbound-mail.js';
import { addParticipant } from './participants.js';

const RANK: Record<CasePriority, number> = { low: 0, normal: 1, high: 2, urgent: 3 };

function poolOf(config: Config, mailbox: MailboxConfig): PoolConfig {
  const pool = config.pools.find((p) => p.id === mailbox.pool);
  // The config check guarantees it; a throw here rolls the transaction back, losing nothing.
  if (!pool) throw new Error(`mailbox ${mailbox.id} names unknown pool ${mailbox.pool}`);
  return pool;
}

/** `normal`, raised (never lowered) by every matching rule of the pool. */
export function priorityFor(pool: PoolConfig, subject: string, from: string | null): CasePriority {
  const lower = subject.toLowerCase();
  const domain = from?.slice(from.lastIndexOf('@') + 1).toLowerCase() ?? '';
  let best: CasePriority = 'normal';
  for (const rule of pool.priority_rules) {
    if (rule.subject_contains === undefined && rule.from_domain === undefined) continue;
    if (rule.subject_contains !== undefined && !lower.includes(rule.subject_contains.toLowerCase())) continue;
    if (rule.from_domain !== undefined) {
      const want = rule.from_domain.toLowerCase().replace(/^@/, '');
      if (domain !== want && !domain.endsWith(`.${want}`)) continue;
    }
    if (RANK[rule.priority] > RANK[best]) best = rule.priority;
  }
  return best;
}

/** At most this many copied addresses join a case (a mail to a whole list must not flood the table). */
const MAX_COPIED = 20;

/**
 * Whom the customer copied on the mail that opens the case (To and Cc, but not our own boxes):
 * they take part from the start, so a reply-all naming the customer's message threads (SPEC §3),
 * while a stranger naming it does not (src/ingest/thread.ts).
 */
function copiedColleagues(config: Config, parsed: InboundMail): string[] {
  const ours = new Set(config.mailboxes.map((m) => m.address.toLowerCase()));
  const customer = parsed.from?.address.toLowerCase();
  const copied = [...parsed.to, ...parsed.cc].map((a) => a.address.toLowerCase()).filter((a) => a.includes('@') && a !== customer && !ours.has(a));
  return [...new Set(copied)].slice(0, MAX_COPIED);
}

export interface NewCaseInput {
  config: Config;
  mailbox: MailboxConfig;
  parsed: InboundMail;
  receivedAt: string;
  at: string;
  flags: string[];
  linkedCaseId: string | null;
  /** how the threading decided (for the history): new | stranger-tag | stranger-header | after-reopen-window */
  reason: string;
}

/** What a new case starts with, however it was opened (a customer's mail, a consultant's `open`). */
export interface CaseStart {
  config: Config;
  pool: PoolConfig;
  mailbox: MailboxConfig;
  subject: string;
  customer: { address: string; name: string | null };
  language: string | null;
  /** when the customer's matter reached us: the response deadline counts from here */
  receivedAt: string;
  at: string;
  flags: string[];
  linkedCaseId: string | null;
}

/** A new case's row: every column a value of the statement, so the same statement serves every case. */
const CASE_COLUMNS = [
  'id',
  'pool_id',
  'mailbox_id',
  'status',
  'priority',
  'subject',
  'customer_address',
  'customer_name',
  'language',
  'assignee',
  'received_at',
  'deadline_at',
  'first_response_at',
  'closed_at',
  'remind_at',
  'overdue_notified_at',
  'linked_case_id',
  'flags',
  'updated_at',
] as const satisfies ReadonlyArray<keyof CasesTable>;

type NewCaseRow = Required<Pick<Insertable<CasesTable>, (typeof CASE_COLUMNS)[number]>>;

const insertCaseRow = prepared<NewCaseRow, never>((db, p) => db.insertInto('cases').values(p.columns(CASE_COLUMNS)));

/**
 * Inserts a new case, `received` and unassigned, with the pool's response deadline (working time
 * in the pool's calendar) and the priority its rules give; returns its ID and deadline.
 */
export async function insertCase(tx: Kysely<DB>, c: CaseStart): Promise<{ id: string; deadlineAt: string }> {
  const id = await allocateCaseId(tx, c.config.instance.case_prefix);
  const deadlineAt = deadlineAfter(c.config, c.pool.calendar, c.receivedAt, c.pool.response_deadline);
  await insertCaseRow.execute(tx, {
    id,
    pool_id: c.pool.id,
    mailbox_id: c.mailbox.id,
    status: 'received',
    priority: priorityFor(c.pool, c.subject, c.customer.address || null),
    subject: c.subject,
    customer_address: c.customer.address,
    customer_name: c.customer.name,
    language: c.language,
    assignee: null,
    received_at: c.receivedAt,
    deadline_at: deadlineAt,
    first_response_at: null,
    closed_at: null,
    remind_at: null,
    overdue_notified_at: null,
    linked_case_id: c.linkedCaseId,
    flags: JSON.stringify([...new Set(c.flags)]),
    updated_at: c.at,
  });
  return { id, deadlineAt };
}

export async function openCase(tx: Kysely<DB>, input: NewCaseInput): Promise<string> {
  const { config, mailbox, parsed } = input;
  const pool = poolOf(config, mailbox);
  const customer = parsed.from;
  const { id } = await insertCase(tx, {
    config,
    pool,
    mailbox,
    subject: parsed.subject,
    customer: { address: customer?.address ?? '', name: customer?.name ?? null },
    language: caseLanguage(parsed, pool.languages),
    receivedAt: input.receivedAt,
    at: input.at,
    flags: input.flags,
    linkedCaseId: input.linkedCaseId,
  });
  if (customer) await addParticipant(tx, id, customer.address, 'customer', input.at);
  for (const address of copiedColleagues(config, parsed)) await addParticipant(tx, id, address, 'cc', input.at);
  await recordEvent(tx, {
    caseId: id,
    actor: 'system',
    kind: 'created',
    at: input.at,
    data: { mailbox: mailbox.id, pool: pool.id, message_id: parsed.messageId, reason: input.reason, linked_case_id: input.linkedCaseId },
  });
  if (input.linkedCaseId) {
    await recordEvent(tx, {
      caseId: input.linkedCaseId,
      actor: 'system',
      kind: 'linked',
      at: input.at,
      field: 'linked_case',
      to: id,
      data: { reason: input.reason },
    });
  }
  return id;
}
