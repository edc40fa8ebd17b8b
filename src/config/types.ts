// The validated, normalised configuration. Durations are milliseconds, sizes are bytes, paths are
// absolute. The schema in ./schema.ts is the single source for what the YAML may contain; these
// interfaces describe what the rest of the code receives after validation.

export interface Config {
  /** Absolute path of the YAML file this came from. */
  sourcePath: string;
  instance: InstanceConfig;
  smtp: SmtpConfig;
  ingest: IngestConfig;
  auto_response: AutoResponseConfig;
  schedule: ScheduleConfig;
  mailboxes: MailboxConfig[];
  pools: PoolConfig[];
  consultants: ConsultantConfig[];
  departments: DepartmentConfig[];
  questionnaires: QuestionnaireConfig[];
  dictionaries: DictionaryConfig[];
  snippets: SnippetNode[];
}

export interface InstanceConfig {
  name: string;
  case_prefix: string;
  data_dir: string;
  timezone: string;
  templates_dir: string;
  reopen_window: number;
  secret: string;
  log_level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
}

export interface SmtpConfig {
  transport: 'smtp' | 'file';
  host: string;
  port: number;
  secure: boolean;
  user?: string;
  password?: string;
  outbox_dir?: string;
  max_attempts: number;
}

export interface ListenerConfig {
  enabled: boolean;
  protocol: 'lmtp' | 'smtp';
  host: string;
  port: number;
}

export interface MarkConfig {
  mode: 'keyword' | 'move' | 'none';
  keyword: string;
  folder: string;
}

export interface IngestConfig {
  poll_interval: number;
  idle: boolean;
  max_message_size: number;
  max_parts: number;
  max_header_bytes: number;
  mark: MarkConfig;
  listener: ListenerConfig;
}

export interface AutoResponseConfig {
  window: number;
  daily_cap: number;
}

export interface ScheduleConfig {
  /** node-cron expression for overdue checks and reminders. */
  overdue_check: string;
  reminders: string;
}

export interface ImapConfig {
  host: string;
  port: number;
  tls: boolean;
  user: string;
  password: string;
  folder: string;
}

export interface MailboxConfig {
  id: string;
  address: string;
  name?: string;
  pool: string;
  imap?: ImapConfig;
  /** Template name overriding the pool's auto-response, or false to send none from this box. */
  auto_response?: string | false;
}

export interface PriorityRule {
  subject_contains?: string;
  from_domain?: string;
  priority: CasePriority;
}

export type CasePriority = 'low' | 'normal' | 'high' | 'urgent';

export interface PoolConfig {
  id: string;
  name: string;
  auto_response: string | false;
  response_deadline: number;
  reopen_window?: number;
  questionnaire?: string;
  languages: string[];
  priority_rules: PriorityRule[];
}

export type Role = 'consultant' | 'supervisor' | 'admin';

export interface ConsultantPool {
  pool: string;
  /** 1 is taken first; larger numbers later. */
  priority: number;
}

export interface FooterConfig {
  text?: string;
  image?: string;
}

export interface ConsultantConfig {
  id: string;
  name: string;
  email: string;
  roles: Role[];
  pools: ConsultantPool[];
  trainee: boolean;
  supervisor?: string;
  footer?: FooterConfig;
  replacement?: string;
}

export interface DepartmentConfig {
  id: string;
  name: string;
  email: string;
  deadline: number;
  /** Consultant ids or e-mail addresses told when a consultation is overdue. */
  notify_overdue: string[];
}

export interface QuestionConfig {
  key: string;
  text: string;
  dictionary?: string;
  required: boolean;
}

export interface QuestionnaireConfig {
  id: string;
  name: string;
  /** When answers are required: on closing only, or on every reply. */
  required_on: 'close' | 'reply';
  questions: QuestionConfig[];
}

export interface DictionaryConfig {
  id: string;
  values: string[];
}

export interface SnippetNode {
  title: string;
  code?: string;
  /** Language code -> text. Present on leaves. */
  text?: Record<string, string>;
  children?: SnippetNode[];
}
