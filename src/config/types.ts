// The validated, normalised configuration as the rest of the code receives it: durations in
// milliseconds, sizes in bytes, paths absolute, defaults filled in, passwords as SecretRefs.
// Every type is inferred from the zod schema in ./schema.ts, so the types cannot say something
// the validation does not; the names are the ones the code has always imported.
import type { z } from 'zod';
import type { ConfigSchema } from './schema.js';

export type { SnippetNode } from './schema.js';
export type { SecretRef } from './secrets.js';

type Parsed = z.output<ConfigSchema>;

export type Config = Parsed & {
  /** Absolute path of the YAML file this came from. */
  sourcePath: string;
};

export type InstanceConfig = Config['instance'];
export type SmtpConfig = Config['smtp'];
export type IngestConfig = Config['ingest'];
export type ListenerConfig = IngestConfig['listener'];
export type MarkConfig = IngestConfig['mark'];
export type AutoResponseConfig = Config['auto_response'];
export type ScheduleConfig = Config['schedule'];
export type MailboxConfig = Config['mailboxes'][number];
export type ImapConfig = NonNullable<MailboxConfig['imap']>;
export type PoolConfig = Config['pools'][number];
export type PriorityRule = PoolConfig['priority_rules'][number];
export type CasePriority = PriorityRule['priority'];
export type ConsultantConfig = Config['consultants'][number];
export type Role = ConsultantConfig['roles'][number];
export type ConsultantPool = ConsultantConfig['pools'][number];
export type FooterConfig = NonNullable<ConsultantConfig['footer']>;
export type DepartmentConfig = Config['departments'][number];
export type QuestionnaireConfig = Config['questionnaires'][number];
export type QuestionConfig = QuestionnaireConfig['questions'][number];
export type DictionaryConfig = Config['dictionaries'][number];
/** When TLS is not used from the start: insist on STARTTLS, take it when offered, or never. */
export type StartTls = ImapConfig['starttls'];
