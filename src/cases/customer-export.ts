// What `customer <address> --export` hands the customer (SPEC §9, the GDPR right of access): one
// JSON document (the record, the cases with their messages, history, participants,
// questionnaire answers, consultations and ratings) and the files it names, each raw mail
// byte for byte as it reached us or left us, and each attachment. This module decides the
// content from the holdings (src/cases/customer-holdings.ts says what is the customer's);
// src/cases/export-archive.ts packs it.
import fs from 'node:fs';
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config, ConsultantConfig } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { parseJsonList } from '../db/json-columns.js';
import { contentStore, localBlobFile, localPath, localRawFile, type ContentStore } from '../db/content-store.js';
import { getCustomerRecord, type CustomerRecordView } from './customer-record.js';
import { findHoldings, laterTableRows, type AttachmentRow, type Holdings, type MessageRow } from './customer-holdings.js';
import { caseViews, type CaseRow, type CaseView } from './view.js';

/** One file of the archive: its name inside it, and where its bytes come from. */
export type ExportFile = { name: string; path: string } | { name: string; outboxId: number };

export interface ExportDocument {
  format: 'mailwarden-customer-export/1';
  exported_at: string;
  exported_by: string;
  customer: CustomerRecordView;
  cases: ExportCase[];
  /** mail from the address that was kept without becoming a case message (quarantined, parked) */
  held_mail: Array<{ table: 'quarantine' | 'parked'; id: number; at: string; subject: string | null; file: string | null }>;
  /** files the database names that are no longer on disk (erased before, or lost) */
  missing_files: string[];
}

interface ExportCase {
  /** `customer`: the address opened the case; `copied`: it took part in another customer's case (only its own messages are here) */
  role: 'customer' | 'copied';
  case: CaseView;
  participants: Array<{ address: string; role: string; added_at: string }>;
  messages: ExportMessage[];
  history: Array<{ at: string; actor: string; kind: string; field: string | null; from: string | null; to: string | null; data: unknown }>;
  questionnaire_answers: Array<{ key: string; value: string; answered_by: string; at: string }>;
  consultations: Array<{ dept: string; consultant: string; sent_at: string; deadline_at: string; answered_at: string | null }>;
  ratings: Array<Record<string, unknown>>;
}

interface ExportMessage {
  id: number;
  kind: string;
  at: string;
  author: string | null;
  from: string | null;
  from_name: string | null;
  to: string[];
  cc: string[];
  subject: string;
  message_id: string | null;
  text: string;
  state: string | null;
  flags: string[];
  feedback: boolean;
  /** the raw mail as received (inbound) or as sent (outbox), inside the archive */
  file: string | null;
  attachments: Array<{ name: string | null; type: string; size: number; file: string | null }>;
}

export interface ExportContent {
  document: ExportDocument;
  files: ExportFile[];
}

/** Attachment file names keep their extension but lose anything that could leave the folder. */
function safeName(name: string | null): string {
  const cleaned = (name ?? 'attachment').replace(/[^\p{L}\p{N}._-]+/gu, '_').replace(/^\.+/, '');
  return cleaned.slice(-100) || 'attachment';
}

class FileList {
  readonly files: ExportFile[] = [];
  readonly missing: string[] = [];
  private readonly names = new Set<string>();

  /** Adds a file on disk under `name`; null (and listed as missing) when it is not there. */
  disk(name: string, path: string): string | null {
    if (!fs.existsSync(path)) {
      this.missing.push(name);
      return null;
    }
    return this.add({ name, path });
  }

  sent(name: string, outboxId: number): string {
    return this.add({ name, outboxId });
  }

  private add(file: ExportFile): string {
    if (!this.names.has(file.name)) {
      this.names.add(file.name);
      this.files.push(file);
    }
    return file.name;
  }
}

export async function buildExport(db: Kysely<DB>, config: Config, actor: ConsultantConfig, address: string): Promise<ExportContent> {
  const customer = await getCustomerRecord(db, address);
  const h = await findHoldings(db, customer.address);
  const store = contentStore(config, db);
  await fetchFiles(store, h);
  const files = new FileList();
  const views = new Map((await caseViews(db, [...h.ownCases, ...h.ccCases])).map((v) => [v.id, v]));
  const cases: ExportCase[] = [];
  for (const row of h.ownCases) cases.push(await ownCase(db, h, row, views.get(row.id)!, files, store));
  const ours = new Set([h.key, ...config.mailboxes.map((m) => m.address.toLowerCase())]);
  for (const row of h.ccCases) cases.push(await copiedCase(db, h, row, views.get(row.id)!, files, store, ours));
  const held_mail: ExportDocument['held_mail'] = [];
  for (const q of h.quarantine.filter((q) => q.from_address?.toLowerCase() === h.key)) {
    held_mail.push({
      table: 'quarantine',
      id: q.id,
      at: q.at,
      subject: q.subject,
      file: files.disk(`mail/quarantined/${q.id}.eml`, localPath(store, 'raw', q.raw_sha256)),
    });
  }
  for (const p of h.parked.filter((p) => p.from_address?.toLowerCase() === h.key)) {
    held_mail.push({
      table: 'parked',
      id: p.id,
      at: p.first_failed_at,
      subject: p.subject,
      file: files.disk(`mail/parked/${p.id}.eml`, localPath(store, 'raw', p.sha256)),
    });
  }
  return {
    document: {
      format: 'mailwarden-customer-export/1',
      exported_at: nowIso(),
      exported_by: actor.id,
      customer,
      cases,
      held_mail,
      missing_files: files.missing,
    },
    files: files.files,
  };
}

/**
 * The files the archive may name, on this node: with storage in the database another daemon may
 * have taken them in, so they are rebuilt here first (the list below then only looks at paths).
 * Raw mail of cases the address was only copied on stays out (it is not exported).
 */
async function fetchFiles(store: ContentStore, h: Holdings): Promise<void> {
  const own = new Set(h.ownCases.map((c) => c.id));
  for (const m of h.messages) if (m.raw_sha256 && own.has(m.case_id)) await localRawFile(store, m.raw_sha256);
  for (const a of h.attachments) if (a.sha256) await localBlobFile(store, a.sha256);
  for (const q of h.quarantine) if (q.from_address?.toLowerCase() === h.key) await localRawFile(store, q.raw_sha256);
  for (const p of h.parked) if (p.from_address?.toLowerCase() === h.key) await localRawFile(store, p.sha256);
}

async function ownCase(db: Kysely<DB>, h: Holdings, row: CaseRow, view: CaseView, files: FileList, store: ContentStore): Promise<ExportCase> {
  const participants = await db
    .selectFrom('case_participants')
    .select(['address', 'role', 'added_at'])
    .where('case_id', '=', row.id)
    .orderBy('added_at')
    .execute();
  const events = await db.selectFrom('case_events').selectAll().where('case_id', '=', row.id).orderBy('id').execute();
  const answers = await db
    .selectFrom('questionnaire_answers')
    .select(['key', 'value', 'answered_by', 'at'])
    .where('case_id', '=', row.id)
    .orderBy('id')
    .execute();
  const consultations = await db
    .selectFrom('consultations')
    .select(['dept_id', 'consultant', 'sent_at', 'deadline_at', 'answered_at'])
    .where('case_id', '=', row.id)
    .orderBy('id')
    .execute();
  const sentByMessage = new Map(h.outbox.filter((o) => o.case_id === row.id && o.message_row_id !== null).map((o) => [o.message_row_id!, o.id]));
  // Mail we sent that has no message row (auto-responses, notices) is in the archive too.
  for (const o of h.outbox.filter((o) => o.case_id === row.id && (o.message_row_id === null || !sentByMessage.has(o.message_row_id)))) {
    files.sent(`mail/sent/outbox-${o.id}.eml`, o.id);
  }
  return {
    role: 'customer',
    case: view,
    participants,
    messages: h.messages.filter((m) => m.case_id === row.id).map((m) => exportMessage(m, h.attachments, files, store, sentByMessage.get(m.id))),
    history: events.map((e) => ({ at: e.at, actor: e.actor, kind: e.kind, field: e.field, from: e.from_value, to: e.to_value, data: parseData(e.data) })),
    questionnaire_answers: answers,
    consultations: consultations.map((c) => ({
      dept: c.dept_id,
      consultant: c.consultant,
      sent_at: c.sent_at,
      deadline_at: c.deadline_at,
      answered_at: c.answered_at,
    })),
    ratings: await laterTableRows(db, 'ratings', [row.id]),
  };
}

async function copiedCase(
  db: Kysely<DB>,
  h: Holdings,
  row: CaseRow,
  view: CaseView,
  files: FileList,
  store: ContentStore,
  ours: Set<string>,
): Promise<ExportCase> {
  const own = await db
    .selectFrom('case_participants')
    .select(['address', 'role', 'added_at'])
    .where('case_id', '=', row.id)
    .where('address', '=', h.key)
    .execute();
  // Only what the address itself is: the case's id, status and times, never the other customer's name, address or subject.
  const bare: CaseView = { ...view, subject: '', customer: { address: '', name: null } };
  // Their own texts and attachments, but not the raw mail: its headers name the other customer
  // (To, Cc, In-Reply-To); nor the other addresses it went to.
  const messages = h.messages
    .filter((m) => m.case_id === row.id)
    .map((m) => {
      const e = exportMessage({ ...m, raw_sha256: null, in_reply_to: null, references: null }, h.attachments, files, store, undefined);
      return { ...e, to: e.to.filter((a) => ours.has(a.toLowerCase())), cc: e.cc.filter((a) => ours.has(a.toLowerCase())) };
    });
  return {
    role: 'copied',
    case: bare,
    participants: own,
    messages,
    history: [],
    questionnaire_answers: [],
    consultations: [],
    ratings: [],
  };
}

function exportMessage(m: MessageRow, attachments: AttachmentRow[], files: FileList, store: ContentStore, outboxId: number | undefined): ExportMessage {
  let file: string | null = null;
  if (outboxId !== undefined) file = files.sent(`mail/sent/outbox-${outboxId}.eml`, outboxId);
  else if (m.raw_sha256) file = files.disk(`mail/received/message-${m.id}.eml`, localPath(store, 'raw', m.raw_sha256));
  return {
    id: m.id,
    kind: m.kind,
    at: m.at,
    author: m.author,
    from: m.from_address,
    from_name: m.from_name,
    to: parseJsonList(m.to_addresses),
    cc: parseJsonList(m.cc_addresses),
    subject: m.subject,
    message_id: m.message_id,
    text: m.text,
    state: m.state,
    flags: parseJsonList(m.flags),
    feedback: m.is_feedback === 1,
    file,
    attachments: attachments
      .filter((a) => a.message_row_id === m.id)
      .map((a) => ({
        name: a.filename,
        type: a.content_type,
        size: a.size,
        // An outgoing attachment lives inside the sent mail; an incoming one was stored decoded.
        file: a.sha256 && outboxId === undefined ? files.disk(`attachments/${m.id}-${a.id}-${safeName(a.filename)}`, localPath(store, 'blob', a.sha256)) : null,
      })),
  };
}

function parseData(data: string | null): unknown {
  if (data === null) return null;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}
