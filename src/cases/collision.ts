// The collision warning of SPEC §5 (seed 004: "another agent changed it"). A consultant decides
// what to write or change from what they last saw of a case (`show`, `next`, the reply editor all
// record a view in case_views). If the customer wrote, a department answered, or another
// consultant replied, commented or changed the case after that view, acting on the stale picture
// is refused with one sentence naming the change and when, unless the consultant says --force.
// One function, so every command that changes a case on someone's judgement (reply, status,
// edit; and, for a customer's record, customer --set) asks the same question the same way.
//
// A consultant who never viewed the case gets no warning: there is no earlier picture that could
// be stale (and `next` records a view of the case it hands out). Mail from the consultant's own
// mail client is not checked either: it answers one specific notification, which is what they saw.
import type { Kysely } from 'kysely';
import type { Config } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { usageError, type MailwardenError } from '../errors.js';
import { nowIso } from '../clock.js';
import { formatInZone } from '../time-format.js';

interface Change {
  at: string;
  /** what happened, as the sentence names it: "the customer wrote", "bob replied" */
  what: string;
}

/** When the consultant last looked at the case, or null when they never did. */
async function lastViewed(tx: Kysely<DB>, caseId: string, consultant: string): Promise<string | null> {
  const row = await tx.selectFrom('case_views').select('at').where('case_id', '=', caseId).where('consultant', '=', consultant).executeTakeFirst();
  return row?.at ?? null;
}

/** Mail that arrived, and staff messages by others, after `since`. */
async function messageChanges(tx: Kysely<DB>, caseId: string, consultant: string, since: string, customer: string): Promise<Change[]> {
  const rows = await tx
    .selectFrom('messages')
    .select(['kind', 'at', 'author', 'from_address'])
    .where('case_id', '=', caseId)
    .where('at', '>', since)
    .where('kind', 'in', ['inbound', 'consult_in', 'outbound', 'comment', 'consult_out'])
    .orderBy('at')
    .execute();
  const changes: Change[] = [];
  for (const m of rows) {
    if (m.kind === 'inbound') {
      const who = m.from_address?.toLowerCase() === customer ? 'the customer' : (m.from_address ?? 'someone');
      changes.push({ at: m.at, what: `${who} wrote` });
    } else if (m.kind === 'consult_in') {
      changes.push({ at: m.at, what: 'the department answered' });
    } else if (m.author && m.author !== consultant) {
      const verb = m.kind === 'comment' ? 'commented' : m.kind === 'consult_out' ? 'asked a department' : 'replied';
      changes.push({ at: m.at, what: `${m.author} ${verb}` });
    }
  }
  return changes;
}

/** Changes of the case's fields, labels, assignment… by another consultant after `since`. */
async function eventChanges(tx: Kysely<DB>, config: Config, caseId: string, consultant: string, since: string): Promise<Change[]> {
  const others = config.consultants.map((c) => c.id).filter((id) => id !== consultant);
  if (others.length === 0) return [];
  const rows = await tx
    .selectFrom('case_events')
    .select(['at', 'actor', 'kind', 'field'])
    .where('case_id', '=', caseId)
    .where('at', '>', since)
    .where('actor', 'in', others)
    // Replies and comments are named from their messages; these are the other changes.
    .where('kind', 'not in', ['reply', 'comment', 'message'])
    .orderBy('id')
    .execute();
  return rows.map((e) => ({ at: e.at, what: `${e.actor} changed ${e.field ?? e.kind}` }));
}

/** The refusal: what changed first (and how many more), since when, and how to go on. */
function collision(subject: string, look: string, since: string, changes: Change[], config: Config): MailwardenError | null {
  const first = [...changes].sort((a, b) => a.at.localeCompare(b.at))[0];
  if (!first) return null;
  const when = (iso: string) => formatInZone(new Date(iso), config.instance.timezone, false);
  const more = changes.length > 1 ? ` (and ${changes.length - 1} more change${changes.length > 2 ? 's' : ''})` : '';
  return usageError(
    'ECOLLISION',
    `${subject} changed since you last viewed it at ${when(since)}: ${first.what} at ${when(first.at)}${more}. Look again with \`${look}\`, or use --force.`,
  );
}

/**
 * Refuses (ECOLLISION) when the case changed since `consultant` last viewed it, naming the first
 * change and when; does nothing with `force`, or when they never viewed it.
 */
export async function checkNoCollision(tx: Kysely<DB>, config: Config, caseId: string, consultant: string, opts: { force?: boolean } = {}): Promise<void> {
  if (opts.force) return;
  const since = await lastViewed(tx, caseId, consultant);
  if (since === null) return;
  const row = await tx.selectFrom('cases').select('customer_address').where('id', '=', caseId).executeTakeFirst();
  if (!row) return;
  const changes = [
    ...(await messageChanges(tx, caseId, consultant, since, row.customer_address.toLowerCase())),
    ...(await eventChanges(tx, config, caseId, consultant, since)),
  ];
  const refusal = collision(`Case ${caseId}`, `mailwarden show ${caseId}`, since, changes, config);
  if (refusal) throw refusal;
}

/** Records that a consultant is looking at a customer's record now (`customer <address> --as`). */
export async function recordCustomerView(db: Kysely<DB>, address: string, consultant: string): Promise<void> {
  const at = nowIso();
  await db
    .insertInto('customer_views')
    .values({ address, consultant, at })
    .onConflict((oc) => oc.columns(['address', 'consultant']).doUpdateSet({ at }))
    .execute();
}

/**
 * The same question for a customer's record (SPEC §5: "the same holds for edits of a customer
 * record"): refuses when another consultant changed a field of it after `consultant` last viewed
 * it. `address` is the record's key (lower case).
 */
export async function checkNoRecordCollision(
  tx: Kysely<DB>,
  config: Config,
  address: string,
  consultant: string,
  opts: { force?: boolean } = {},
): Promise<void> {
  if (opts.force) return;
  const view = await tx.selectFrom('customer_views').select('at').where('address', '=', address).where('consultant', '=', consultant).executeTakeFirst();
  if (!view) return;
  const rows = await tx
    .selectFrom('customer_changes')
    .select(['at', 'actor', 'field'])
    .where('address', '=', address)
    .where('at', '>', view.at)
    .where('actor', '!=', consultant)
    .execute();
  const changes = rows.map((r) => ({ at: r.at, what: `${r.actor} changed ${r.field}` }));
  const refusal = collision(`The record of ${address}`, `mailwarden customer ${address}`, view.at, changes, config);
  if (refusal) throw refusal;
}
