// Writes a complete, valid mailwarden config for a test into a temp dir: two pools, two boxes on
// the test Dovecot, three consultants (supervisor, consultant, trainee), a department, a
// questionnaire with a dictionary and snippets in two languages. Tests change what they need
// through `overrides`, which are merged into the YAML document before it is written.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { testDatabaseUrl } from './backend';
import { makeTempDir } from './tmp';

export interface TestMailbox {
  id: string;
  address: string;
  pool: string;
  /** IMAP login; defaults to the address (Dovecot users are named by address). */
  user?: string;
  password?: string;
  folder?: string;
  auto_response?: string | false;
}

export interface TestConfigOptions {
  dir?: string;
  prefix?: string;
  /** IMAP server for the boxes; without it the boxes get no imap section (listener-only). */
  imap?: { host: string; port: number };
  /** SMTP relay (the sink); without it the `file` transport is used. */
  smtp?: { host: string; port: number };
  mailboxes?: TestMailbox[];
  listener?: { port: number; protocol?: 'lmtp' | 'smtp' };
  /** Deep-merged into the document (arrays replace). */
  overrides?: Record<string, unknown>;
}

export interface TestConfig {
  dir: string;
  configPath: string;
  dataDir: string;
  doc: Record<string, any>;
}

const DEFAULT_TEST_MAILBOXES: TestMailbox[] = [
  { id: 'support', address: 'alice@example.test', pool: 'general' },
  { id: 'cards', address: 'bob@example.test', pool: 'cards' },
];

export async function writeTestConfig(opts: TestConfigOptions = {}): Promise<TestConfig> {
  const dir = opts.dir ?? (await makeTempDir('mw-config-'));
  fs.mkdirSync(dir, { recursive: true });
  const dataDir = path.join(dir, 'data');
  const footer = path.join(dir, 'footer.jpg');
  fs.writeFileSync(footer, Buffer.from(TINY_JPEG_BASE64, 'base64'));
  const boxes = opts.mailboxes ?? DEFAULT_TEST_MAILBOXES;
  const doc: Record<string, any> = {
    instance: {
      name: 'Test Desk',
      case_prefix: opts.prefix ?? 'TEST',
      data_dir: dataDir,
      timezone: 'UTC',
      secret: 'test-secret-0123456789-abcdefghijklmnop',
      log_level: 'debug',
    },
    smtp: opts.smtp
      ? { transport: 'smtp', host: opts.smtp.host, port: opts.smtp.port, secure: false, max_attempts: 5 }
      : { transport: 'file', outbox_dir: path.join(dir, 'outbox') },
    ingest: {
      poll_interval: '2s',
      idle: true,
      mark: { mode: 'keyword' },
      listener: opts.listener ? { enabled: true, protocol: opts.listener.protocol ?? 'lmtp', host: '127.0.0.1', port: opts.listener.port } : { enabled: false },
    },
    auto_response: { window: '4h', daily_cap: 10 },
    schedule: { overdue_check: '*/2 * * * * *', reminders: '*/1 * * * * *' },
    pools: [
      { id: 'general', name: 'General questions', response_deadline: '8h', languages: ['en', 'pl'] },
      {
        id: 'cards',
        name: 'Payment cards',
        response_deadline: '4h',
        questionnaire: 'card-closing',
        languages: ['pl', 'en'],
        priority_rules: [{ subject_contains: 'stolen', priority: 'urgent' }],
      },
    ],
    mailboxes: boxes.map((b) => ({
      id: b.id,
      address: b.address,
      pool: b.pool,
      ...(b.auto_response !== undefined ? { auto_response: b.auto_response } : {}),
      ...(opts.imap
        ? {
            imap: {
              host: opts.imap.host,
              port: opts.imap.port,
              tls: false,
              user: b.user ?? b.address,
              password: b.password ?? 'secret',
              folder: b.folder ?? 'INBOX',
            },
          }
        : {}),
    })),
    consultants: [
      {
        id: 'sam',
        name: 'Sam Supervisor',
        email: 'sam@staff.test',
        roles: ['consultant', 'supervisor', 'admin'],
        pools: [
          { pool: 'general', priority: 1 },
          { pool: 'cards', priority: 2 },
        ],
        footer: { text: 'Sam Supervisor\nTest Desk' },
      },
      {
        id: 'cody',
        name: 'Cody Consultant',
        email: 'cody@staff.test',
        roles: ['consultant'],
        pools: [
          { pool: 'cards', priority: 1 },
          { pool: 'general', priority: 2 },
        ],
        footer: { text: 'Cody Consultant\nTest Desk, cards team', image: footer },
      },
      {
        id: 'tina',
        name: 'Tina Trainee',
        email: 'tina@staff.test',
        roles: ['consultant'],
        trainee: true,
        supervisor: 'sam',
        pools: [{ pool: 'general', priority: 1 }],
      },
    ],
    departments: [{ id: 'fraud', name: 'Fraud Prevention', email: 'fraud@dept.test', deadline: '1d', notify_overdue: ['sam'] }],
    questionnaires: [
      {
        id: 'card-closing',
        name: 'Closing a card case',
        questions: [
          { key: 'partner', text: 'Card scheme', dictionary: 'card-partners' },
          { key: 'note', text: 'Note', required: false },
        ],
      },
    ],
    dictionaries: [{ id: 'card-partners', values: ['Visa', 'Mastercard'] }],
    snippets: [
      {
        title: 'Greetings',
        children: [
          { code: 'hello', title: 'Opening', text: { en: 'Hello,', pl: 'Dzień dobry,' } },
          { code: 'cardblock', title: 'Card blocked', text: { en: 'Your card has been blocked.', pl: 'Państwa karta została zablokowana.' } },
        ],
      },
    ],
  };
  if (opts.overrides) deepMerge(doc, opts.overrides);
  // Keyed by the data dir the config ends up with: two configs on one data dir share a database.
  const url = doc.database ? undefined : await testDatabaseUrl(doc.instance.data_dir);
  if (url) doc.database = { url };
  const configPath = path.join(dir, 'mailwarden.yaml');
  fs.writeFileSync(configPath, YAML.stringify(doc));
  return { dir, configPath, dataDir, doc };
}

/** Rewrites a config written by writeTestConfig (for SIGHUP reload tests). */
export function rewriteTestConfig(cfg: TestConfig, change: (doc: Record<string, any>) => void): void {
  change(cfg.doc);
  fs.writeFileSync(cfg.configPath, YAML.stringify(cfg.doc));
}

function deepMerge(target: Record<string, any>, source: Record<string, any>): void {
  for (const [key, value] of Object.entries(source)) {
    if (value && typeof value === 'object' && !Array.isArray(value) && target[key] && typeof target[key] === 'object' && !Array.isArray(target[key])) {
      deepMerge(target[key], value);
    } else {
      target[key] = value;
    }
  }
}

const TINY_JPEG_BASE64 =
  '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=';
