// The accept transaction's branch for staff mail (SPEC §5A): a mail naming a token is verified
// (./staff-mail.ts) and then either acted on as its sender (src/cases/staff-mail.ts) or kept in
// quarantine with the reason, in the same transaction that records the message as accepted. It
// adds no participant, reopens nothing and gets no auto-response. An action the domain refuses (a
// second decision on an approval, a missing questionnaire answer) is undone to a savepoint, the
// mail is quarantined as `refused` and its sender is told why by mail.
import type { Kysely } from 'kysely';
import type { ConsultantConfig } from '../config/types.js';
import type { FileAttachment } from '../cases/attachments.js';
import { acceptConsultAnswer } from './consult-accept.js';
import { contentStore, localPath } from '../db/content-store.js';
import { withSavepoint } from '../db/connection.js';
import type { DB } from '../db/schema.js';
import { MailwardenError } from '../errors.js';
import { quarantineMail, type QuarantineReason } from '../cases/quarantine.js';
import { applyStaffMail, type StaffMailResult } from '../cases/staff-mail.js';
import { boxSender, queueMail } from '../outbound/queue.js';
import type { AcceptInput, AcceptResult } from './accept.js';
import type { Classification } from './classify.js';
import { describeIdentity, verifyStaffMail, type StaffVerdict } from './staff-mail.js';

type Recorder = (outcome: 'staff' | 'quarantine', caseId: string | null, messageRowId: number | null) => Promise<void>;

export interface StaffAcceptOptions {
  /** checks a supervisor overrode by releasing the mail (src/ingest/quarantine-release.ts) */
  skip?: { sender?: boolean; expiry?: boolean };
}

export async function acceptStaffMail(
  tx: Kysely<DB>,
  input: AcceptInput,
  cls: Classification,
  tokenText: string,
  at: string,
  record: Recorder,
  opts: StaffAcceptOptions = {},
): Promise<AcceptResult> {
  const { config, parsed } = input;
  const verdict = verifyStaffMail({ config, parsed, tokenText, cls, now: new Date(at), ...(opts.skip ? { skip: opts.skip } : {}) });
  const caseId = verdict.token ? await existingCase(tx, verdict.token.caseId) : null;
  const hold = async (reason: QuarantineReason, detail: string): Promise<AcceptResult> => {
    const id = await quarantineMail(tx, {
      rawSha256: input.raw.sha256,
      mailboxId: input.mailbox.id,
      caseId,
      from: parsed.from?.address ?? null,
      subject: parsed.subject,
      messageId: parsed.messageId,
      reason,
      detail,
      token: verdict.token ? { purpose: verdict.token.purpose, ref: verdict.token.ref } : null,
      issuedTo: issuedTo(verdict),
      at,
    });
    await record('quarantine', caseId, null);
    return { outcome: 'quarantined', caseId, messageRowId: null, detail: `quarantine #${id}: ${reason} (${detail})` };
  };
  if (!verdict.ok) return hold(verdict.reason, verdict.detail);
  if (!caseId) return hold('unknown_case', `the token names case ${verdict.token.caseId}, which does not exist`);
  if (verdict.sender.kind === 'department') {
    if (verdict.token.purpose !== 'consult') return hold('refused', `a ${verdict.token.purpose} token answered by ${describeIdentity(verdict.sender)}`);
    const answer = { caseId, deptId: verdict.sender.id, consultationId: verdict.token.ref, via: 'token' as const };
    try {
      return await withSavepoint(tx, () => acceptConsultAnswer(tx, input, answer, at, record));
    } catch (err) {
      if (!(err instanceof MailwardenError)) throw err;
      return hold('refused', err.message);
    }
  }

  const actor = verdict.sender.consultant;
  const token = verdict.token;
  try {
    const attachments = relayedFiles(tx, input);
    const result = await withSavepoint(tx, () =>
      applyStaffMail(tx, config, actor, { purpose: token.purpose, caseId, ref: token.ref, text: parsed.text, attachments }),
    );
    await record('staff', caseId, messageRowOf(result));
    return { outcome: 'staff', caseId, messageRowId: messageRowOf(result), detail: `${result.action} by ${actor.id} from their mail client` };
  } catch (err) {
    if (!(err instanceof MailwardenError)) throw err;
    const held = await hold('refused', err.message);
    await tellRefused(tx, input, caseId, actor, err.message, token.purpose === 'reply');
    return held;
  }
}

/**
 * The files of the mail, decoded on disk when it was parsed, on this node (the parse came just
 * before this transaction, so no copy needs rebuilding); inline parts (a signature's logo) stay behind.
 */
function relayedFiles(tx: Kysely<DB>, input: AcceptInput): FileAttachment[] {
  const store = contentStore(input.config, tx);
  return input.parsed.attachments
    .filter((a) => !a.inline)
    .map((a) => ({
      path: localPath(store, 'blob', a.sha256),
      filename: a.filename ?? 'attachment',
      contentType: a.contentType,
      size: a.size,
      sha256: a.sha256,
    }));
}

function issuedTo(verdict: StaffVerdict): string | null {
  if (verdict.ok) return describeIdentity(verdict.sender);
  return verdict.issuedTo ? describeIdentity(verdict.issuedTo) : null;
}

function messageRowOf(result: StaffMailResult): number | null {
  return result.action === 'comment' ? result.messageRowId : null;
}

/** The case a token names, or the case it was merged into (SPEC §5 Merge: the old ID keeps working); null when none exists. */
async function existingCase(tx: Kysely<DB>, id: string): Promise<string | null> {
  let row = await tx.selectFrom('cases').select(['id', 'merged_into']).where('id', '=', id).executeTakeFirst();
  for (let hops = 0; row?.merged_into && hops < 10; hops += 1) {
    row = await tx.selectFrom('cases').select(['id', 'merged_into']).where('id', '=', row.merged_into).executeTakeFirst();
  }
  return row?.id ?? null;
}

/** Mails the consultant why their answer was not applied; with a reply token, their answer to it is a new try. */
async function tellRefused(tx: Kysely<DB>, input: AcceptInput, caseId: string, actor: ConsultantConfig, reason: string, withToken: boolean): Promise<void> {
  const { config } = input;
  const row = await tx.selectFrom('cases').select(['pool_id', 'mailbox_id']).where('id', '=', caseId).executeTakeFirstOrThrow();
  const box = config.mailboxes.find((m) => m.id === row.mailbox_id) ?? input.mailbox;
  await queueMail(tx, {
    config,
    caseId,
    kind: 'notification',
    template: 'staff-mail-refused',
    scope: { pool: row.pool_id, mailbox: box.id },
    from: boxSender(config, box),
    to: [{ address: actor.email, name: actor.name }],
    vars: { consultant: { id: actor.id, name: actor.name, email: actor.email }, refusal: { reason, subject: input.parsed.subject } },
    messageKind: 'notification',
    author: null,
    autoSubmitted: 'auto-generated',
    ...(withToken ? { token: { purpose: 'reply' as const, ref: null, recipient: { kind: 'consultant' as const, id: actor.id } } } : {}),
  });
}
