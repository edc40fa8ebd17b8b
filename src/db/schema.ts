// Row types of every table, for kysely. Times are ISO-8601 UTC strings (portable to PostgreSQL
// as text, and sortable); JSON columns hold arrays as text.
import type { Generated } from 'kysely';
import type { ReportClosingsTable, ReportFirstResponsesTable, ReportReceivedTable } from './report-schema.js';
import type { BoxLeasesTable, DaemonNodesTable, StoredChunksTable } from './scale-schema.js';

export interface MailboxStateTable {
  mailbox_id: string;
  uidvalidity: number | null;
  last_uid: Generated<number>;
  last_sync_at: string | null;
  last_error: string | null;
}

export interface RawMessagesTable {
  sha256: string;
  size: number;
  stored_at: string;
  erased_at: string | null;
}

export interface CaseSequencesTable {
  prefix: string;
  last_value: number;
}

export type CaseStatus = 'received' | 'in_progress' | 'under_consultation' | 'solved' | 'closed' | 'postponed';

export interface CasesTable {
  id: string;
  pool_id: string;
  mailbox_id: string;
  status: CaseStatus;
  priority: Generated<'low' | 'normal' | 'high' | 'urgent'>;
  subject: Generated<string>;
  customer_address: string;
  customer_name: string | null;
  language: string | null;
  assignee: string | null;
  received_at: string;
  deadline_at: string;
  first_response_at: string | null;
  closed_at: string | null;
  remind_at: string | null;
  overdue_notified_at: string | null;
  linked_case_id: string | null;
  /** the case this one was merged into (migration 014); its ID threads there */
  merged_into: Generated<string | null>;
  /** JSON array: unparsed, oversize, feedback… */
  flags: Generated<string>;
  updated_at: string;
  /** bumped by every change; a change applies only to the version it was decided on (migration 005) */
  version: Generated<number>;
  /** a consultant's title and description of the case (`edit`, migration 013); null until given */
  title: Generated<string | null>;
  description: Generated<string | null>;
}

export interface CaseLabelsTable {
  case_id: string;
  label: string;
}

export interface CaseParticipantsTable {
  case_id: string;
  address: string;
  role: ParticipantRole;
  added_at: string;
}

export interface CaseEventsTable {
  id: Generated<number>;
  case_id: string;
  at: string;
  actor: string;
  kind: CaseEventKind;
  field: string | null;
  from_value: string | null;
  to_value: string | null;
  data: string | null;
}

export type MessageKind = 'inbound' | 'outbound' | 'comment' | 'consult_out' | 'consult_in' | 'notification' | 'auto_response';

/** Why a mail is in the outbox: what caused it (a closed list; reports and `outbox --json` show it). */
export const OUTBOX_KINDS = [
  'auto_response',
  'reply',
  'approval_request',
  'consultation',
  'consultation_overdue',
  'case_overdue',
  'reminder',
  'notification',
  'parked_notice',
  'supervisor_alert',
  'report',
] as const;
export type OutboxKind = (typeof OUTBOX_KINDS)[number];

/** What a history row records (RT's transaction types): a closed list, so reports can rely on it. */
export type CaseEventKind =
  | 'created'
  | 'linked'
  | 'message'
  | 'change'
  | 'reopened'
  | 'taken'
  | 'comment'
  | 'label'
  | 'participant_added'
  | 'auto_response'
  | 'delivery_report'
  | 'bounce'
  | 'mail_failed'
  | 'mail_retry'
  | 'reminder'
  | 'overdue_notice'
  | 'reprocessed'
  | 'reply'
  | 'notification'
  | 'approval'
  | 'staff_mail'
  | 'quarantine'
  | 'consultation'
  | 'absence'
  | 'returned'
  | 'rating'
  /** personal data in the case was replaced by a pseudonym (SPEC §9); data names the erasure, never the person */
  | 'erasure'
  | 'merged';

/** How a participant belongs to a case. */
export type ParticipantRole = 'customer' | 'cc' | 'staff' | 'department';

export interface MessagesTable {
  id: Generated<number>;
  case_id: string;
  kind: MessageKind;
  at: string;
  /** consultant id for staff messages, null for mail from outside */
  author: string | null;
  from_address: string | null;
  from_name: string | null;
  to_addresses: Generated<string>;
  cc_addresses: Generated<string>;
  subject: Generated<string>;
  message_id: string | null;
  in_reply_to: string | null;
  references: string | null;
  text: Generated<string>;
  raw_sha256: string | null;
  /** queued | held | sent | rejected | quarantined (outgoing), null for inbound */
  state: string | null;
  is_feedback: Generated<number>;
  is_auto_reply: Generated<number>;
  flags: Generated<string>;
}

export interface AttachmentsTable {
  id: Generated<number>;
  message_row_id: number;
  filename: string | null;
  content_type: string;
  size: number;
  sha256: string | null;
  content_id: string | null;
  inline: Generated<number>;
}

export interface InboundTable {
  id: Generated<number>;
  /** imap | lmtp | smtp */
  source: string;
  mailbox_id: string;
  uidvalidity: number | null;
  uid: number | null;
  queue_id: string | null;
  sha256: string;
  /** content fingerprint (src/ingest/fingerprint.ts): the dedupe key across boxes and rescans */
  content_sha256: string | null;
  message_id: string | null;
  /** case | duplicate | bounce | staff | quarantine | rating | rating_ignored */
  outcome: string;
  case_id: string | null;
  message_row_id: number | null;
  at: string;
}

export type OutboxState = 'queued' | 'held' | 'sending' | 'sent' | 'failed' | 'bounced' | 'rejected';

export interface OutboxTable {
  id: Generated<number>;
  case_id: string | null;
  message_row_id: number | null;
  kind: OutboxKind;
  message_id: string;
  from_address: string;
  /** JSON array of envelope recipients */
  to_addresses: string;
  subject: string;
  /** the complete RFC 5322 message, frozen when the row is written */
  mime: Buffer;
  state: OutboxState;
  attempts: Generated<number>;
  next_attempt_at: string;
  lease_until: string | null;
  last_error: string | null;
  smtp_response: string | null;
  created_at: string;
  sent_at: string | null;
  /** random token of the drainer that holds the row while `sending` */
  claim_token: Generated<string | null>;
  /** the drainer process holding the row while `sending` (src/outbound/claimer.ts); null before migration 007 */
  claimed_by: Generated<string | null>;
  /** unique key of a scheduled notice (kind:case:due time), so it is queued at most once */
  notice_key: Generated<string | null>;
}

export interface ConsultationsTable {
  id: Generated<number>;
  case_id: string;
  dept_id: string;
  consultant: string;
  outbox_id: number | null;
  sent_at: string;
  deadline_at: string;
  answered_at: string | null;
  overdue_notified_at: string | null;
  /** open | answered | withdrawn (migration 009) */
  state: Generated<ConsultationState>;
  /** the consult_out message that asked */
  question_row_id: number | null;
  /** the consult_in message that answered */
  answer_row_id: number | null;
  /** token | tag: how the department's answer was recognised */
  answered_via: string | null;
  withdrawn_by: string | null;
  withdrawn_at: string | null;
}

export type ConsultationState = 'open' | 'answered' | 'withdrawn';

export interface ApprovalsTable {
  id: Generated<number>;
  case_id: string;
  outbox_id: number;
  trainee: string;
  supervisor: string;
  /** pending | approved | rejected */
  state: string;
  reason: string | null;
  decided_by: string | null;
  decided_at: string | null;
  created_at: string;
  /** what the reply asked for, applied on approval: status, reminder (ISO), questionnaire answers (JSON) */
  status: string | null;
  remind_at: string | null;
  answers: string | null;
  /** SHA-256 of the held outbox row's bytes: approval releases exactly these */
  mime_sha256: string | null;
  /** cli | mail */
  decided_via: string | null;
  request_outbox_id: number | null;
}

export interface QuestionnaireAnswersTable {
  id: Generated<number>;
  case_id: string;
  questionnaire_id: string;
  key: string;
  value: string;
  answered_by: string;
  at: string;
}

export interface SnippetUsesTable {
  id: Generated<number>;
  case_id: string;
  code: string;
  language: string;
  consultant: string;
  at: string;
}

export interface CaseViewsTable {
  case_id: string;
  consultant: string;
  at: string;
}

export interface AbsencesTable {
  consultant: string;
  until: string;
  replacement: string | null;
  set_by: string;
  at: string;
}

/** One set, replace or clear of an absence (migration 010). */
export type AbsenceAction = 'set' | 'replaced' | 'cleared';

export interface AbsenceLogTable {
  id: Generated<number>;
  consultant: string;
  action: AbsenceAction;
  until: string | null;
  replacement: string | null;
  by: string;
  at: string;
  /** JSON {until, replacement, set_by, at}: the absence this entry replaced or cleared */
  previous: string | null;
}

export interface QuarantineTable {
  id: Generated<number>;
  raw_sha256: string;
  mailbox_id: string | null;
  case_id: string | null;
  from_address: string | null;
  /** one of QUARANTINE_REASONS (src/cases/quarantine.ts) */
  reason: string;
  at: string;
  /** the sentence shown with the reason (who the token was issued to, what the header said…) */
  detail: string | null;
  subject: string | null;
  message_id: string | null;
  token_purpose: string | null;
  token_ref: number | null;
  /** `consultant:<id>` or `department:<id>`: who the token's MAC names, when one does */
  issued_to: string | null;
  state: Generated<string>;
  decided_by: string | null;
  decided_at: string | null;
}

/** A customer's rating of one reply (SPEC §5E, migration 011): the latest one per reply and customer. */
export interface RatingsTable {
  id: Generated<number>;
  case_id: string;
  /** the outbox row of the rated reply */
  outbox_id: number;
  message_row_id: number | null;
  /** the consultant who wrote the rated reply */
  consultant: string | null;
  /** the customer address the rating token was issued for, lower case */
  customer: string;
  /** good | okay | bad (RATING_SCORES in src/tokens.ts) */
  score: string;
  /** what the customer wrote beside the choice */
  comment: Generated<string>;
  /** the rating mail's Message-ID and raw bytes */
  message_id: string | null;
  raw_sha256: string | null;
  at: string;
}

/** States of a message whose accept failed (SPEC §3 no poison message); see migration 006. */
export type ParkedState = 'failing' | 'parked' | 'reprocessed';

export interface ParkedTable {
  id: Generated<number>;
  mailbox_id: string;
  sha256: string;
  size: number;
  /** imap | lmtp | smtp */
  source: string;
  uidvalidity: number | null;
  uid: number | null;
  queue_id: string | null;
  envelope_from: string | null;
  received_at: string | null;
  message_id: string | null;
  from_address: string | null;
  subject: string | null;
  state: ParkedState;
  attempts: number;
  error: string;
  first_failed_at: string;
  last_failed_at: string;
  parked_at: string | null;
  notice_outbox_id: number | null;
  reprocessed_at: string | null;
  case_id: string | null;
}

/** A customer's record (SPEC §5 "Customer"), keyed by the address in lower case (migration 012). */
export interface CustomersTable {
  address: string;
  name: string | null;
  phone: string | null;
  organisation: string | null;
  notes: string | null;
  created_at: string;
  updated_at: string;
  updated_by: string;
}

/** Append-only: one row per field an edit of a customer record changed. */
export interface CustomerChangesTable {
  id: Generated<number>;
  address: string;
  at: string;
  actor: string;
  field: string;
  from_value: string | null;
  to_value: string | null;
}

/** One erasure of a customer's personal data (SPEC §9): who and when, under a pseudonym, never the address. */
export interface ErasuresTable {
  id: Generated<number>;
  /** `erased-000001`: what replaced the person's address and names; set once the row's id is known */
  pseudonym: string | null;
  erased_by: string;
  erased_at: string;
  cases: Generated<number>;
  messages: Generated<number>;
  files_deleted: Generated<number>;
}

export interface CustomerViewsTable {
  /** the customer's address, lower case */
  address: string;
  consultant: string;
  at: string;
}

/** A scheduled report sent for one slot (SPEC §6): the primary key (report_id, slot) claims it. */
export interface ReportRunsTable {
  report_id: string;
  /** the scheduled instant, ISO UTC */
  slot: string;
  period_from: string;
  period_to: string;
  ran_at: string;
  /** which process claimed it (currentClaimer: pid/start@host), for the admin reading the table */
  ran_by: string;
  /** JSON array of the outbox rows queued */
  outbox_ids: string;
}

export interface DB {
  mailbox_state: MailboxStateTable;
  raw_messages: RawMessagesTable;
  case_sequences: CaseSequencesTable;
  cases: CasesTable;
  case_labels: CaseLabelsTable;
  case_participants: CaseParticipantsTable;
  case_events: CaseEventsTable;
  messages: MessagesTable;
  attachments: AttachmentsTable;
  inbound: InboundTable;
  outbox: OutboxTable;
  consultations: ConsultationsTable;
  approvals: ApprovalsTable;
  questionnaire_answers: QuestionnaireAnswersTable;
  snippet_uses: SnippetUsesTable;
  case_views: CaseViewsTable;
  absences: AbsencesTable;
  absence_log: AbsenceLogTable;
  quarantine: QuarantineTable;
  parked: ParkedTable;
  ratings: RatingsTable;
  customers: CustomersTable;
  customer_views: CustomerViewsTable;
  customer_changes: CustomerChangesTable;
  erasures: ErasuresTable;
  report_runs: ReportRunsTable;
  report_closings: ReportClosingsTable;
  report_first_responses: ReportFirstResponsesTable;
  report_received: ReportReceivedTable;
  box_leases: BoxLeasesTable;
  daemon_nodes: DaemonNodesTable;
  stored_chunks: StoredChunksTable;
}
