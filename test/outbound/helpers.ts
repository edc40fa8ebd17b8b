// Shared set-up for the outbound tests: a real config from writeTestConfig, the real SQLite
// database, and cases inserted the way ingest's accept transaction would (a case row, its
// inbound message, the customer as participant), so these tests do not depend on ingest.
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { requireConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { writeTx, type Opened, type OpenOptions } from '../../src/db/connection';
import { openTestDatabase } from '../support/backend';
import { allocateCaseId } from '../../src/db/case-ids';
import { addMs, nowIso } from '../../src/clock';
import type { QueueMailInput } from '../../src/outbound/queue';
import type { InboundFacts } from '../../src/outbound/rfc3834';
import { writeTestConfig, type TestConfig, type TestConfigOptions } from '../support/config';
import { REPO_ROOT } from '../support/cli';
import { makeTempDir, removeTempDir } from '../support/tmp';

export interface OutboundEnv {
  cfg: TestConfig;
  config: Config;
  opened: Opened;
  close(): Promise<void>;
}

/** A test config whose templates are a private copy of templates/ (tests add overrides to it). */
export async function outboundEnv(
  opts: TestConfigOptions & { templates?: Record<string, string>; database?: Omit<OpenOptions, 'dataDir' | 'url'> } = {},
): Promise<OutboundEnv> {
  const dir = opts.dir ?? (await makeTempDir('mw-outbound-'));
  const templates = path.join(dir, 'templates');
  fs.cpSync(path.join(REPO_ROOT, 'templates'), templates, { recursive: true });
  for (const [rel, text] of Object.entries(opts.templates ?? {})) {
    fs.mkdirSync(path.dirname(path.join(templates, rel)), { recursive: true });
    fs.writeFileSync(path.join(templates, rel), text);
  }
  const overrides = { ...opts.overrides, instance: { ...(opts.overrides?.instance as object | undefined), templates_dir: templates } };
  const cfg = await writeTestConfig({ ...opts, dir, overrides });
  const config = requireConfig(cfg.configPath);
  const opened = await openTestDatabase(config.instance.data_dir, opts.database);
  return {
    cfg,
    config,
    opened,
    async close() {
      await opened.close();
      await removeTempDir(dir);
    },
  };
}

export function writeTemplate(env: OutboundEnv, relPath: string, text: string): void {
  const file = path.join(env.config.instance.templates_dir, relPath);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

export interface NewCase {
  mailbox?: string;
  customer?: string;
  customerName?: string | null;
  subject?: string;
  messageId?: string;
  language?: string | null;
}

/** Inserts a case with its inbound message, as ingest would; returns the case id. */
export async function insertCase(env: OutboundEnv, c: NewCase = {}): Promise<string> {
  const box = env.config.mailboxes.find((m) => m.id === (c.mailbox ?? env.config.mailboxes[0]!.id))!;
  const pool = env.config.pools.find((p) => p.id === box.pool)!;
  const at = nowIso();
  return writeTx(env.opened.db, async (tx) => {
    const id = await allocateCaseId(tx, env.config.instance.case_prefix);
    const customer = c.customer ?? 'customer@example.org';
    await tx
      .insertInto('cases')
      .values({
        id,
        pool_id: pool.id,
        mailbox_id: box.id,
        status: 'received',
        subject: c.subject ?? 'My card does not work',
        customer_address: customer,
        customer_name: c.customerName === undefined ? 'Carla Customer' : c.customerName,
        language: c.language === undefined ? 'en' : c.language,
        assignee: null,
        received_at: at,
        deadline_at: addMs(at, pool.response_deadline),
        first_response_at: null,
        closed_at: null,
        remind_at: null,
        overdue_notified_at: null,
        linked_case_id: null,
        updated_at: at,
      })
      .execute();
    await tx.insertInto('case_participants').values({ case_id: id, address: customer, role: 'customer', added_at: at }).execute();
    await tx
      .insertInto('messages')
      .values({
        case_id: id,
        kind: 'inbound',
        at,
        author: null,
        from_address: customer,
        from_name: null,
        subject: c.subject ?? 'My card does not work',
        message_id: c.messageId ?? null,
        in_reply_to: null,
        references: null,
        raw_sha256: null,
        state: null,
      })
      .execute();
    return id;
  });
}

/** InboundFacts from raw RFC 822 bytes, the way ingest derives them from mailparser. */
export async function factsFromRaw(raw: string | Buffer, envelopeFrom?: string | null): Promise<InboundFacts> {
  const parsed = await simpleParser(raw);
  const headers: Record<string, string> = {};
  for (const line of parsed.headerLines) if (!(line.key in headers)) headers[line.key] = line.line.slice(line.line.indexOf(':') + 1).trim();
  const from = parsed.from?.value[0];
  const refs = parsed.references === undefined ? [] : Array.isArray(parsed.references) ? parsed.references : [parsed.references];
  return {
    from: from?.address ? { address: from.address, ...(from.name ? { name: from.name } : {}) } : null,
    envelopeFrom: envelopeFrom ?? null,
    messageId: parsed.messageId ?? null,
    inReplyTo: parsed.inReplyTo ?? null,
    references: refs,
    subject: parsed.subject ?? '',
    headers,
  };
}

export function mail(headers: Record<string, string>, body = 'Hello,\nplease help.\n'): string {
  const base: Record<string, string> = {
    From: 'Carla Customer <customer@example.org>',
    To: 'alice@example.test',
    Subject: 'My card does not work',
    Date: new Date().toUTCString(),
    'Message-ID': `<${Math.random().toString(36).slice(2)}@example.org>`,
    'MIME-Version': '1.0',
    'Content-Type': 'text/plain; charset=utf-8',
  };
  const all = { ...base, ...headers };
  return (
    Object.entries(all)
      .filter(([, v]) => v !== '')
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n') +
    '\r\n\r\n' +
    body.replace(/\n/g, '\r\n')
  );
}

/** A reply from the test box to a customer on the case; each test overrides what it is about. */
export function replyInput(env: OutboundEnv, caseId: string, over: Partial<QueueMailInput> = {}): QueueMailInput {
  return {
    config: env.config,
    caseId,
    kind: 'reply',
    template: 'reply',
    scope: {},
    from: { address: 'alice@example.test' },
    to: [{ address: 'customer@example.org' }],
    vars: { reply: { text: 'x' } },
    messageKind: 'outbound',
    ...over,
  };
}
