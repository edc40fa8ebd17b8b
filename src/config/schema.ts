// The configuration schema as data: the validator walks it, and the README's configuration
// reference is checked against it (test/config/reference.test.ts), so the two cannot drift.

export type FieldType =
  | 'string'
  | 'int'
  | 'bool'
  | 'duration'
  | 'size'
  | 'email'
  | 'path'
  | 'enum'
  | 'object'
  | 'array'
  | 'map'
  | 'template'
  | 'cron';

export interface Field {
  type: FieldType;
  doc: string;
  required?: boolean;
  default?: unknown;
  /** enum: the allowed values. */
  values?: readonly string[];
  /** object: its fields. */
  fields?: Record<string, Field>;
  /** array: the schema of each item; map: the schema of each value. */
  items?: Field;
  /** template: `false` is allowed and means "none". */
  allowFalse?: boolean;
  /** string: a pattern the value must match, with a sentence saying what it wants. */
  pattern?: { re: RegExp; says: string };
  min?: number;
  max?: number;
}

const str = (doc: string, extra: Partial<Field> = {}): Field => ({ type: 'string', doc, ...extra });
const ID = { re: /^[a-z0-9][a-z0-9_-]{0,62}$/, says: 'must be lower-case letters, digits, "-" or "_"' };

const imap: Field = {
  type: 'object',
  doc: 'IMAP account supervised by this mailbox',
  fields: {
    host: str('IMAP server host name', { required: true }),
    port: { type: 'int', doc: 'IMAP port', default: 993, min: 1, max: 65535 },
    tls: { type: 'bool', doc: 'connect with TLS from the start (993); false for plain IMAP', default: true },
    user: str('login name', { required: true }),
    password: str('password; write ${ENV_NAME} so the secret stays out of the file', { required: true }),
    folder: str('folder watched for new mail', { default: 'INBOX' }),
  },
};

const priority = { type: 'enum', values: ['low', 'normal', 'high', 'urgent'] } as const;

export const configSchema: Field = {
  type: 'object',
  doc: 'mailwarden configuration',
  fields: {
    instance: {
      type: 'object',
      doc: 'this installation',
      required: true,
      fields: {
        name: str('display name of the department', { required: true }),
        case_prefix: str('case ID prefix, as in ACME-000042', {
          required: true,
          pattern: { re: /^[A-Z][A-Z0-9]{1,9}$/, says: 'must be 2-10 upper-case letters or digits, starting with a letter' },
        }),
        data_dir: { type: 'path', doc: 'database and raw mail (created 0700); relative to this file', default: '../data' },
        timezone: str('IANA time zone for reports and reminders', { default: 'UTC' }),
        templates_dir: { type: 'path', doc: 'mail templates; relative to this file (default: the templates shipped with mailwarden)' },
        reopen_window: { type: 'duration', doc: 'a customer message within this time after closing reopens the case', default: '14d' },
        secret: str('key that signs reply tokens; write ${ENV_NAME}', { default: '' }),
        log_level: { type: 'enum', doc: 'pino log level', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'], default: 'info' },
      },
    },
    smtp: {
      type: 'object',
      doc: 'outbound mail',
      default: {},
      fields: {
        transport: { type: 'enum', doc: '`smtp` relays through host:port; `file` writes .eml files', values: ['smtp', 'file'], default: 'smtp' },
        host: str('SMTP relay host', { default: '127.0.0.1' }),
        port: { type: 'int', doc: 'SMTP relay port', default: 25, min: 1, max: 65535 },
        secure: { type: 'bool', doc: 'TLS from the start (465)', default: false },
        user: str('SMTP login, if the relay wants one'),
        password: str('SMTP password; write ${ENV_NAME}'),
        outbox_dir: { type: 'path', doc: 'where the `file` transport writes (default: <data_dir>/outbox)' },
        max_attempts: { type: 'int', doc: 'transient failures retried this many times before the row fails', default: 12, min: 1 },
      },
    },
    ingest: {
      type: 'object',
      doc: 'how mail comes in',
      default: {},
      fields: {
        poll_interval: { type: 'duration', doc: 'polling interval, also the safety net beside IDLE', default: '60s' },
        idle: { type: 'bool', doc: 'use IMAP IDLE where the server offers it', default: true },
        max_message_size: { type: 'size', doc: 'larger mail is kept raw and its case flagged `oversize`', default: '25MB' },
        max_parts: { type: 'int', doc: 'MIME parts parsed per message before the rest is ignored', default: 500, min: 1 },
        max_header_bytes: { type: 'size', doc: 'header block size beyond which the message is kept unparsed', default: '1MB' },
        mark: {
          type: 'object',
          doc: 'how processed mail is marked on the server',
          default: {},
          fields: {
            mode: { type: 'enum', doc: '`keyword` sets an IMAP keyword, `move` moves the message, `none` leaves it', values: ['keyword', 'move', 'none'], default: 'keyword' },
            keyword: str('keyword set in `keyword` mode', { default: '$MailwardenSeen' }),
            folder: str('folder used in `move` mode (created when missing)', { default: 'Processed' }),
          },
        },
        listener: {
          type: 'object',
          doc: 'direct delivery by LMTP or SMTP from a local MTA',
          default: {},
          fields: {
            enabled: { type: 'bool', doc: 'start the listener with `mailwarden run`', default: false },
            protocol: { type: 'enum', doc: 'protocol spoken', values: ['lmtp', 'smtp'], default: 'lmtp' },
            host: str('listen address (keep it on loopback)', { default: '127.0.0.1' }),
            port: { type: 'int', doc: 'listen port', default: 2424, min: 0, max: 65535 },
          },
        },
      },
    },
    auto_response: {
      type: 'object',
      doc: 'RFC 3834 limits on auto-responses',
      default: {},
      fields: {
        window: { type: 'duration', doc: 'at most one auto-response per sender in this window', default: '4h' },
        daily_cap: { type: 'int', doc: 'at most this many auto-responses per recipient per day', default: 10, min: 0 },
      },
    },
    schedule: {
      type: 'object',
      doc: 'node-cron schedules of the daemon',
      default: {},
      fields: {
        overdue_check: { type: 'cron', doc: 'when overdue cases and consultations are looked for', default: '* * * * *' },
        reminders: { type: 'cron', doc: 'when postponed cases are woken', default: '* * * * *' },
      },
    },
    mailboxes: {
      type: 'array',
      doc: 'supervised boxes',
      required: true,
      items: {
        type: 'object',
        doc: 'one mailbox',
        fields: {
          id: str('unique id', { required: true, pattern: ID }),
          address: { type: 'email', doc: 'the address customers write to', required: true },
          name: str('display name used in From'),
          pool: str('pool this box belongs to', { required: true }),
          imap,
          auto_response: { type: 'template', doc: 'template overriding the pool auto-response; false sends none', allowFalse: true },
        },
      },
    },
    pools: {
      type: 'array',
      doc: 'themes grouping mailboxes',
      required: true,
      items: {
        type: 'object',
        doc: 'one pool',
        fields: {
          id: str('unique id', { required: true, pattern: ID }),
          name: str('display name', { required: true }),
          auto_response: { type: 'template', doc: 'auto-response template; false sends none', allowFalse: true, default: 'auto-response' },
          response_deadline: { type: 'duration', doc: 'time to answer a new case', required: true },
          reopen_window: { type: 'duration', doc: 'overrides instance.reopen_window' },
          questionnaire: str('questionnaire answered when closing'),
          languages: { type: 'array', doc: 'languages of this pool; the first is the fallback', required: true, items: str('ISO 639-1 code', { pattern: { re: /^[a-z]{2}$/, says: 'must be a two-letter language code' } }) },
          priority_rules: {
            type: 'array',
            doc: 'raise the priority of new cases',
            default: [],
            items: {
              type: 'object',
              doc: 'one rule',
              fields: {
                subject_contains: str('case-insensitive text in the subject'),
                from_domain: str('sender domain'),
                priority: { ...priority, doc: 'priority given', required: true },
              },
            },
          },
        },
      },
    },
    consultants: {
      type: 'array',
      doc: 'people who answer cases',
      required: true,
      items: {
        type: 'object',
        doc: 'one consultant',
        fields: {
          id: str('unique id, used with --as', { required: true, pattern: ID }),
          name: str('full name', { required: true }),
          email: { type: 'email', doc: 'their own address', required: true },
          roles: { type: 'array', doc: 'consultant, supervisor, admin', default: ['consultant'], items: { type: 'enum', doc: 'role', values: ['consultant', 'supervisor', 'admin'] } },
          pools: {
            type: 'array',
            doc: 'pools they take cases from',
            default: [],
            items: {
              type: 'object',
              doc: 'one pool',
              fields: {
                pool: str('pool id', { required: true }),
                priority: { type: 'int', doc: '1 is taken first', default: 1, min: 1 },
              },
            },
          },
          trainee: { type: 'bool', doc: 'replies wait for the supervisor', default: false },
          supervisor: str('consultant id approving a trainee'),
          footer: {
            type: 'object',
            doc: 'appended to replies',
            fields: {
              text: str('footer text'),
              image: { type: 'path', doc: 'JPEG shown inline; relative to this file' },
            },
          },
          replacement: str('consultant id taking over when absent'),
        },
      },
    },
    departments: {
      type: 'array',
      doc: 'teams consulted by e-mail',
      default: [],
      items: {
        type: 'object',
        doc: 'one department',
        fields: {
          id: str('unique id', { required: true, pattern: ID }),
          name: str('display name', { required: true }),
          email: { type: 'email', doc: 'their address', required: true },
          deadline: { type: 'duration', doc: 'time they have to answer', required: true },
          notify_overdue: { type: 'array', doc: 'consultant ids or addresses told when overdue', default: [], items: str('id or address') },
        },
      },
    },
    questionnaires: {
      type: 'array',
      doc: 'questions answered when closing',
      default: [],
      items: {
        type: 'object',
        doc: 'one questionnaire',
        fields: {
          id: str('unique id', { required: true, pattern: ID }),
          name: str('display name', { default: '' }),
          required_on: { type: 'enum', doc: '`close` or every `reply`', values: ['close', 'reply'], default: 'close' },
          questions: {
            type: 'array',
            doc: 'the questions',
            required: true,
            items: {
              type: 'object',
              doc: 'one question',
              fields: {
                key: str('answer key, as in --answer key=value', { required: true, pattern: ID }),
                text: str('question shown', { required: true }),
                dictionary: str('dictionary id the answer must come from'),
                required: { type: 'bool', doc: 'must be answered', default: true },
              },
            },
          },
        },
      },
    },
    dictionaries: {
      type: 'array',
      doc: 'allowed answers',
      default: [],
      items: {
        type: 'object',
        doc: 'one dictionary',
        fields: {
          id: str('unique id', { required: true, pattern: ID }),
          values: { type: 'array', doc: 'allowed values', required: true, items: str('value') },
        },
      },
    },
    snippets: {
      type: 'array',
      doc: 'reply snippets as a tree (or a path to a YAML file holding the tree)',
      default: [],
      items: {
        type: 'object',
        doc: 'a group (children) or a snippet (code + text)',
        fields: {
          title: str('shown in `mailwarden snippets`', { required: true }),
          code: str('typed as #code in a reply', { pattern: { re: /^[a-z0-9][a-z0-9_-]*$/, says: 'must be lower-case letters, digits, "-" or "_"' } }),
          text: { type: 'map', doc: 'language code -> text', items: str('text') },
          children: { type: 'array', doc: 'nested snippets', items: { type: 'object', doc: 'recursive', fields: {} } },
        },
      },
    },
  },
};

// Snippet children have the snippet's own shape.
const snippetItem = configSchema.fields!.snippets!.items!;
snippetItem.fields!.children!.items = snippetItem;
