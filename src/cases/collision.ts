// The collision warning of SPEC §5 (seed 004: "another agent changed it"). A consultant decides
// what to write or change from what they last saw of a case (`show`, `next`, the reply editor all
// record a view in case_views). If the customer wrote, a department answered, or another
// consultant replied, commented or changed the case after that view, acting on the stale picture
// is refused with one sentence naming the change and when, unless the consultant says --force.
// One function, so every command that changes a case on someone's judgement (reply, status,
// edit, customer --set) asks the same question the same way.
//
// A consultant who never viewed the case gets no warning: there is no earlier picture that could
// be stale (and `next` records a view of the case it hands out). Mail from the consultant's own
// mail client is not checked either: it answers one specific notification, which is what they saw.
import type { Kysely } from 'kysely';
import type { Config } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { usageError } from '../errors.js';
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
  ].sort((a, b) => a.at.localeCompare(b.at));
  const first = changes[0];
  if (!first) return;
  const tz = config.instance.timezone;
  const when = (iso: string) => formatInZone(new Date(iso), tz, false);
  const more = changes.length > 1 ? ` (and ${changes.length - 1} more change${changes.length > 2 ? 's' : ''})` : '';
  throw usageError(
    'ECOLLISION',
    `Case ${caseId} changed since you last viewed it at ${when(since)}: ${first.what} at ${when(first.at)}${more}. Look again with \`mailwarden show ${caseId}\`, or use --force.`,
  );
}
