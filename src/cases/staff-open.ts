// A case opened by a consultant (SPEC §5 "Staff-opened case"; seed 000: "by the manager seeking
// information from the client"). Why it is built on replyToCase: the first mail to the customer
// must be exactly a reply (the pool's box as sender, the consultant's footer, the trainee rule,
// the outbox in the same transaction), and the customer's answer must thread as an answer to a
// reply does: its In-Reply-To names our Message-ID, and the customer is the case's participant so
// a reply quoting only the tag threads too. The case starts as mail-opened cases do (pool
// deadline, priority rules, `received`) and the reply takes it, so the history shows the move.
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config, ConsultantConfig, MailboxConfig, PoolConfig } from '../config/types.js';
import { recordEvent } from '../db/history.js';
import type { DB } from '../db/schema.js';
import { usageError } from '../errors.js';
import { isSupervisor } from './actors.js';
import type { FileAttachment } from './attachments.js';
import { insertCase } from './open-from-mail.js';
import { addParticipant } from './participants.js';
import { replyToCase, type ReplyResult } from './reply.js';

export interface OpenInput {
  to: string;
  poolId: string;
  /** a box of the pool; default the pool's first */
  mailboxId?: string;
  subject: string;
  text: string;
  attachments: FileAttachment[];
}

export interface OpenResult extends ReplyResult {
  pool: string;
  mailbox: string;
  customer: string;
  deadlineAt: string;
}

const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;]+\.[^\s@<>",;]+$/;

function checkAddress(text: string): string {
  const address = text.trim();
  if (!ADDRESS.test(address)) throw usageError('EBADADDRESS', `"${text}" is not an e-mail address to open a case with.`);
  return address;
}

function findPool(config: Config, id: string): PoolConfig {
  const pool = config.pools.find((p) => p.id === id);
  if (!pool) throw usageError('EUNKNOWNPOOL', `There is no pool "${id}" (known: ${config.pools.map((p) => p.id).join(', ') || 'none'}).`);
  return pool;
}

/** The box the case is mailed from: the one named (it must serve the pool), else the pool's first. */
function findBox(config: Config, pool: PoolConfig, id: string | undefined): MailboxConfig {
  const boxes = config.mailboxes.filter((m) => m.pool === pool.id);
  if (id === undefined) {
    const first = boxes[0];
    if (!first) throw usageError('ENOMAILBOX', `Pool ${pool.id} has no mailbox to send from.`);
    return first;
  }
  const box = boxes.find((m) => m.id === id);
  if (!box) throw usageError('ENOMAILBOX', `Mailbox "${id}" is not a box of pool ${pool.id} (its boxes: ${boxes.map((m) => m.id).join(', ') || 'none'}).`);
  return box;
}

export async function openStaffCase(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, input: OpenInput): Promise<OpenResult> {
  const customer = checkAddress(input.to);
  const pool = findPool(config, input.poolId);
  if (!isSupervisor(actor) && !actor.pools.some((p) => p.pool === pool.id)) {
    throw usageError('EFORBIDDEN', `${actor.id} does not work pool ${pool.id}, so may not open a case in it.`);
  }
  const box = findBox(config, pool, input.mailboxId);
  const subject = input.subject.replace(/\s+/g, ' ').trim();
  if (!subject) throw usageError('EEMPTY', 'A new case needs a subject (--subject).');
  const at = nowIso();
  const { id, deadlineAt } = await insertCase(tx, {
    config,
    pool,
    mailbox: box,
    subject,
    customer: { address: customer, name: null },
    language: pool.languages[0] ?? null,
    receivedAt: at,
    at,
    flags: ['staff_opened'],
    linkedCaseId: null,
  });
  await addParticipant(tx, id, customer, 'customer', at);
  await recordEvent(tx, { caseId: id, actor: actor.id, kind: 'created', at, data: { mailbox: box.id, pool: pool.id, reason: 'staff', to: customer } });
  // The first mail takes the case for its author (in_progress, assigned), as any reply does.
  const reply = await replyToCase(tx, config, actor, { caseId: id, text: input.text, attachments: input.attachments });
  return { ...reply, pool: pool.id, mailbox: box.id, customer, deadlineAt };
}
