// Quarantine (SPEC §5A): staff mail that was not acted on, kept raw with the reason. A closed list
// of reasons, each saying whether a supervisor may override it by releasing the mail: an expired
// token or a sender address not yet configured as an alias are a person's call; a bad signature,
// failed authentication or an automatic reply never are. Releasing applies the mail as if the
// overridden check had passed (src/ingest/quarantine-release.ts); dropping keeps it, decided.
import type { Kysely, Selectable } from 'kysely';
import { nowIso } from '../clock.js';
import type { ConsultantConfig } from '../config/types.js';
import type { Db } from '../db/connection.js';
import type { DB, QuarantineTable } from '../db/schema.js';
import { recordEvent } from '../db/history.js';
import { usageError } from '../errors.js';
import { isSupervisor } from './actors.js';

export const QUARANTINE_REASONS = {
  malformed: { releasable: false, says: 'the token is damaged or truncated' },
  bad_signature: { releasable: false, says: 'the token was not signed by this installation (forged or altered)' },
  wrong_sender: { releasable: true, says: 'the token was issued to someone else than the sender (an alias not yet configured?)' },
  authentication_failed: { releasable: false, says: "the MTA's Authentication-Results do not vouch for the sender" },
  automatic_reply: { releasable: false, says: 'an automatic reply (out of office…) to staff mail' },
  expired: { releasable: true, says: 'the token is older than instance.token_ttl' },
  unknown_case: { releasable: false, says: 'the case the token names does not exist' },
  refused: { releasable: true, says: 'the mail asked for something that could not be done then' },
} as const;

export type QuarantineReason = keyof typeof QUARANTINE_REASONS;
export type QuarantineRow = Selectable<QuarantineTable>;

export interface QuarantineInput {
  rawSha256: string;
  mailboxId: string;
  caseId: string | null;
  from: string | null;
  subject: string;
  messageId: string | null;
  reason: QuarantineReason;
  detail: string;
  token: { purpose: string; ref: number | null } | null;
  issuedTo: string | null;
  at: string;
}

export async function quarantineMail(tx: Kysely<DB>, q: QuarantineInput): Promise<number> {
  const row = await tx
    .insertInto('quarantine')
    .values({
      raw_sha256: q.rawSha256,
      mailbox_id: q.mailboxId,
      case_id: q.caseId,
      from_address: q.from,
      reason: q.reason,
      at: q.at,
      detail: q.detail.slice(0, 1000),
      subject: q.subject.slice(0, 500),
      message_id: q.messageId,
      token_purpose: q.token?.purpose ?? null,
      token_ref: q.token?.ref ?? null,
      issued_to: q.issuedTo,
      decided_by: null,
      decided_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (q.caseId)
    await recordEvent(tx, { caseId: q.caseId, actor: 'system', kind: 'quarantine', to: q.reason, at: q.at, data: { quarantine: row.id, from: q.from } });
  return row.id;
}

/** The JSON shape of `mailwarden quarantine --json` and `quarantine show --json`. */
export interface QuarantineEntry {
  id: number;
  state: string;
  reason: string;
  releasable: boolean;
  detail: string | null;
  at: string;
  mailbox: string | null;
  case: string | null;
  from: string | null;
  subject: string | null;
  message_id: string | null;
  raw_sha256: string;
  token: { purpose: string; ref: number | null; issued_to: string | null } | null;
  decided_by: string | null;
  decided_at: string | null;
}

function isReleasable(reason: string): boolean {
  return (QUARANTINE_REASONS as Record<string, { releasable: boolean }>)[reason]?.releasable ?? false;
}

function entry(r: QuarantineRow): QuarantineEntry {
  return {
    id: r.id,
    state: r.state,
    reason: r.reason,
    releasable: r.state === 'held' && isReleasable(r.reason),
    detail: r.detail,
    at: r.at,
    mailbox: r.mailbox_id,
    case: r.case_id,
    from: r.from_address,
    subject: r.subject,
    message_id: r.message_id,
    raw_sha256: r.raw_sha256,
    token: r.token_purpose ? { purpose: r.token_purpose, ref: r.token_ref, issued_to: r.issued_to } : null,
    decided_by: r.decided_by,
    decided_at: r.decided_at,
  };
}

/** Held mail, oldest first; with `all`, released and dropped mail too. */
export async function listQuarantine(db: Kysely<DB> | Db, opts: { all?: boolean; caseId?: string } = {}): Promise<QuarantineEntry[]> {
  let q = db.selectFrom('quarantine').selectAll().orderBy('id');
  if (!opts.all) q = q.where('state', '=', 'held');
  if (opts.caseId) q = q.where('case_id', '=', opts.caseId);
  return (await q.execute()).map(entry);
}

export async function getQuarantine(db: Kysely<DB> | Db, id: number): Promise<QuarantineEntry> {
  const row = await db.selectFrom('quarantine').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw usageError('ENOQUARANTINE', `There is no quarantined mail ${id}.`);
  return entry(row);
}

function checkSupervisor(actor: ConsultantConfig, what: string): void {
  if (!isSupervisor(actor)) throw usageError('EFORBIDDEN', `Only a supervisor may ${what} quarantined mail; ${actor.id} is not one.`);
}

/**
 * Marks a held mail decided (released or dropped) in one compare-and-set, so two supervisors
 * cannot both release it. Release also needs a reason a person may override.
 */
export async function decideQuarantine(tx: Kysely<DB>, actor: ConsultantConfig, id: number, decision: 'released' | 'dropped'): Promise<QuarantineEntry> {
  checkSupervisor(actor, decision === 'released' ? 'release' : 'drop');
  const current = await getQuarantine(tx, id);
  if (decision === 'released' && !isReleasable(current.reason)) {
    throw usageError(
      'ENORELEASE',
      `Quarantined mail ${id} (${current.reason}) may not be released: ${QUARANTINE_REASONS[current.reason as QuarantineReason]?.says ?? current.reason}.`,
    );
  }
  const at = nowIso();
  const r = await tx
    .updateTable('quarantine')
    .set({ state: decision, decided_by: actor.id, decided_at: at })
    .where('id', '=', id)
    .where('state', '=', 'held')
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0)
    throw usageError('ENORELEASE', `Quarantined mail ${id} was already ${current.state} by ${current.decided_by ?? 'someone'}.`);
  if (current.case)
    await recordEvent(tx, { caseId: current.case, actor: actor.id, kind: 'quarantine', from: 'held', to: decision, at, data: { quarantine: id } });
  return { ...current, state: decision, decided_by: actor.id, decided_at: at, releasable: false };
}
