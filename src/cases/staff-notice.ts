// The "something happened on your case" mail to one consultant (a customer wrote again, a
// department answered). Its Message-ID carries a reply token, so her answer from her own mail
// client goes to the customer (SPEC §5A). A template that fails to render must not lose the mail
// that caused the notice: the failure is recorded on the case and the caller goes on.
import type { Kysely } from 'kysely';
import type { Config, ConsultantConfig, MailboxConfig } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { recordEvent } from '../db/history.js';
import { MailwardenError } from '../errors.js';
import { boxSender, queueMail } from '../outbound/queue.js';
import type { CaseRow } from './view.js';

const QUOTE_CHARS = 2_000;

export interface StaffNotice {
  title: string;
  text: string;
  /** the text that caused the notice, quoted under it */
  quoted: string;
}

export async function notifyConsultantOnCase(
  tx: Kysely<DB>,
  config: Config,
  row: Pick<CaseRow, 'id' | 'pool_id'>,
  box: MailboxConfig,
  consultant: ConsultantConfig,
  notice: StaffNotice,
): Promise<void> {
  try {
    await queueMail(tx, {
      config,
      caseId: row.id,
      kind: 'notification',
      template: 'staff-notification',
      scope: { pool: row.pool_id, mailbox: box.id },
      from: boxSender(config, box),
      to: [{ address: consultant.email, name: consultant.name }],
      vars: {
        consultant: { id: consultant.id, name: consultant.name, email: consultant.email },
        notification: { title: notice.title, text: notice.text, quote: quote(notice.quoted) },
      },
      messageKind: 'notification',
      author: null,
      autoSubmitted: 'auto-generated',
      token: { purpose: 'reply', ref: null, recipient: { kind: 'consultant', id: consultant.id } },
    });
  } catch (err) {
    if (!(err instanceof MailwardenError)) throw err;
    await recordEvent(tx, { caseId: row.id, actor: 'system', kind: 'notification', to: 'failed', data: { reason: err.message } });
  }
}

/** The text as a mail quote (`> ` lines), cut at QUOTE_CHARS. */
function quote(text: string): string {
  const cut = text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}\n[…]` : text;
  return cut
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');
}
