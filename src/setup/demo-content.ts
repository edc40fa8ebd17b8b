// What `mailwarden demo` writes and sends: a small department with two pools in two languages,
// and a handful of realistic customer mails, one of which threads and one of which is an
// automatic reply that must not be answered automatically.
import path from 'node:path';
import YAML from 'yaml';

export interface DemoMail {
  /** Recipient: picks the mailbox. */
  to: string;
  from: string;
  /** The raw message (CRLF). */
  raw: string;
  /** Shown in the account printed at the end. */
  about: string;
}

const DEMO_DOMAIN = 'acme.example';

export function demoConfigYaml(opts: { dir: string; listenerPort: number }): string {
  const doc = {
    instance: {
      name: 'ACME Bank Customer Service (demo)',
      case_prefix: 'ACME',
      data_dir: './data',
      timezone: 'Europe/Warsaw',
      secret: 'demo-only-secret-not-for-production-use',
      log_level: 'info',
    },
    smtp: { transport: 'file', outbox_dir: './outbox' },
    ingest: { listener: { enabled: true, protocol: 'lmtp', host: '127.0.0.1', port: opts.listenerPort }, mark: { mode: 'none' } },
    pools: [
      {
        id: 'cards',
        name: 'Payment cards',
        response_deadline: '8h',
        questionnaire: 'card-closing',
        languages: ['pl', 'en'],
        priority_rules: [{ subject_contains: 'stolen', priority: 'urgent' }],
      },
      { id: 'api', name: 'API and integrations', response_deadline: '2d', languages: ['en'] },
    ],
    mailboxes: [
      { id: 'cards', address: `cards@${DEMO_DOMAIN}`, name: 'ACME Cards', pool: 'cards' },
      { id: 'api', address: `api@${DEMO_DOMAIN}`, name: 'ACME API Support', pool: 'api' },
    ],
    consultants: [
      {
        id: 'maria',
        name: 'Maria Kowalska',
        email: 'maria@staff.acme.example',
        roles: ['consultant', 'supervisor', 'admin'],
        pools: [
          { pool: 'cards', priority: 1 },
          { pool: 'api', priority: 2 },
        ],
        footer: { text: 'Maria Kowalska\nACME Bank Customer Service' },
      },
      {
        id: 'anna',
        name: 'Anna Nowak',
        email: 'anna@staff.acme.example',
        roles: ['consultant'],
        pools: [{ pool: 'cards', priority: 1 }],
        footer: { text: 'Anna Nowak\nACME Bank, cards team' },
      },
      {
        id: 'piotr',
        name: 'Piotr Zielinski',
        email: 'piotr@staff.acme.example',
        roles: ['consultant'],
        pools: [
          { pool: 'api', priority: 1 },
          { pool: 'cards', priority: 2 },
        ],
      },
      {
        id: 'tom',
        name: 'Tom Trainee',
        email: 'tom@staff.acme.example',
        roles: ['consultant'],
        trainee: true,
        supervisor: 'maria',
        pools: [{ pool: 'cards', priority: 1 }],
      },
    ],
    departments: [{ id: 'fraud', name: 'Fraud Prevention', email: 'fraud@staff.acme.example', deadline: '1d', notify_overdue: ['maria'] }],
    questionnaires: [
      {
        id: 'card-closing',
        name: 'Closing a card case',
        questions: [
          { key: 'partner', text: 'Card scheme concerned', dictionary: 'card-partners' },
          { key: 'note', text: 'Anything to add', required: false },
        ],
      },
    ],
    dictionaries: [{ id: 'card-partners', values: ['Visa', 'Mastercard', 'Maestro'] }],
    snippets: [
      {
        title: 'Greetings',
        children: [
          { code: 'hello', title: 'Opening', text: { pl: 'Dzień dobry,', en: 'Hello,' } },
          { code: 'bye', title: 'Closing', text: { pl: 'Pozdrawiamy serdecznie,', en: 'Kind regards,' } },
        ],
      },
      {
        title: 'Cards',
        children: [
          {
            code: 'cardblock',
            title: 'Card blocked',
            text: {
              pl: 'Państwa karta została zablokowana. Nową kartę wyślemy w ciągu 5 dni roboczych.',
              en: 'Your card has been blocked. A new card will be sent within 5 working days.',
            },
          },
        ],
      },
    ],
  };
  return `# Written by \`mailwarden demo\` in ${path.resolve(opts.dir)}; safe to delete.\n` + YAML.stringify(doc);
}

function mail(headers: Record<string, string>, body: string): string {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return [
    ...lines,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    body.replace(/\n/g, '\r\n'),
    '',
  ].join('\r\n');
}

export function demoMails(now: Date): DemoMail[] {
  const date = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toUTCString();
  const janFirst = '<demo-jan-1@mail.example.pl>';
  return [
    {
      to: `cards@${DEMO_DOMAIN}`,
      from: 'jan.kowalski@example.pl',
      about: 'Polish customer, blocked card',
      raw: mail(
        { From: 'Jan Kowalski <jan.kowalski@example.pl>', To: `cards@${DEMO_DOMAIN}`, Subject: 'Zablokowana karta', 'Message-ID': janFirst, Date: date(40) },
        'Dzień dobry,\n\nmoja karta została zablokowana po trzech błędnych próbach wpisania PIN-u.\nCzy mogą Państwo ją odblokować? Nie mogę zapłacić za zakupy.\n\nZ poważaniem\nJan Kowalski',
      ),
    },
    {
      to: `cards@${DEMO_DOMAIN}`,
      from: 'emma.clark@example.org',
      about: 'English customer, stolen card (raised to urgent by a pool rule)',
      raw: mail(
        {
          From: 'Emma Clark <emma.clark@example.org>',
          To: `cards@${DEMO_DOMAIN}`,
          Subject: 'My card was stolen in Lisbon',
          'Message-ID': '<demo-emma-1@example.org>',
          Date: date(30),
        },
        'Hello,\n\nmy wallet was stolen this morning in Lisbon with my ACME debit card in it.\nPlease block the card and tell me how to get a new one while I am abroad.\n\nThank you,\nEmma Clark',
      ),
    },
    {
      to: `api@${DEMO_DOMAIN}`,
      from: 'dev@fintech.example',
      about: 'developer question to the API pool',
      raw: mail(
        {
          From: 'Lena Fischer <dev@fintech.example>',
          To: `api@${DEMO_DOMAIN}`,
          Subject: 'OAuth token expires after 5 minutes',
          'Message-ID': '<demo-lena-1@fintech.example>',
          Date: date(20),
        },
        'Hi,\n\nthe access tokens we get from the sandbox expire after 5 minutes, although the\ndocumentation says 60. Is this intended? Our client id is fintech-demo-42.\n\nBest,\nLena',
      ),
    },
    {
      to: `cards@${DEMO_DOMAIN}`,
      from: 'jan.kowalski@example.pl',
      about: 'Jan writes again: threads onto his first case',
      raw: mail(
        {
          From: 'Jan Kowalski <jan.kowalski@example.pl>',
          To: `cards@${DEMO_DOMAIN}`,
          Subject: 'Re: Zablokowana karta',
          'Message-ID': '<demo-jan-2@mail.example.pl>',
          'In-Reply-To': janFirst,
          References: janFirst,
          Date: date(10),
        },
        'Jeszcze jedno: numer karty kończy się na 4417.\n\nJan Kowalski',
      ),
    },
    {
      to: `api@${DEMO_DOMAIN}`,
      from: 'ops@partner.example',
      about: 'an out-of-office reply: a case, but no auto-response (RFC 3834)',
      raw: mail(
        {
          From: 'Partner Ops <ops@partner.example>',
          To: `api@${DEMO_DOMAIN}`,
          Subject: 'Automatic reply: API maintenance window',
          'Message-ID': '<demo-ooo-1@partner.example>',
          'Auto-Submitted': 'auto-replied',
          Date: date(5),
        },
        'I am out of the office until Monday and will read your message when I am back.',
      ),
    },
  ];
}
