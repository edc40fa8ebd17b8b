// Cases for tests, written straight into the database the way ingest's accept transaction does
// (case + inbound message + participant + history), so case-work tests do not need a mail server.
import crypto from 'node:crypto';
import { writeTx, type Db, type Opened } from '../../src/db/connection';
import { openTestDatabase } from '../support/backend';
import { allocateCaseId } from '../../src/db/case-ids';
import { recordEvent } from '../../src/db/history';
import { recordReceived } from '../../src/db/report-rows';
import { addMs, nowIso } from '../../src/clock';
import type { CaseStatus } from '../../src/db/schema';

export interface FixtureCase {
  prefix?: string;
  pool?: string;
  mailbox?: string;
  customer?: string;
  customerName?: string;
  subject?: string;
  text?: string;
  language?: string | null;
  priority?: 'low' | 'normal' | 'high' | 'urgent';
  status?: CaseStatus;
  assignee?: string | null;
  receivedAt?: string;
  deadlineMs?: number;
  messageId?: string;
  attachments?: Array<{ filename: string; contentType: string; size: number }>;
}

export interface InsertedCase {
  id: string;
  messageId: string;
}

export async function openTestDb(dataDir: string): Promise<Opened> {
  return openTestDatabase(dataDir);
}

export async function insertCase(db: Db, f: FixtureCase = {}): Promise<InsertedCase> {
  return writeTx(db, async (tx) => {
    const id = await allocateCaseId(tx, f.prefix ?? 'TEST');
    const receivedAt = f.receivedAt ?? nowIso();
    const customer = f.customer ?? 'customer@example.org';
    const messageId = f.messageId ?? `<${crypto.randomUUID()}@example.org>`;
    const subject = f.subject ?? 'My card does not work';
    await tx
      .insertInto('cases')
      .values({
        id,
        pool_id: f.pool ?? 'cards',
        mailbox_id: f.mailbox ?? (f.pool === 'general' ? 'support' : 'cards'),
        status: f.status ?? 'received',
        priority: f.priority ?? 'normal',
        subject,
        customer_address: customer,
        customer_name: f.customerName ?? 'Carla Customer',
        language: f.language === undefined ? 'en' : f.language,
        assignee: f.assignee ?? null,
        received_at: receivedAt,
        deadline_at: addMs(receivedAt, f.deadlineMs ?? 4 * 3600_000),
        first_response_at: null,
        closed_at: null,
        remind_at: null,
        overdue_notified_at: null,
        linked_case_id: null,
        updated_at: receivedAt,
      })
      .execute();
    const msg = await tx
      .insertInto('messages')
      .values({
        case_id: id,
        kind: 'inbound',
        at: receivedAt,
        author: null,
        from_address: customer,
        from_name: f.customerName ?? 'Carla Customer',
        to_addresses: JSON.stringify([f.pool === 'general' ? 'alice@example.test' : 'bob@example.test']),
        subject,
        message_id: messageId,
        in_reply_to: null,
        references: null,
        text: f.text ?? 'Hello, my card stopped working yesterday.',
        raw_sha256: null,
        state: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const a of f.attachments ?? []) {
      await tx
        .insertInto('attachments')
        .values({ message_row_id: msg.id, filename: a.filename, content_type: a.contentType, size: a.size, sha256: null, content_id: null })
        .execute();
    }
    await recordReceived(tx, id, receivedAt);
    await tx.insertInto('case_participants').values({ case_id: id, address: customer, role: 'customer', added_at: receivedAt }).execute();
    await recordEvent(tx, { caseId: id, actor: 'customer', kind: 'created', to: 'received', at: receivedAt });
    return { id, messageId };
  });
}
