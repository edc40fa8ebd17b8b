// The one definition of the configuration, written with zod: it validates the YAML, normalises it
// (durations to ms, sizes to bytes, paths absolute, defaults filled in), gives the TypeScript
// types (./types.ts infers them) and, through the docs each field registers, the configuration
// reference in the README (./reference.ts). The schema is built per file because relative paths
// resolve against the file's directory.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  bool,
  cronExpression,
  dataDir,
  documented,
  duration,
  email,
  filePath,
  int,
  list,
  map,
  oneOf,
  readableFile,
  secret,
  secretText,
  secureUrl,
  section,
  size,
  template,
  text,
  timeZone,
  type SchemaContext,
} from './fields.js';
import { calendar } from './calendar-schema.js';

/** The periods a scheduled report may cover, named from the time it is due (src/reports/relative-periods.ts). */
export const REPORT_PERIODS = ['yesterday', 'today', 'last_7_days', 'last_week', 'last_month', 'month_to_date'] as const;

/** The templates shipped with mailwarden (used when instance.templates_dir is not set). */
export const BUILTIN_TEMPLATES_DIR = fileURLToPath(new URL('../../templates', import.meta.url));

const ID = { re: /^[a-z0-9][a-z0-9_-]{0,62}$/, says: 'must be lower-case letters, digits, "-" or "_"' };
const id = (doc: string) => text(doc, ID);
const NODE_NAME = { re: /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, says: 'must be letters, digits, ".", "-" or "_" (a host name)' };
const NODE_NAME_DOC =
  'name of this machine among several daemons sharing one database (SPEC §10): in the holder of each box lease, and in the pid lock `daemon-<node_name>.pid` with `database.url`';
const TEMPLATES_DOC = 'mail templates; relative to this file (default: the templates shipped with mailwarden)';
const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
const STARTTLS = ['required', 'allowed', 'refused'] as const;
const AUTH_METHODS = ['password', 'xoauth2'] as const;
const GRANTS = ['refresh_token', 'client_credentials'] as const;

// How a login to IMAP or SMTP is made: the password, or an OAuth2 access token (SASL XOAUTH2)
// fetched from `token_url` when connecting (src/config/oauth2.ts). Which fields each method and
// grant needs is checked in ./crossref.ts, so every missing one is listed in one pass.
const login = () =>
  section(
    {
      method: oneOf(AUTH_METHODS, '`password` logs in with `password`; `xoauth2` with an OAuth2 access token (Microsoft 365, Google Workspace)').default(
        'password',
      ),
      token_url: secureUrl('OAuth2 token endpoint (xoauth2), e.g. `https://login.microsoftonline.com/<tenant-id>/oauth2/v2.0/token`').optional(),
      client_id: text('OAuth2 client (application) id (xoauth2)').optional(),
      client_secret: secret('OAuth2 client secret (xoauth2); write ${ENV_NAME} or ${file:/path}, read when a token is fetched').optional(),
      grant: oneOf(GRANTS, '`refresh_token`: delegated, a user consented once; `client_credentials`: the app acts on its own').default('refresh_token'),
      refresh_token: secret('refresh token for the `refresh_token` grant; write ${ENV_NAME} or ${file:/path}').optional(),
      scope: text('scopes asked for, space-separated; required with `client_credentials` (the README names them for Microsoft 365 and Google)').optional(),
    },
    'how the login is made',
  );

const instance = (ctx: SchemaContext) =>
  section(
    {
      name: text('display name of the department'),
      case_prefix: text('case ID prefix, as in ACME-000042', {
        re: /^[A-Z][A-Z0-9]{1,9}$/,
        says: 'must be 2-10 upper-case letters or digits, starting with a letter',
      }),
      data_dir: dataDir(ctx, 'database and raw mail (created 0700); relative to this file').prefault('../data'),
      timezone: timeZone('IANA time zone for reports and reminders').prefault('UTC'),
      // The default is an absolute path on this machine: the reference shows none.
      templates_dir: documented(filePath(ctx, TEMPLATES_DOC).default(BUILTIN_TEMPLATES_DIR), { doc: TEMPLATES_DOC, type: 'path', defaultText: '' }),
      reopen_window: duration('a customer message within this time after closing reopens the case').prefault('14d'),
      secret: secretText(
        'key that signs the tokens in mail to staff and departments (HMAC-SHA-256), at least 32 bytes; write ${ENV_NAME} or ${file:/path}',
        32,
      ),
      token_ttl: duration('a token in staff mail is honoured this long after the mail was sent').prefault('30d'),
      rating_ttl: duration("a customer's rating of a reply (SPEC §5E) counts this long after the reply was written").prefault('90d'),
      log_level: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], 'pino log level').default('info'),
      // The default is this machine's host name: the reference shows none.
      node_name: documented(text(NODE_NAME_DOC, NODE_NAME).default(os.hostname()), { doc: NODE_NAME_DOC, type: 'string', defaultText: 'host name' }),
    },
    'this installation',
  );

const smtp = (ctx: SchemaContext) =>
  section(
    {
      transport: oneOf(['smtp', 'file'], '`smtp` relays through host:port; `file` writes .eml files').default('smtp'),
      host: text('SMTP relay host').prefault('127.0.0.1'),
      port: int('SMTP relay port', { min: 1, max: 65535 }).prefault(25),
      secure: bool('TLS from the start (465)').default(false),
      starttls: oneOf(STARTTLS, 'without `secure`: `required` refuses a relay that does not offer STARTTLS, `refused` never upgrades').default('allowed'),
      ca_file: readableFile(ctx, "PEM file of the CA that signed the relay's certificate (a self-signed one, say); relative to this file").optional(),
      user: text('SMTP login, if the relay wants one (with `auth.method: xoauth2`, the mailbox that sends)').optional(),
      password: secret('SMTP password; write ${ENV_NAME} or ${file:/path}, read when connecting').optional(),
      auth: login().prefault({}),
      outbox_dir: filePath(ctx, 'where the `file` transport writes (default: <data_dir>/outbox)').optional(),
      max_attempts: int('transient failures retried this many times before the row fails', { min: 1 }).prefault(12),
      poll_interval: duration(
        'how often the outbox drainer looks for mail queued by other processes (the CLI); mail the daemon itself queues is sent as soon as it is committed',
      ).prefault('500ms'),
    },
    'outbound mail',
  );

const ingest = () =>
  section(
    {
      poll_interval: duration('polling interval, also the safety net beside IDLE').prefault('60s'),
      idle: bool('use IMAP IDLE where the server offers it').default(true),
      max_message_size: size('larger mail is kept raw and its case flagged `oversize`').prefault('25MB'),
      max_parts: int('MIME parts parsed per message before the rest is ignored', { min: 1 }).prefault(500),
      max_header_bytes: size('header block size beyond which the message is kept unparsed').prefault('1MB'),
      max_attempts: int('times a message whose accept fails (not for a transient reason) is tried before it is parked', { min: 1, max: 100 }).prefault(3),
      box_lease: duration(
        "a box is worked by one daemon at a time under a lease this long, renewed every third of it; a dead daemon's boxes are taken over within it (SPEC §10)",
        { ms: 3000, text: '3s' },
      ).prefault('30s'),
      mark: section(
        {
          mode: oneOf(['keyword', 'move', 'none'], '`keyword` sets an IMAP keyword, `move` moves the message, `none` leaves it').default('keyword'),
          keyword: text('keyword set in `keyword` mode').prefault('$MailwardenSeen'),
          folder: text('folder used in `move` mode (created when missing)').prefault('Processed'),
        },
        'how processed mail is marked on the server',
      ).prefault({}),
      listener: section(
        {
          enabled: bool('start the listener with `mailwarden run`').default(false),
          protocol: oneOf(['lmtp', 'smtp'], 'protocol spoken').default('lmtp'),
          host: text('listen address (keep it on loopback)').prefault('127.0.0.1'),
          port: int('listen port', { min: 0, max: 65535 }).prefault(2424),
          lock_wait: duration(
            'how long a delivery waits while another process holds the database lock before it is answered 451 (the MTA keeps the message and retries)',
          ).prefault('10s'),
        },
        'direct delivery by LMTP or SMTP from a local MTA',
      ).prefault({}),
      authentication_results: text(
        "authserv-id of your own MTA's Authentication-Results header; when set, staff mail must show DMARC (or aligned DKIM/SPF) passing there",
      ).optional(),
    },
    'how mail comes in',
  );

const imap = (ctx: SchemaContext) =>
  section(
    {
      host: text('IMAP server host name'),
      port: int('IMAP port', { min: 1, max: 65535 }).prefault(993),
      tls: bool('connect with TLS from the start (993); false for plain IMAP or STARTTLS (143)').default(true),
      starttls: oneOf(STARTTLS, 'without `tls`: `required` refuses a server that does not offer STARTTLS, `refused` never upgrades').default('allowed'),
      ca_file: readableFile(ctx, "PEM file of the CA that signed the server's certificate (a self-signed one, say); relative to this file").optional(),
      user: text('login name'),
      password: secret('password (`auth.method: password`); write ${ENV_NAME} or ${file:/path}, read when connecting').optional(),
      auth: login().prefault({}),
      folder: text('folder watched for new mail').prefault('INBOX'),
    },
    'IMAP account supervised by this mailbox',
  );

const mailbox = (ctx: SchemaContext) =>
  section(
    {
      id: id('unique id'),
      address: email('the address customers write to'),
      name: text('display name used in From').optional(),
      pool: text('pool this box belongs to'),
      imap: imap(ctx).optional(),
      auto_response: template('template overriding the pool auto-response; false sends none').optional(),
      subaddress: bool(
        'mail to staff from this box also carries its token in `Reply-To: <box>+<token>@<domain>` (the MTA must deliver sub-addresses to the box)',
      ).default(false),
    },
    'one mailbox',
  );

const pool = () =>
  section(
    {
      id: id('unique id'),
      name: text('display name'),
      auto_response: template('auto-response template; false sends none').prefault('auto-response'),
      response_deadline: duration('time to answer a new case'),
      calendar: text('calendar the response deadline counts working time in (default: wall-clock time)').optional(),
      notify_overdue: list(
        text('consultant id or address'),
        "consultant ids or addresses told when a case is overdue, besides its assignee (default: the pool's supervisors)",
      ).optional(),
      reopen_window: duration('overrides instance.reopen_window').optional(),
      questionnaire: text('questionnaire answered when closing').optional(),
      ratings: bool('replies to customers end with a rating line (template `rating`): good / okay / bad as mailto: links to the box').default(false),
      languages: list(
        text('ISO 639-1 code', { re: /^[a-z]{2}$/, says: 'must be a two-letter language code' }),
        'languages of this pool, at least one; the first is the fallback',
        {
          nonEmpty: 'must name at least one language',
        },
      ),
      priority_rules: list(
        section(
          {
            subject_contains: text('case-insensitive text in the subject').optional(),
            from_domain: text('sender domain').optional(),
            priority: oneOf(PRIORITIES, 'priority given'),
          },
          'one rule',
        ),
        'raise the priority of new cases',
      ).default([]),
    },
    'one pool',
  );

const consultant = (ctx: SchemaContext) =>
  section(
    {
      id: id('unique id, used with --as'),
      name: text('full name'),
      email: email('their own address'),
      aliases: list(email('another address'), 'other addresses they may answer staff mail from').default([]),
      roles: list(oneOf(['consultant', 'supervisor', 'admin'], 'role'), 'consultant, supervisor, admin').default(['consultant']),
      pools: list(
        section({ pool: text('pool id'), priority: int('1 is taken first', { min: 1 }).prefault(1) }, 'one pool'),
        'pools they take cases from',
      ).default([]),
      trainee: bool('replies wait for the supervisor').default(false),
      supervisor: text('consultant id approving a trainee').optional(),
      footer: section(
        { text: text('footer text').optional(), image: filePath(ctx, 'JPEG shown inline; relative to this file').optional() },
        'appended to replies',
      ).optional(),
      replacement: text('consultant id taking over when absent').optional(),
    },
    'one consultant',
  );

const department = () =>
  section(
    {
      id: id('unique id'),
      name: text('display name'),
      email: email('their address'),
      aliases: list(email('another address'), 'other addresses their answers may come from (a shared box, a member of the team)').default([]),
      deadline: duration('time they have to answer'),
      calendar: text('calendar the deadline counts working time in (default: wall-clock time)').optional(),
      notify_overdue: list(text('id or address'), 'consultant ids or addresses told when overdue').default([]),
    },
    'one department',
  );

const questionnaire = () =>
  section(
    {
      id: id('unique id'),
      name: text('display name').prefault(''),
      required_on: oneOf(['close', 'reply'], '`close` or every `reply`').default('close'),
      questions: list(
        section(
          {
            key: text('answer key, as in --answer key=value', ID),
            text: text('question shown'),
            dictionary: text('dictionary id the answer must come from').optional(),
            required: bool('must be answered').default(true),
          },
          'one question',
        ),
        'the questions',
      ),
    },
    'one questionnaire',
  );

const dictionary = () => section({ id: id('unique id'), values: list(text('value'), 'allowed values') }, 'one dictionary');

export interface SnippetNode {
  title: string;
  code?: string | undefined;
  /** Language code -> text. Present on leaves. */
  text?: Record<string, string> | undefined;
  children?: SnippetNode[] | undefined;
}

// A snippet's children have the snippet's own shape; the type is written out because zod cannot
// infer a recursive one.
const snippet: z.ZodType<SnippetNode, unknown> = section(
  {
    title: text('shown in `mailwarden snippets`'),
    code: text('typed as #code in a reply', { re: /^[a-z0-9][a-z0-9_-]*$/, says: 'must be lower-case letters, digits, "-" or "_"' }).optional(),
    text: map(text('text'), 'language code -> text').optional(),
    get children() {
      return list(snippet, 'nested snippets').optional();
    },
  },
  'a group (children) or a snippet (code + text)',
);

// A report mailed on a cron schedule (SPEC §6). Recipients may be consultant ids or addresses,
// as in `notify_overdue`; which ids exist, and that a pool or consultant filter names one, is
// checked in ./reports-check.ts with the rest of the cross-references.
const report = () =>
  section(
    {
      id: id('unique id; names the report in its subject and attachment'),
      period: oneOf(
        REPORT_PERIODS,
        'days covered, counted back from the scheduled time in the instance time zone: `yesterday`, `today` (so far), `last_7_days` (the 7 days before today), `last_week` (Monday-Sunday), `last_month`, `month_to_date` (the 1st to today)',
      ),
      by: oneOf(['consultant', 'pool'], 'one row per consultant or per pool, under the total').default('consultant'),
      pool: text('only cases of this pool').optional(),
      consultant: text('only cases closed by this consultant').optional(),
      recipients: list(text('consultant id or address'), 'who gets the mail: consultant ids or e-mail addresses, at least one', {
        nonEmpty: 'must name at least one recipient',
      }),
      schedule: cronExpression('when it is sent (node-cron, in the instance time zone), e.g. `0 7 * * 1` for Mondays at 07:00'),
      subject: text('mail subject; `{from}`, `{to}` and `{id}` are filled in (default: `Report <id>: <from> – <to>`)').optional(),
    },
    'one scheduled report',
  );

// Where raw mail and attachments are kept (SPEC §10), so that every daemon can read them: no
// default written here, because the sensible one depends on database.url (src/db/content-store.ts
// decides). That `directory` comes with a path is checked in ./crossref.ts.
const FILES_DOC =
  'where raw mail and attachments are kept: `data_dir` (files under instance.data_dir), `directory` (files under storage.directory, shared by every node) or `database` (in the database, 1 MiB rows, a copy under each data dir); default: `database` when database.url is set, else `data_dir`';
const storage = (ctx: SchemaContext) =>
  section(
    {
      files: oneOf(['data_dir', 'directory', 'database'], FILES_DOC).optional(),
      directory: filePath(ctx, 'with files: directory, the directory every node mounts (NFS); relative to this file').optional(),
    },
    'raw mail and attachments, readable by every daemon',
  );

export function configSchema(ctx: SchemaContext) {
  return section(
    {
      instance: instance(ctx),
      database: section(
        {
          url: text(
            'PostgreSQL shared by several daemons (SPEC §10), as `postgres://user@host:5432/dbname`; without it the SQLite file in the data dir. Give the password by PGPASSWORD or ~/.pgpass rather than in this file',
            { re: /^postgres(ql)?:\/\/\S+$/, says: 'must be a postgres://user@host:port/dbname URL' },
          ).optional(),
        },
        'where cases are kept',
      ).prefault({}),
      storage: storage(ctx).prefault({}),
      smtp: smtp(ctx).prefault({}),
      ingest: ingest().prefault({}),
      auto_response: section(
        {
          window: duration('at most one auto-response per sender in this window').prefault('4h'),
          daily_cap: int('at most this many auto-responses per recipient per day', { min: 0 }).prefault(10),
          box_cap: int('at most this many auto-responses from one box per box_window, whoever they go to (breaks loops with rotating senders)', {
            min: 0,
          }).prefault(300),
          box_window: duration('the window of box_cap').prefault('1h'),
        },
        'RFC 3834 limits on auto-responses',
      ).prefault({}),
      schedule: section(
        {
          overdue_check: cronExpression('when overdue cases and consultations are looked for').prefault('* * * * *'),
          reminders: cronExpression('when postponed cases are woken').prefault('* * * * *'),
        },
        'node-cron schedules of the daemon',
      ).prefault({}),
      mailboxes: list(mailbox(ctx), 'supervised boxes'),
      pools: list(pool(), 'themes grouping mailboxes'),
      consultants: list(consultant(ctx), 'people who answer cases'),
      departments: list(department(), 'teams consulted by e-mail').default([]),
      calendars: list(calendar(), 'working hours, holidays and a time zone that deadlines count in').default([]),
      questionnaires: list(questionnaire(), 'questions answered when closing').default([]),
      dictionaries: list(dictionary(), 'allowed answers').default([]),
      snippets: list(snippet, 'reply snippets as a tree (or a path to a YAML file holding the tree)').default([]),
      reports: list(report(), 'reports mailed on a schedule, once per scheduled time whatever the number of daemons').default([]),
    },
    'mailwarden configuration',
  );
}

export type ConfigSchema = ReturnType<typeof configSchema>;
