// Working-hours deadlines and case overdue notices through real mail (SPEC §5C): `mailwarden run`
// fetches customers' mail from Dovecot over IMAP and sends through the outbox to an SMTP sink,
// with its clock moved (MAILWARDEN_CLOCK_OFFSET) to a Friday 15:00 in Warsaw. The pool counts its
// 8h deadline in a 09:00-17:00 Monday-Friday calendar: the case is due Monday 15:00, or Tuesday
// when that Monday is a holiday. Restarted past the deadline, the daemon tells the assignee and
// the supervisors once each, or with a `notify_overdue` list the assignee and the people and
// addresses on it (an address, not being staff, gets no reply token); another restart, a SIGHUP
// reload and more scheduler ticks send nothing twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTokenText } from '../../src/tokens';
import { formatInZone } from '../../src/time-format';
import { runCli, startDaemon, type Daemon } from '../support/cli';
import { rewriteTestConfig, writeTestConfig, type TestConfig } from '../support/config';
import { startDovecot, type DovecotInstance } from '../support/dovecot';
import { appendMail, buildMail } from '../support/imap';
import { waitForLogged } from '../support/log';
import { startSmtpSink, type RecordedMail, type SmtpSink } from '../support/smtp-sink';
import { removeTempDir } from '../support/tmp';
import { bound, waitFor } from '../support/wait';
import { newMessageId, openDb, waitForInbound } from '../ingest/helpers';

const BOX = 'alice@example.test';
const ZONE = 'Europe/Warsaw';
const SAM = 'sam@staff.test'; // supervisor of pool general
const CODY = 'cody@staff.test';
const TINA = 'tina@staff.test';
const RISK = 'risk-desk@partner.test'; // an address on notify_overdue, not staff
const H = 3_600_000;

// Friday 2027-01-15 is an ordinary Friday; Monday 2027-05-03 (Constitution Day) is a holiday in
// Poland, so Friday 2027-04-30's deadline skips it. Warsaw is UTC+1 in January, UTC+2 in May.
const FRIDAY_JAN = '2027-01-15T14:00:00.000Z'; // 15:00 CET
const FRIDAY_BEFORE_HOLIDAY = '2027-04-30T13:00:00.000Z'; // 15:00 CEST
const WEDNESDAY_AFTER = '2027-05-05T08:00:00.000Z'; // 10:00 CEST, past both deadlines

/**
 * MAILWARDEN_CLOCK_OFFSET that puts "now" at `iso` or up to a second later. A case's received_at
 * is the message's IMAP INTERNALDATE on the shifted clock, and INTERNALDATE has whole seconds: an
 * offset taken from the exact millisecond put a mail appended within that same second up to 999 ms
 * before `iso` (14:59:59 for 15:00, CI saw it once the daemon started in under a second).
 */
function offsetTo(iso: string): string {
  const ms = Date.parse(iso) - Math.floor(Date.now() / 1000) * 1000;
  return `${ms < 0 ? '-' : '+'}${Math.abs(ms)}ms`;
}

const local = (iso: string) => formatInZone(new Date(iso), ZONE, false);

describe('working-hours deadlines and case overdue notices, through real mail', () => {
  let dovecot: DovecotInstance;
  let sink: SmtpSink;
  let cfg: TestConfig;
  let db: Awaited<ReturnType<typeof openDb>>;
  let daemon: Daemon | null = null;
  let clock = '';
  let caseA = '';
  let caseB = '';

  const env = () => ({ MAILWARDEN_CONFIG: cfg.configPath, MAILWARDEN_CLOCK_OFFSET: clock });
  const json = async (args: string[]) => {
    const r = await runCli([...args, '--json'], { env: env() });
    if (r.code !== 0) throw new Error(`mailwarden ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  /** (Re)starts the daemon with its clock at `iso`. */
  async function daemonAt(iso: string): Promise<Daemon> {
    await daemon?.stop();
    clock = offsetTo(iso);
    daemon = await startDaemon(cfg.configPath, { env: { MAILWARDEN_CLOCK_OFFSET: clock } });
    return daemon;
  }

  /** A customer's mail into the box; the case it opened, once the daemon accepted it. */
  async function customerMail(customer: string, subject: string): Promise<string> {
    const messageId = newMessageId();
    await appendMail(dovecot, BOX, 'INBOX', buildMail({ from: customer, to: BOX, subject, text: 'My card does not work.\n', messageId }));
    const row = await waitForInbound(db, messageId, `the daemon accepting "${subject}"`, bound(15_000));
    expect(row.outcome).toBe('case');
    return row.case_id!;
  }

  const overdueMail = (id: string) => (m: RecordedMail) => m.parsed.subject?.startsWith(`[${id}] Case overdue:`) ?? false;
  const overdueAt = (id: string, address: string) => sink.messages.filter((m) => overdueMail(id)(m) && m.envelope.to.includes(address));
  const overdueRows = (id: string) =>
    db.db.selectFrom('outbox').select(['to_addresses', 'state']).where('case_id', '=', id).where('kind', '=', 'case_overdue').orderBy('id').execute();
  const overdueTicks = (d: Daemon, since: number, count: number, what: string) =>
    waitForLogged(d.logs, since, (l) => l.event === 'scheduler.tick' && l.job === 'overdue', count, what, bound(15_000));

  beforeAll(async () => {
    dovecot = await startDovecot();
    await dovecot.addUser(BOX, 'secret');
    sink = await startSmtpSink();
    cfg = await writeTestConfig({
      imap: { host: dovecot.host, port: dovecot.port },
      smtp: { host: sink.host, port: sink.port },
      mailboxes: [{ id: 'support', address: BOX, pool: 'general' }],
    });
    rewriteTestConfig(cfg, (doc) => {
      doc.calendars = [
        {
          id: 'warsaw-office',
          timezone: ZONE,
          hours: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, ['09:00-17:00']])),
          holidays: ['2027-05-03'],
        },
      ];
      doc.pools[0].calendar = 'warsaw-office'; // general: response_deadline 8h
    });
    db = await openDb(cfg);
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.close();
    await dovecot?.stop();
    await sink?.stop();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('counts 8h from Friday 15:00 to Monday 15:00 in the calendar', async () => {
    await daemonAt(FRIDAY_JAN);
    caseA = await customerMail('Carla <carla@customer.test>', 'Blocked card');
    const shown = (await json(['show', caseA])).case;
    expect(local(shown.received_at)).toMatch(/^2027-01-15 15:/);
    // Two working hours on Friday, six on Monday: Monday at the same minute as the mail came.
    expect(local(shown.deadline_at)).toMatch(/^2027-01-18 15:/);
    expect(Date.parse(shown.deadline_at) - Date.parse(shown.received_at)).toBe(72 * H);
    expect(shown.overdue).toBe(false);
    await json(['assign', caseA, 'cody', '--as', 'sam']);
  });

  it('skips the Monday holiday, and tells the assignee and the supervisor once when the deadline has passed', async () => {
    // The daemon comes back months later: case A is long overdue.
    const d = await daemonAt(FRIDAY_BEFORE_HOLIDAY);
    caseB = await customerMail('Dora <dora@customer.test>', 'Card not delivered');
    const listed = await json(['cases']);
    const b = listed.find((c: any) => c.id === caseB);
    expect(local(b.received_at)).toMatch(/^2027-04-30 15:/);
    expect(local(b.deadline_at)).toMatch(/^2027-05-04 15:/); // Tuesday: Monday 3 May is a holiday
    expect(Date.parse(b.deadline_at) - Date.parse(b.received_at)).toBe(96 * H);
    // `cases --overdue` goes by the stored deadlines: A is late, B is not.
    expect((await json(['cases', '--overdue'])).map((c: any) => c.id)).toEqual([caseA]);
    expect(listed.find((c: any) => c.id === caseA).overdue).toBe(true);
    expect(b.overdue).toBe(false);

    await sink.waitFor(() => overdueAt(caseA, CODY).length > 0 && overdueAt(caseA, SAM).length > 0, bound(15_000), 'case A overdue notices');
    const toCody = overdueAt(caseA, CODY)[0]!;
    const toSam = overdueAt(caseA, SAM)[0]!;
    expect(toCody.parsed.text).toContain(`Case ${caseA} from carla@customer.test ("Blocked card")`);
    expect(toCody.parsed.text).toContain('(assigned to Cody Consultant)');
    // Staff notices carry each one's reply token.
    expect(findTokenText(toCody.messageId)).toContain(`.${caseA.toLowerCase()}.`);
    expect(findTokenText(toSam.messageId)).toContain(`.${caseA.toLowerCase()}.`);
    const since = d.logs.length;
    await overdueTicks(d, since, 2, 'two more overdue ticks');
    expect((await overdueRows(caseA)).map((r) => JSON.parse(r.to_addresses))).toEqual([[CODY], [SAM]]);
    expect(overdueAt(caseA, CODY)).toHaveLength(1);
    expect(overdueAt(caseA, SAM)).toHaveLength(1);
    expect(await overdueRows(caseB)).toEqual([]);
  });

  it('with a notify_overdue list, tells the assignee and the list (an address without a token), each once across restarts and reloads', async () => {
    await json(['assign', caseB, 'cody', '--as', 'sam']);
    // The pool names who is told instead of its supervisors; cody, the assignee, is named again.
    rewriteTestConfig(cfg, (doc) => (doc.pools[0].notify_overdue = ['tina', RISK, 'cody']));
    const d = await daemonAt(WEDNESDAY_AFTER);
    await sink.waitFor(
      () => [CODY, TINA, RISK].every((a) => overdueAt(caseB, a).length > 0),
      bound(15_000),
      'case B overdue notices to cody, tina and the risk desk',
    );
    const toRisk = overdueAt(caseB, RISK)[0]!;
    expect(findTokenText(toRisk.messageId)).toBeNull();
    expect(toRisk.parsed.text).toContain(`Case ${caseB} from dora@customer.test ("Card not delivered")`);
    expect(findTokenText(overdueAt(caseB, TINA)[0]!.messageId)).toContain(`.${caseB.toLowerCase()}.`);

    // A SIGHUP reload, then more whole ticks of the overdue job.
    rewriteTestConfig(cfg, (doc) => (doc.pools[0].notify_overdue = ['tina', RISK, 'cody', 'sam']));
    const before = d.logs.length;
    d.signal('SIGHUP');
    await d.waitForLog((l) => l.event === 'config.reloaded', 'the reload', bound(15_000));
    await overdueTicks(d, before, 3, 'three overdue ticks around the reload');
    const after = d.logs.length;
    await overdueTicks(d, after, 2, 'two overdue ticks after the reload');

    // Every notice left the outbox; each recipient got exactly one per case, at the sink too.
    await waitFor(async () => [...(await overdueRows(caseA)), ...(await overdueRows(caseB))].every((r) => r.state === 'sent'), {
      timeoutMs: bound(15_000),
      what: 'every overdue notice sent',
    });
    expect((await overdueRows(caseA)).map((r) => JSON.parse(r.to_addresses))).toEqual([[CODY], [SAM]]);
    expect((await overdueRows(caseB)).map((r) => JSON.parse(r.to_addresses))).toEqual([[CODY], [TINA], [RISK]]);
    for (const address of [CODY, SAM]) expect(overdueAt(caseA, address)).toHaveLength(1);
    for (const address of [CODY, TINA, RISK]) expect(overdueAt(caseB, address)).toHaveLength(1);
    // The list replaces the supervisors: sam was not told about B, not even after the reload named him.
    expect(overdueAt(caseB, SAM)).toHaveLength(0);
    const shown = (await json(['show', caseB])).case;
    expect(shown.overdue).toBe(true);
  });
});
