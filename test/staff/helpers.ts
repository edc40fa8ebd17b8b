// Shared by the staff-mail tests (SPEC §5A, §5B). Why one harness: every test here goes through
// real mail, as staff and attackers would: `mailwarden run` as a child process fetches mail from a
// real Dovecot over IMAP and sends through the outbox to an SMTP sink. A customer's case is assigned to a consultant, the customer writes
// again, and the consultant gets the "customer wrote again" notification whose Message-ID
// carries the token; staff answers are built as a mail client builds them (In-Reply-To,
// References, "Re:", the notification quoted under the answer).
import crypto from 'node:crypto';
import { expect } from 'vitest';
import { findTokenText } from '../../src/tokens';
import { runCli, startDaemon, type CliResult, type Daemon } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { appendMail, buildMail } from '../support/imap';
import { startDovecot } from '../support/dovecot';
import { bound } from '../support/wait';
import type { RecordedMail, SmtpSink } from '../support/smtp-sink';
import { removeTempDir } from '../support/tmp';
import { newMessageId, openDb, waitForInbound } from '../ingest/helpers';

export const BOX = 'alice@example.test';
export const STAFF = { sam: 'sam@staff.test', cody: 'cody@staff.test', tina: 'tina@staff.test' } as const;
type StaffId = keyof typeof STAFF;
/** The footer text of cody in test/support/config.ts. */
export const CODY_FOOTER = 'Cody Consultant\nTest Desk, cards team';

export interface Desk {
  cfg: TestConfig;
  daemon: Daemon;
  db: Awaited<ReturnType<typeof openDb>>;
  sink: SmtpSink;
  env: Record<string, string>;
  /** instance.secret of the test config, for crafting tokens */
  secret: string;
  /** One mail into the box in Dovecot; resolves once the daemon has accepted it (committed). */
  deliver(raw: string, envelopeFrom?: string): Promise<void>;
  /** Stops the daemon and starts it again (with `env`, e.g. a moved clock); `daemon` is then the new one. */
  restart(env?: Record<string, string>): Promise<Daemon>;
  cli(args: string[]): Promise<CliResult>;
  /** A command with --json that must succeed: its parsed stdout. */
  json<T = any>(args: string[]): Promise<T>;
  stop(): Promise<void>;
}

/**
 * The daemon watching one box (`support`, pool general) in a real Dovecot over IMAP, with the sink
 * as its relay. Mail is put into the box as an MTA would deliver it (APPEND), and `deliver`
 * returns once the daemon has accepted it (its inbound row is committed).
 */
export async function startDesk(sink: SmtpSink, overrides: Record<string, unknown> = {}): Promise<Desk> {
  const dovecot = await startDovecot();
  let cfg: TestConfig | undefined;
  let daemon: Daemon | undefined;
  try {
    await dovecot.addUser(BOX, 'secret');
    cfg = await writeTestConfig({
      imap: { host: dovecot.host, port: dovecot.port },
      smtp: { host: sink.host, port: sink.port },
      mailboxes: [{ id: 'support', address: BOX, pool: 'general' }],
      overrides,
    });
    daemon = await startDaemon(cfg.configPath);
  } catch (err) {
    await daemon?.stop();
    if (cfg) await removeTempDir(cfg.dir);
    await dovecot.stop();
    throw new Error(`the desk did not start: ${(err as Error).message}`, { cause: err });
  }
  const started = cfg;
  const db = await openDb(started);
  const env = { MAILWARDEN_CONFIG: started.configPath };
  const cli = (args: string[]) => runCli(args, { env });
  let current: Daemon = daemon;
  return {
    cfg: started,
    get daemon() {
      return current;
    },
    async restart(daemonEnv = {}) {
      await current.stop();
      current = await startDaemon(started.configPath, { env: daemonEnv });
      return current;
    },
    db,
    sink,
    env,
    secret: started.doc.instance.secret as string,
    async deliver(raw) {
      const messageId = /^Message-ID:\s*(<[^>\s]+>)/im.exec(raw)?.[1];
      if (!messageId) throw new Error('a test mail needs a Message-ID to be waited for');
      await appendMail(dovecot, BOX, 'INBOX', raw);
      await waitForInbound(db, messageId, `the daemon accepting ${messageId} from Dovecot`, bound(30_000));
    },
    cli,
    async json(args) {
      const r = await cli([...args, '--json']);
      if (r.code !== 0) throw new Error(`mailwarden ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout);
    },
    async stop() {
      try {
        await current.stop();
      } finally {
        await db.close();
        await dovecot.stop();
        await removeTempDir(started.dir);
      }
    },
  };
}

let customers = 0;

export interface CustomerCase {
  id: string;
  customer: string;
  subject: string;
  /** the customer's Message-IDs, oldest first */
  customerIds: string[];
}

/** A customer's mail opens a case, which a supervisor assigns to `assignee`. */
export async function customerCase(desk: Desk, assignee: StaffId, subject = 'My card is blocked'): Promise<CustomerCase> {
  customers += 1;
  const customer = `carla${customers}@customer.test`;
  const first = newMessageId();
  await desk.deliver(
    buildMail({ from: `Carla Customer <${customer}>`, to: BOX, subject, text: 'Hello, my card was blocked at the shop today.\n', messageId: first }),
    customer,
  );
  const row = await desk.db.db.selectFrom('inbound').select(['case_id', 'outcome']).where('message_id', '=', first).executeTakeFirstOrThrow();
  expect(row.outcome).toBe('case');
  const id = row.case_id!;
  // The auto-response is at the sink before anything a test counts for the customer.
  await arrival(desk.sink, (m) => m.envelope.to.includes(customer), `the auto-response to ${customer}`);
  await desk.json(['assign', id, assignee, '--as', 'sam']);
  return { id, customer, subject, customerIds: [first] };
}

export interface NotifiedCase extends CustomerCase {
  /** the "customer wrote again" mail to the assignee, as the sink got it */
  notification: RecordedMail;
}

/** customerCase, then the customer writes again and the assignee's notification (with its reply token) reaches the sink. */
export async function caseWithNotification(desk: Desk, assignee: StaffId, subject?: string): Promise<NotifiedCase> {
  const c = await customerCase(desk, assignee, subject);
  const second = newMessageId();
  await desk.deliver(
    buildMail({
      from: `Carla Customer <${c.customer}>`,
      to: BOX,
      subject: `Re: ${c.subject}`,
      text: 'Any news? The card still does not work.\n',
      messageId: second,
      inReplyTo: c.customerIds[0],
      references: c.customerIds[0],
    }),
    c.customer,
  );
  const marker = `mwt1.r.${c.id.toLowerCase()}.`;
  const notification = await arrival(
    desk.sink,
    (m) => m.envelope.to.includes(STAFF[assignee]) && m.messageId.includes(marker),
    `the notification to ${assignee} on ${c.id}`,
  );
  expect(notification.parsed.subject).toContain(`[${c.id}]`);
  return { ...c, customerIds: [...c.customerIds, second], notification };
}

/** Waits until the sink has a mail matching `pred` and returns the first one. */
export async function arrival(sink: SmtpSink, pred: (m: RecordedMail) => boolean, what: string): Promise<RecordedMail> {
  await sink.waitFor((all) => all.some(pred), 30_000, what);
  return sink.messages.find(pred)!;
}

/** Mail the sink got for `address`, in arrival order. */
export function sentTo(sink: SmtpSink, address: string): RecordedMail[] {
  return sink.messages.filter((m) => m.envelope.to.includes(address));
}

interface AnswerOptions {
  from: string;
  /** what the person typed above the quote */
  text: string;
  /** In-Reply-To / References, default the answered mail's own Message-ID */
  inReplyTo?: string;
  headers?: Record<string, string>;
  messageId?: string;
}

/**
 * The answer a mail client writes to `to`: From the person, to the address the mail came from,
 * "Re:" subject, threaded on its Message-ID, their text above a quoted copy ("On … wrote:" + "> ").
 */
export function answerTo(to: RecordedMail, opts: AnswerOptions): string {
  const ref = opts.inReplyTo ?? to.messageId;
  const sender = to.parsed.from!.value[0]!;
  const quoted = (to.parsed.text ?? '')
    .replace(/\r\n?/g, '\n')
    .trimEnd()
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');
  const when = to.receivedAt.toUTCString().replace(/ GMT$/, '');
  return buildMail({
    from: opts.from,
    to: sender.address!,
    subject: `Re: ${to.parsed.subject}`,
    text: `${opts.text}\n\nOn ${when}, ${sender.name || sender.address} <${sender.address}> wrote:\n${quoted}\n`,
    messageId: opts.messageId ?? newMessageId(),
    inReplyTo: ref,
    references: ref,
    ...(opts.headers ? { headers: opts.headers } : {}),
  });
}

/** The token a mail's Message-ID carries. */
export function tokenOf(mail: RecordedMail): string {
  const token = findTokenText(mail.messageId);
  if (!token) throw new Error(`no token in ${mail.messageId}`);
  return token;
}

/** A Message-ID of the shape mailwarden gives staff mail, carrying `token`. */
export function messageIdWith(token: string): string {
  return `<${token}.${crypto.randomBytes(6).toString('hex')}@example.test>`;
}

/** What the inbound table recorded for a mail (the LMTP 250 came after the commit). */
export async function inboundOutcome(desk: Desk, messageId: string): Promise<string> {
  const row = await desk.db.db.selectFrom('inbound').select('outcome').where('message_id', '=', messageId).executeTakeFirstOrThrow();
  return row.outcome;
}

/** The held quarantine entry of a mail (`mailwarden quarantine --json`). */
export async function quarantineOf(desk: Desk, messageId: string): Promise<any> {
  const all = await desk.json<any[]>(['quarantine']);
  const entry = all.find((q) => q.message_id === messageId);
  if (!entry) throw new Error(`mail ${messageId} is not in quarantine: ${JSON.stringify(all.map((q) => [q.message_id, q.reason]))}`);
  return entry;
}

/**
 * Status, assignee and number of messages: what an attack must not change. Read from the database
 * (each CLI run costs seconds on a loaded machine); `show --json` is checked where it matters.
 */
export async function caseState(desk: Desk, id: string): Promise<{ status: string; assignee: string | null; messages: number }> {
  const row = await desk.db.db.selectFrom('cases').select(['status', 'assignee']).where('id', '=', id).executeTakeFirstOrThrow();
  const n = await desk.db.db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('case_id', '=', id)
    .executeTakeFirstOrThrow();
  return { status: row.status, assignee: row.assignee, messages: Number(n.n) };
}

/** Outbox rows addressed to `address` (the only way mail leaves mailwarden, SPEC §4). */
export async function outboxTo(desk: Desk, address: string): Promise<Array<{ kind: string; state: string; message_id: string }>> {
  return desk.db.db.selectFrom('outbox').select(['kind', 'state', 'message_id']).where('to_addresses', 'like', `%"${address}"%`).orderBy('id').execute();
}

let barriers = 0;

/**
 * Proof at the SMTP server that nothing more went to `address`: a new customer's mail is
 * answered automatically, and the drainer sends in queue order, so once that auto-response is at
 * the sink every mail queued before it was sent too. Then the sink and the outbox must hold for
 * `address` exactly the mails that were there before (`before`, from sentTo).
 */
export async function expectNothingMoreTo(desk: Desk, address: string, before: RecordedMail[]): Promise<void> {
  barriers += 1;
  const stranger = `barrier${barriers}@customer.test`;
  await desk.deliver(buildMail({ from: stranger, to: BOX, subject: `Barrier ${barriers}`, text: 'Only here to flush the outbox.\n' }), stranger);
  await arrival(desk.sink, (m) => m.envelope.to.includes(stranger), `the auto-response to ${stranger} (barrier)`);
  expect(sentTo(desk.sink, address).map((m) => m.messageId)).toEqual(before.map((m) => m.messageId));
  const rows = await outboxTo(desk, address);
  expect(rows.filter((r) => r.state !== 'held' && r.state !== 'rejected').map((r) => r.message_id)).toEqual(before.map((m) => m.messageId));
}

/** The JSON error a command printed on stderr under --json. */
export function jsonError(r: CliResult): { code: string; message: string } {
  const line = r.stderr.trim().split('\n').pop() ?? '';
  return (JSON.parse(line) as { error: { code: string; message: string } }).error;
}
