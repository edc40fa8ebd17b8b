// Everything the database holds about one customer address, found once for both GDPR actions
// (SPEC §9): the export shows exactly this, the erasure removes exactly this, so the two can never
// disagree about what "the customer's data" is.
//
// Whose case is it? A case is the customer's when its customer_address is theirs: every message,
// reply, comment, history row, outbox mail and raw file of it is about their matter. A case where
// the address only takes part (a colleague copied, role cc) is another customer's matter: of it,
// only what the address itself sent (its messages, their raw mail and attachments) and the fact
// of taking part are theirs. Nothing else of such a case is exported, and the erasure replaces
// only the address, its name and its own texts there.
import { sql, type Kysely, type Selectable } from 'kysely';
import type { AttachmentsTable, DB, InboundTable, MessagesTable, ParkedTable, QuarantineTable } from '../db/schema.js';
import type { CaseRow } from './view.js';

export type MessageRow = Selectable<MessagesTable>;
export type AttachmentRow = Selectable<AttachmentsTable>;

/** An outbox row without its bytes (read on demand: a sent mail may carry megabytes of attachments). */
export interface OutboxRef {
  id: number;
  case_id: string | null;
  message_row_id: number | null;
  kind: string;
  message_id: string;
  state: string;
  created_at: string;
  sent_at: string | null;
}

export interface Holdings {
  /** the address in lower case */
  key: string;
  /** cases the address opened (customer_address) */
  ownCases: CaseRow[];
  /** cases of other customers where the address takes part (copied, a cc) */
  ccCases: CaseRow[];
  /** every message of ownCases, and the address's own messages on ccCases */
  messages: MessageRow[];
  attachments: AttachmentRow[];
  /** mail mailwarden wrote on ownCases (replies, auto-responses, notifications about them) */
  outbox: OutboxRef[];
  /** outbox rows of ccCases: mail to the other customer, which may name the address or its Message-IDs */
  ccOutbox: OutboxRef[];
  inbound: Array<Selectable<InboundTable>>;
  quarantine: Array<Selectable<QuarantineTable>>;
  parked: Array<Selectable<ParkedTable>>;
}

/** True when nothing at all is held about the address (the erasure says so instead of recording one). */
export function holdsNothing(h: Holdings, hasRecord: boolean): boolean {
  return !hasRecord && h.ownCases.length + h.ccCases.length + h.messages.length + h.quarantine.length + h.parked.length === 0;
}

const OUTBOX_REF = ['id', 'case_id', 'message_row_id', 'kind', 'message_id', 'state', 'created_at', 'sent_at'] as const;

/** SQLite caps bound parameters; every `in` list goes in chunks of this many. */
const CHUNK = 500;

async function inChunks<T, R>(items: T[], fn: (chunk: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(...(await fn(items.slice(i, i + CHUNK))));
  return out;
}

export async function findHoldings(db: Kysely<DB>, key: string): Promise<Holdings> {
  const lowerIs = (column: 'customer_address' | 'from_address') => sql<boolean>`lower(${sql.ref(column)}) = ${key}`;
  const ownCases = await db.selectFrom('cases').selectAll().where(lowerIs('customer_address')).orderBy('received_at').orderBy('id').execute();
  const ownIds = ownCases.map((c) => c.id);
  const own = new Set(ownIds);
  const partIn = await db.selectFrom('case_participants').select('case_id').where('address', '=', key).execute();
  const ccIds = [...new Set(partIn.map((p) => p.case_id))].filter((id) => !own.has(id));
  const ccCases = await inChunks(ccIds, (chunk) => db.selectFrom('cases').selectAll().where('id', 'in', chunk).orderBy('received_at').execute());

  const ownMessages = await inChunks(ownIds, (chunk) => db.selectFrom('messages').selectAll().where('case_id', 'in', chunk).execute());
  const ccMessages = await inChunks(ccIds, (chunk) =>
    db.selectFrom('messages').selectAll().where('case_id', 'in', chunk).where(lowerIs('from_address')).execute(),
  );
  const messages = [...ownMessages, ...ccMessages].sort((a, b) => a.id - b.id);
  const messageIds = messages.map((m) => m.id);
  const attachments = await inChunks(messageIds, (chunk) =>
    db.selectFrom('attachments').selectAll().where('message_row_id', 'in', chunk).orderBy('id').execute(),
  );

  const outbox = await inChunks(ownIds, (chunk) => db.selectFrom('outbox').select(OUTBOX_REF).where('case_id', 'in', chunk).orderBy('id').execute());
  const ccOutbox = await inChunks(ccIds, (chunk) => db.selectFrom('outbox').select(OUTBOX_REF).where('case_id', 'in', chunk).orderBy('id').execute());

  const inboundByCase = await inChunks(ownIds, (chunk) => db.selectFrom('inbound').selectAll().where('case_id', 'in', chunk).execute());
  const inboundByMessage = await inChunks(messageIds, (chunk) => db.selectFrom('inbound').selectAll().where('message_row_id', 'in', chunk).execute());
  const inbound = uniqueById([...inboundByCase, ...inboundByMessage]);

  const quarantineFrom = await db.selectFrom('quarantine').selectAll().where(lowerIs('from_address')).execute();
  const quarantineOn = await inChunks(ownIds, (chunk) => db.selectFrom('quarantine').selectAll().where('case_id', 'in', chunk).execute());
  const parkedFrom = await db.selectFrom('parked').selectAll().where(lowerIs('from_address')).execute();
  const parkedOn = await inChunks(ownIds, (chunk) => db.selectFrom('parked').selectAll().where('case_id', 'in', chunk).execute());

  return {
    key,
    ownCases,
    ccCases,
    messages,
    attachments,
    outbox,
    ccOutbox,
    inbound,
    quarantine: uniqueById([...quarantineFrom, ...quarantineOn]),
    parked: uniqueById([...parkedFrom, ...parkedOn]),
  };
}

function uniqueById<T extends { id: number }>(rows: T[]): T[] {
  const seen = new Map<number, T>();
  for (const r of rows) seen.set(r.id, r);
  return [...seen.values()].sort((a, b) => a.id - b.id);
}

/**
 * Tables that later migrations add and that hang off cases (ratings, SPEC §5E): their rows for
 * these cases, or none while the table does not exist. Export and erasure name them here, so a
 * new per-case table joins both by one entry in this list.
 */
export const LATER_CASE_TABLES = ['ratings'] as const;

export async function laterTableRows(db: Kysely<DB>, table: (typeof LATER_CASE_TABLES)[number], caseIds: string[]): Promise<Array<Record<string, unknown>>> {
  const tables = await db.introspection.getTables();
  const found = tables.find((t) => t.name === table);
  if (!found || !found.columns.some((c) => c.name === 'case_id') || caseIds.length === 0) return [];
  return inChunks(caseIds, async (chunk) => {
    const r = await sql<Record<string, unknown>>`select * from ${sql.table(table)} where case_id in (${sql.join(chunk)})`.execute(db);
    return r.rows;
  });
}
