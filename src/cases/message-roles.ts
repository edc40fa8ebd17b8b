// Who each message of a thread is from, told apart (SPEC §5 Viewing), and the true state of each
// outgoing mail. A message row says only its kind (inbound, outbound…); a consultant reading the
// thread needs more: an inbound mail may be the customer's, a copied colleague's, an out-of-office,
// or a delivery report about our own mail, none of which is "the customer". An outgoing mail's
// state lives in the outbox (the drainer and bounce handling move it there), not in the copy on
// the message row, so a bounced auto-response shows `bounced`, not the `sent` it once was.
import type { Kysely, Selectable } from 'kysely';
import type { DB, MessagesTable, ParticipantRole } from '../db/schema.js';
import { parseJsonList } from '../db/json-columns.js';

/** The closed list of roles `show` tells apart (the `role` field of `show --json` messages). */
export type MessageRole =
  'customer' | 'cc' | 'other' | 'consultant' | 'department' | 'automatic_reply' | 'bounce' | 'delivery_report' | 'auto_response' | 'notification';

type MessageRow = Selectable<MessagesTable>;

export interface RoleContext {
  customer: string;
  /** lower-case address → how it takes part in the case */
  participants: Map<string, ParticipantRole>;
  /** consult_in message row id → the department that answered */
  departments: Map<number, string>;
}

export async function roleContext(db: Kysely<DB>, caseId: string, customer: string): Promise<RoleContext> {
  const people = await db.selectFrom('case_participants').select(['address', 'role']).where('case_id', '=', caseId).execute();
  const answers = await db
    .selectFrom('consultations')
    .select(['answer_row_id', 'dept_id'])
    .where('case_id', '=', caseId)
    .where('answer_row_id', 'is not', null)
    .execute();
  return {
    customer: customer.toLowerCase(),
    participants: new Map(people.map((p) => [p.address.toLowerCase(), p.role])),
    departments: new Map(answers.map((a) => [a.answer_row_id!, a.dept_id])),
  };
}

/** Mail from outside: the customer, a copied participant, an automatic reply or a delivery report. */
function inboundRole(m: MessageRow, flags: string[], ctx: RoleContext): MessageRole {
  if (flags.includes('bounce')) return 'bounce';
  if (flags.includes('delivery_report')) return 'delivery_report';
  if (m.is_auto_reply || flags.includes('auto_reply')) return 'automatic_reply';
  const from = m.from_address?.toLowerCase() ?? '';
  if (from === ctx.customer) return 'customer';
  const role = ctx.participants.get(from);
  if (role === 'customer') return 'customer';
  if (role === 'cc') return 'cc';
  if (role === 'department') return 'department';
  // A staff address or someone who named our Message-ID (a colleague the customer forwarded to).
  return 'other';
}

export function messageRole(m: MessageRow, ctx: RoleContext): MessageRole {
  const flags = parseJsonList(m.flags);
  switch (m.kind) {
    case 'inbound':
      return inboundRole(m, flags, ctx);
    case 'consult_in':
      return 'department';
    case 'auto_response':
      return 'auto_response';
    case 'notification':
      return 'notification';
    default:
      // outbound, comment, consult_out: written by a consultant (the message names who).
      return 'consultant';
  }
}

/** The department (its id) whose consultation answer a message is, when it is one. */
export function messageDepartment(m: MessageRow, ctx: RoleContext): string | null {
  return m.kind === 'consult_in' ? (ctx.departments.get(m.id) ?? null) : null;
}

/** message row id → the outbox row's state, for every outgoing message of these rows that has one. */
export async function outboxStates(db: Kysely<DB>, rowIds: number[]): Promise<Map<number, string>> {
  const states = new Map<number, string>();
  for (let i = 0; i < rowIds.length; i += 500) {
    const rows = await db
      .selectFrom('outbox')
      .select(['message_row_id', 'state'])
      .where('message_row_id', 'in', rowIds.slice(i, i + 500))
      .execute();
    // A row a drainer holds this instant has not gone out yet: to a reader it is still queued.
    for (const r of rows) if (r.message_row_id !== null) states.set(r.message_row_id, r.state === 'sending' ? 'queued' : r.state);
  }
  return states;
}
