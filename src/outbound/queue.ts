// The one way mail leaves mailwarden: queueMail renders a template, freezes the complete message
// with its Message-ID, and writes the outbox row (and the case's `messages` row) in the caller's
// transaction. If that transaction rolls back, no mail exists; if it commits, the drainer sends
// exactly these bytes (DESIGN: a message's way out).
import type { Insertable, Kysely } from 'kysely';
import type { Config, MailboxConfig } from '../config/types.js';
import type { DB, MessageKind, OutboxKind, OutboxTable } from '../db/schema.js';
import { insertMessageRow } from '../db/message-rows.js';
import { prepared } from '../db/prepared.js';
import type { TemplateName, TemplateScope } from '../config/templates.js';
import { now, nowIso } from '../clock.js';
import { caseTag } from '../db/case-ids.js';
import { composeMessage, newMessageId, type HtmlLink, type OutgoingAttachment } from './compose.js';
import { domainOf, headerText, safeMailbox, safeMessageId, safeReferences, type Mailbox } from './headers.js';
import { issueToken, tokenMessageId, tokenSubaddress, type TokenPurpose, type TokenRecipient } from '../tokens.js';
import { renderTemplate } from './render.js';
import { mergeVars, standardVars } from './vars.js';
import { wakeDrainerAfterCommit } from './outbox-wake.js';

/** The From of mail sent from a supervised box: its address, named after the box or else the instance. */
export function boxSender(config: Config, box: MailboxConfig): { address: string; name: string } {
  return { address: box.address, name: box.name ?? config.instance.name };
}

export interface QueueMailInput {
  config: Config;
  caseId: string | null;
  kind: OutboxKind;
  /** a built-in template (TEMPLATE_NAMES) or one a mailbox names as its auto-response */
  template: TemplateName | (string & {});
  /** for template overrides */
  scope: { pool?: string; mailbox?: string };
  from: { address: string; name?: string };
  to: Array<{ address: string; name?: string }>;
  cc?: Array<{ address: string; name?: string }>;
  /** customer's Message-ID */
  inReplyTo?: string | null;
  references?: string[];
  /** extra template variables (consultant, reply, department…), merged over the standard ones */
  vars: Record<string, unknown>;
  attachments?: OutgoingAttachment[];
  /** the HTML alternative, complete, when our own code made it (a report); else derived from the text */
  html?: string;
  /** 'held' for trainee replies waiting for approval */
  state?: 'queued' | 'held';
  /** also insert a `messages` row on the case with this kind (outbound | auto_response | consult_out | notification), or null */
  messageKind: MessageKind | null;
  /** consultant id for the messages row */
  author?: string | null;
  autoSubmitted?: 'auto-replied' | 'auto-generated' | null;
  /** unique key of a scheduled notice: a second row with the same key is refused by the database */
  noticeKey?: string;
  /**
   * Mail to one member of staff or one department about the case: its Message-ID carries a signed
   * token for their answer (SPEC §5A), and so does `Reply-To` where the box enables sub-addressing.
   */
  token?: { purpose: TokenPurpose; ref: number | null; recipient: TokenRecipient };
  /** flags of the `messages` row (`via_mail` for a reply relayed from a consultant's mail client) */
  messageFlags?: string[];
  /**
   * Text appended to the rendered body once the rows exist, for text that names this very mail
   * (the rating line, SPEC §5E, whose tokens bind the outbox row): the bytes are frozen after it.
   */
  appendix?: (reserved: ReservedMail) => Appendix;
}

/** What an appendix may name: the rows being written, and what the body was rendered with. */
export interface ReservedMail {
  outboxId: number;
  messageId: string;
  at: string;
  vars: Record<string, unknown>;
  scope: TemplateScope;
}

export interface Appendix {
  text: string;
  /** spans of `text` that the HTML alternative shows as links */
  links: HtmlLink[];
}

export interface QueuedMail {
  outboxId: number;
  messageId: string;
  messageRowId: number | null;
  subject: string;
  text: string;
}

/** The header every mailwarden mail carries, so any mailwarden recognises its own kind (loops). */
const INSTANCE_HEADER = 'X-Mailwarden-Instance';

/** Subjects always carry the case tag, whatever an override template does. */
function withCaseTag(subject: string, caseId: string | null): string {
  if (!caseId) return subject;
  const tag = caseTag(caseId);
  return subject.includes(tag) ? subject : `${tag} ${subject}`.trim();
}

function addressList(list: Mailbox[]): string {
  return JSON.stringify(list.map((m) => m.address));
}

/** The token for the one recipient of `input`. */
function tokenFor(input: QueueMailInput, at: string): string | null {
  if (!input.token) return null;
  if (!input.caseId || input.to.length !== 1 || (input.cc ?? []).length > 0) {
    throw new Error(`internal: a token is issued for one recipient of mail about a case (kind ${input.kind})`);
  }
  return issueToken(
    input.config.instance.secret,
    { purpose: input.token.purpose, caseId: input.caseId, ref: input.token.ref, issuedAt: new Date(at) },
    input.token.recipient,
  );
}

export async function queueMail(tx: Kysely<DB>, input: QueueMailInput): Promise<QueuedMail> {
  const { config } = input;
  const from = safeMailbox(input.from, 'sender address');
  const to = input.to.map((m) => safeMailbox(m, 'recipient address'));
  const cc = (input.cc ?? []).map((m) => safeMailbox(m, 'Cc address'));

  const standard = await standardVars(tx, config, input.caseId);
  const vars = mergeVars(standard.vars, input.vars);
  const scope = { ...input.scope, language: standard.caseRow?.language ?? null };
  const rendered = renderTemplate(config.instance.templates_dir, input.template, scope, vars);
  const subject = withCaseTag(headerText(rendered.subject) || '(no subject)', input.caseId);

  const inReplyTo = safeMessageId(input.inReplyTo);
  const references = safeReferences([...(input.references ?? []), inReplyTo]);
  const at = nowIso();
  const token = input.token ? tokenFor(input, at) : null;
  const messageId = token ? tokenMessageId(token, domainOf(from.address)) : newMessageId(from.address);

  const headers: Record<string, string> = { [INSTANCE_HEADER]: config.instance.case_prefix };
  const box = config.mailboxes.find((m) => m.id === input.scope.mailbox);
  const replyTo = token && box?.subaddress ? tokenSubaddress(box.address, token) : null;
  if (replyTo) headers['Reply-To'] = replyTo;
  if (input.autoSubmitted) headers['Auto-Submitted'] = input.autoSubmitted;
  // Asks Exchange and friends not to answer our automatic mail with their own (out-of-office…).
  if (input.autoSubmitted) headers['X-Auto-Response-Suppress'] = 'All';

  const compose = (text: string, links: HtmlLink[]) =>
    composeMessage({
      messageId,
      date: now(),
      from,
      to,
      cc,
      subject,
      text,
      inReplyTo,
      references,
      headers,
      attachments: input.attachments ?? [],
      links,
      ...(input.html !== undefined ? { html: input.html } : {}),
    });
  const rows: MailRows = { from, to, cc, subject, messageId, inReplyTo, references, at };
  if (!input.appendix) {
    const ids = await insertRows(tx, input, rows, rendered.text, await compose(rendered.text, []));
    return { ...ids, messageId, subject, text: rendered.text };
  }
  // The appendix names the outbox row, so the rows come first and get their bytes after it.
  const ids = await insertRows(tx, input, rows, rendered.text, Buffer.alloc(0));
  const extra = input.appendix({ outboxId: ids.outboxId, messageId, at, vars, scope });
  const text = rendered.text + extra.text;
  await tx
    .updateTable('outbox')
    .set({ mime: await compose(text, extra.links) })
    .where('id', '=', ids.outboxId)
    .execute();
  if (ids.messageRowId !== null) await tx.updateTable('messages').set({ text }).where('id', '=', ids.messageRowId).execute();
  return { ...ids, messageId, subject, text };
}

interface MailRows {
  from: Mailbox;
  to: Mailbox[];
  cc: Mailbox[];
  subject: string;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  at: string;
}

type OutboxInsert = Required<
  Pick<
    Insertable<OutboxTable>,
    'case_id' | 'message_row_id' | 'kind' | 'message_id' | 'from_address' | 'to_addresses' | 'subject' | 'mime' | 'state' | 'notice_key'
  >
> & {
  /** created, and due */
  at: string;
};

const insertOutboxRow = prepared<OutboxInsert, { id: number }>((db, p) =>
  db
    .insertInto('outbox')
    .values({
      case_id: p('case_id'),
      message_row_id: p('message_row_id'),
      kind: p('kind'),
      message_id: p('message_id'),
      from_address: p('from_address'),
      to_addresses: p('to_addresses'),
      subject: p('subject'),
      mime: p('mime'),
      state: p('state'),
      next_attempt_at: p('at'),
      lease_until: null,
      last_error: null,
      smtp_response: null,
      created_at: p('at'),
      sent_at: null,
      notice_key: p('notice_key'),
    })
    .returning('id'),
);

/** The outbox row and, when asked for, the case's `messages` row of one mail. */
async function insertRows(
  tx: Kysely<DB>,
  input: QueueMailInput,
  r: MailRows,
  text: string,
  mime: Buffer,
): Promise<{ outboxId: number; messageRowId: number | null }> {
  const state = input.state ?? 'queued';
  let messageRowId: number | null = null;
  if (input.messageKind && input.caseId) {
    messageRowId = await insertMessageRow(tx, {
      case_id: input.caseId,
      kind: input.messageKind,
      at: r.at,
      author: input.author ?? null,
      from_address: r.from.address,
      from_name: r.from.name ?? null,
      to_addresses: addressList(r.to),
      cc_addresses: addressList(r.cc),
      subject: r.subject,
      message_id: r.messageId,
      in_reply_to: r.inReplyTo,
      references: r.references.length > 0 ? r.references.join(' ') : null,
      text,
      raw_sha256: null,
      state,
      is_feedback: 0,
      is_auto_reply: input.autoSubmitted ? 1 : 0,
      flags: JSON.stringify(input.messageFlags ?? []),
    });
  }

  const { rows } = await insertOutboxRow.execute(tx, {
    case_id: input.caseId,
    message_row_id: messageRowId,
    kind: input.kind,
    message_id: r.messageId,
    from_address: r.from.address,
    to_addresses: addressList([...r.to, ...r.cc]),
    subject: r.subject,
    mime,
    state,
    at: r.at,
    notice_key: input.noticeKey ?? null,
  });
  const outbox = rows[0]!;
  if (state === 'queued') wakeDrainerAfterCommit(tx, outbox.id);
  return { outboxId: outbox.id, messageRowId };
}
