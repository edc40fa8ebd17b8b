// A message that threads onto an existing case: participants (a colleague the customer copied
// joins by the header match), the message row, and the status changes mail causes (SPEC §3, §5):
// a customer writing within the reopen window reopens a solved/closed case as feedback; writing
// on a postponed case wakes it. Automatic replies (out-of-office) only add the message. The
// assignee hears of it by mail, or while they are away whoever stands in for them (SPEC §5D), to
// whom a case opening again is handed over. These are case rules:
// ingest's accept transaction (src/ingest/accept.ts) finds the case and calls in here.
import type { Kysely } from 'kysely';
import type { Config, MailboxConfig } from '../config/types.js';
import type { DB, MessageKind } from '../db/schema.js';
import { changeCase, recordEvent } from '../db/history.js';
import { insertMessage } from '../db/message-rows.js';
import type { InboundMail } from './inbound-mail.js';
import { onDuty } from './absence.js';
import { handOverIfAway } from './absence-moves.js';
import { addParticipant, isParticipant } from './participants.js';
import { setStatus } from './status.js';
import { notifyConsultantOnCase } from './staff-notice.js';
import type { CaseRow } from './view.js';
import { parseJsonList } from '../db/json-columns.js';

const CLOSED = new Set(['solved', 'closed']);

export interface AppendInput {
  config: Config;
  mailbox: MailboxConfig;
  parsed: InboundMail;
  raw: { sha256: string };
  at: string;
  /** what ingest's classification (src/ingest/classify.ts) made of it */
  cls: { kind: 'normal' | 'bounce' | 'auto_reply' };
  caseRow: CaseRow;
  via: 'header' | 'tag';
  /** the sender took part before this mail; a newcomer's mail is added and changes no status */
  participant: boolean;
  reopen: boolean;
}

/**
 * `append` normally; for a customer writing on a solved/closed case, `reopen` within the window,
 * else `too-late`. Only someone who took part before reopens (and so gives feedback): a stranger's
 * mail that threads by one of our Message-IDs is added, and changes nothing.
 */
export function reopenDecision(
  config: Config,
  row: CaseRow,
  cls: AppendInput['cls'],
  at: string,
  sender: { parsed: InboundMail; participant: boolean },
): 'append' | 'reopen' | 'too-late' {
  if (!CLOSED.has(row.status) || cls.kind !== 'normal') return 'append';
  if (!sender.participant || departmentOf(config, sender.parsed)) return 'append';
  const pool = config.pools.find((p) => p.id === row.pool_id);
  const windowMs = pool?.reopen_window ?? config.instance.reopen_window;
  const closedAt = Date.parse(row.closed_at ?? row.updated_at);
  return Date.parse(at) - closedAt <= windowMs ? 'reopen' : 'too-late';
}

function departmentOf(config: Config, parsed: InboundMail) {
  const sender = parsed.from?.address;
  return sender ? config.departments.find((d) => [d.email, ...d.aliases].some((a) => a.toLowerCase() === sender)) : undefined;
}

export async function appendToCase(tx: Kysely<DB>, input: AppendInput): Promise<{ messageRowId: number }> {
  const { config, parsed, caseRow, at, cls } = input;
  const caseId = caseRow.id;
  const sender = parsed.from?.address ?? null;
  const dept = departmentOf(config, parsed);
  const autoReply = cls.kind === 'auto_reply';
  // A department's answer to a consultation takes its own way (src/ingest/consult-accept.ts); a
  // department's mail that gets here answers nothing and is only shown as theirs.
  const kind: MessageKind = dept ? 'consult_in' : 'inbound';

  if (input.via === 'header' && sender && !autoReply && !(await isParticipant(tx, caseId, sender))) {
    await addParticipant(tx, caseId, sender, dept ? 'department' : 'cc', at);
    await recordEvent(tx, {
      caseId,
      actor: 'system',
      kind: 'participant_added',
      at,
      field: 'participants',
      to: sender,
      data: { role: dept ? 'department' : 'cc' },
    });
  }
  const flags = [...parsed.flags, ...(autoReply ? ['auto_reply'] : [])];
  const isFeedback = input.reopen && kind === 'inbound';
  const messageRowId = await insertMessage(tx, { caseId, kind, parsed, rawSha256: input.raw.sha256, at, flags, isFeedback, isAutoReply: autoReply });
  await recordEvent(tx, {
    caseId,
    actor: 'system',
    kind: 'message',
    at,
    data: { message_row_id: messageRowId, from: sender, via: input.via, feedback: isFeedback, auto_reply: autoReply },
  });

  if (input.reopen) {
    await setStatus(tx, caseRow, 'system', { status: 'in_progress' }, at, { kind: 'reopened' });
  } else if (!autoReply && kind === 'inbound' && input.participant && caseRow.status === 'postponed') {
    await setStatus(tx, caseRow, 'system', { status: 'in_progress' }, at);
  }
  const caseFlags = parseJsonList(caseRow.flags);
  const missing = parsed.flags.filter((f) => f === 'unparsed' || f === 'oversize').filter((f) => !caseFlags.includes(f));
  if (missing.length > 0) await changeCase(tx, caseId, 'system', { flags: JSON.stringify([...caseFlags, ...missing]) }, { at });

  if (!autoReply && caseRow.assignee) {
    const { assignee } = await handOverIfAway(tx, config, caseId, at);
    const title =
      kind === 'consult_in'
        ? `${dept?.name ?? sender ?? 'The department'} answered`
        : input.reopen
          ? 'The customer wrote again after closing (case reopened)'
          : input.participant
            ? 'The customer wrote again'
            : 'Someone new wrote on the case';
    if (assignee) await notifyAssignee(tx, input, assignee, title);
  }
  return { messageRowId };
}

/** Tells the assignee, or who is on duty for them (absence.ts); nobody when they left no replacement. */
async function notifyAssignee(tx: Kysely<DB>, input: AppendInput, assignee: string, title: string): Promise<void> {
  const { config, caseRow, parsed } = input;
  const consultant = await onDuty(tx, config, assignee, input.at);
  if (!consultant) return;
  const box = config.mailboxes.find((m) => m.id === caseRow.mailbox_id) ?? input.mailbox;
  const from = parsed.from ? `${parsed.from.name ? `${parsed.from.name} ` : ''}<${parsed.from.address}>` : 'an unknown sender';
  await notifyConsultantOnCase(tx, config, caseRow, box, consultant, { title, text: `New message from ${from} on case ${caseRow.id}.`, quoted: parsed.text });
}
