// The validated, normalised configuration as the rest of the code receives it: durations in
// milliseconds, sizes in bytes, paths absolute, defaults filled in, passwords as SecretRefs.
// Every type is inferred from the zod schema in ./schema.ts, so the types cannot say something
// the validation does not; the names are the ones the code has always imported.
import type { z } from 'zod';
import type { ConfigSchema, REPORT_PERIODS } from './schema.js';

export type { SnippetNode } from './schema.js';
export type { SecretRef } from './secrets.js';

type Parsed = z.output<ConfigSchema>;

export type Config = Parsed & {
  /** Absolute path of the YAML file this came from. */
  sourcePath: string;
};

export type SmtpConfig = Config['smtp'];
export type IngestConfig = Config['ingest'];
export type ListenerConfig = IngestConfig['listener'];
export type MailboxConfig = Config['mailboxes'][number];
export type ImapConfig = NonNullable<MailboxConfig['imap']>;
/** How a login to IMAP or SMTP is made (the two sections have the same shape). */
export type LoginAuth = ImapConfig['auth'];
export type PoolConfig = Config['pools'][number];
export type PriorityRule = PoolConfig['priority_rules'][number];
export type CasePriority = PriorityRule['priority'];
export type ConsultantConfig = Config['consultants'][number];
export type DepartmentConfig = Config['departments'][number];
export type QuestionnaireConfig = Config['questionnaires'][number];
export type CalendarConfig = Config['calendars'][number];
export type ReportConfig = Config['reports'][number];
export type ReportPeriodName = (typeof REPORT_PERIODS)[number];
