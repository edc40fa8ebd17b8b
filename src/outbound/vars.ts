// The standard variables every template can use. Keep these names stable: admins' override
// templates under templates/pools/ and templates/mailboxes/ depend on them (see the README).
import type { Kysely, Selectable } from 'kysely';
import type { Config, MailboxConfig } from '../config/types.js';
import type { CasesTable, DB } from '../db/schema.js';
import { caseTag } from '../db/case-ids.js';
import { prepared } from '../db/prepared.js';
import { usageError } from '../errors.js';
import { headerText } from './headers.js';
import { formatInZone } from '../time-format.js';

export type CaseRow = Selectable<CasesTable>;

/** `2026-11-24 17:00 CET` in the instance's timezone; '' for null. */
function formatLocal(iso: string | null | undefined, timeZone: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return formatInZone(d, timeZone, true);
}

/** The subject without this case's own tag(s), so templates can put the tag in front once. */
function bareSubject(subject: string, caseId: string): string {
  const tag = caseTag(caseId);
  const stripped = headerText(subject.split(tag).join(' '));
  return stripped === '' ? '(no subject)' : stripped;
}

function replySubject(subject: string): string {
  return /^(re|aw|odp|sv|vs)\s*:/i.test(subject) ? subject : `Re: ${subject}`;
}

function mailboxVars(box: MailboxConfig | undefined): Record<string, unknown> | null {
  if (!box) return null;
  return { id: box.id, address: box.address, name: box.name ?? box.address };
}

function caseVars(config: Config, row: CaseRow): Record<string, unknown> {
  const tz = config.instance.timezone;
  const pool = config.pools.find((p) => p.id === row.pool_id);
  const assignee = row.assignee ? config.consultants.find((c) => c.id === row.assignee) : undefined;
  const subject = bareSubject(row.subject, row.id);
  return {
    id: row.id,
    tag: caseTag(row.id),
    subject,
    subject_re: replySubject(subject),
    status: row.status,
    priority: row.priority,
    customer: { address: row.customer_address, name: row.customer_name ?? '' },
    pool: { id: row.pool_id, name: pool?.name ?? row.pool_id },
    mailbox_id: row.mailbox_id,
    assignee: assignee ? assignee.name : row.assignee,
    assignee_id: row.assignee,
    language: row.language ?? pool?.languages[0] ?? null,
    received_at: row.received_at,
    received_local: formatLocal(row.received_at, tz),
    deadline_at: row.deadline_at,
    deadline_local: formatLocal(row.deadline_at, tz),
    remind_at: row.remind_at,
    remind_local: formatLocal(row.remind_at, tz),
  };
}

export interface StandardVars {
  vars: Record<string, unknown>;
  caseRow: CaseRow | null;
}

const caseById = prepared<{ caseId: string }, CaseRow>((db, p) => db.selectFrom('cases').selectAll().where('id', '=', p('caseId')));

/** `instance`, and for a case also `case` and `mailbox` (the case's box). */
export async function standardVars(tx: Kysely<DB>, config: Config, caseId: string | null): Promise<StandardVars> {
  const vars: Record<string, unknown> = { instance: { name: config.instance.name, prefix: config.instance.case_prefix } };
  if (!caseId) return { vars, caseRow: null };
  const row = (await caseById.execute(tx, { caseId })).rows[0];
  if (!row) throw usageError('ENOCASE', `There is no case ${caseId}.`);
  vars.case = caseVars(config, row);
  vars.mailbox = mailboxVars(config.mailboxes.find((m) => m.id === row.mailbox_id));
  return { vars, caseRow: row };
}

/** Deep merge of plain objects: `extra` wins, nested objects are merged, arrays replaced. */
export function mergeVars(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    out[k] = isPlain(b) && isPlain(v) ? mergeVars(b, v) : v;
  }
  return out;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date);
}
