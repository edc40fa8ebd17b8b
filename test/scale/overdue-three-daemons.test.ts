// Scheduled notices with several daemons (SPEC §10): three real daemons share one PostgreSQL, and
// each one's scheduler looks for overdue cases and consultations every two seconds. Every notice
// is claimed by one compare-and-set (overdue_notified_at) in the transaction that queues it, and
// every mail has its own notice_key, so each recipient hears once, whoever's tick comes first.
// This file always runs on PostgreSQL: it is the scale-out case, whatever the backend of the pass.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresUrl } from '../support/backend';
import { startDaemon, type Daemon } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { makeTempDir, removeTempDir } from '../support/tmp';
import { waitFor } from '../support/wait';
import { addMs, nowIso } from '../../src/clock';
import { openDatabase, type Opened } from '../../src/db/connection';
import { insertCase } from '../cases/fixtures';

const DAEMONS = 3;
const LATE_ASSIGNED = 10;
const LATE_WAITING = 10;

describe('three daemons on one PostgreSQL', () => {
  let sink: SmtpSink;
  let dir: string;
  let url: string;
  let configs: TestConfig[] = [];
  let daemons: Daemon[] = [];
  let opened: Opened;

  beforeAll(async () => {
    sink = await startSmtpSink();
    dir = await makeTempDir('mw-three-');
    url = await freshPostgresUrl();
    for (let i = 1; i <= DAEMONS; i++) {
      configs.push(
        await writeTestConfig({
          dir: path.join(dir, `node${i}`),
          smtp: { host: sink.host, port: sink.port },
          overrides: { database: { url }, schedule: { overdue_check: '*/2 * * * * *', reminders: '*/2 * * * * *' } },
        }),
      );
    }
    opened = await openDatabase({ dataDir: configs[0]!.dataDir, url });
  });
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await opened?.close();
    await sink?.stop();
    if (dir) await removeTempDir(dir);
    configs = [];
    daemons = [];
  });

  it('sends each overdue notice once, however many schedulers tick (fails on a notice sent twice)', async () => {
    const late = addMs(nowIso(), -10 * 3600_000);
    const assigned: string[] = [];
    const waiting: string[] = [];
    for (let i = 0; i < LATE_ASSIGNED; i++)
      assigned.push((await insertCase(opened.db, { pool: 'cards', status: 'in_progress', assignee: 'cody', receivedAt: late })).id);
    for (let i = 0; i < LATE_WAITING; i++) waiting.push((await insertCase(opened.db, { pool: 'cards', receivedAt: late })).id);
    // An assigned late case tells the assignee and the supervisors (two mails), a waiting one the supervisors.
    const expected = LATE_ASSIGNED * 2 + LATE_WAITING;

    daemons = await Promise.all(configs.map((c) => startDaemon(c.configPath)));
    const notices = () =>
      opened.db.selectFrom('outbox').select(['case_id', 'message_id', 'to_addresses', 'state']).where('kind', '=', 'case_overdue').execute();
    await waitFor(async () => (await notices()).filter((n) => n.state === 'sent').length >= expected, {
      timeoutMs: 60_000,
      what: `${expected} overdue notices sent`,
    });
    // Every daemon's scheduler then ticks at least three more times over the same cases.
    const ticks = (d: Daemon) => d.logs.filter((l) => l.event === 'scheduler.tick' && l.job === 'overdue').length;
    const seen = daemons.map(ticks);
    await waitFor(() => daemons.every((d, i) => ticks(d) >= seen[i]! + 3), { timeoutMs: 60_000, what: 'three more overdue ticks on every daemon' });
    const rows = await notices();
    expect(rows).toHaveLength(expected);
    const byCase = new Map<string, string[]>();
    for (const r of rows) byCase.set(r.case_id!, [...(byCase.get(r.case_id!) ?? []), ...(JSON.parse(r.to_addresses) as string[])]);
    for (const id of assigned) expect(byCase.get(id)?.sort()).toEqual(['cody@staff.test', 'sam@staff.test']);
    for (const id of waiting) expect(byCase.get(id)).toEqual(['sam@staff.test']);
    // At the SMTP server: each notice arrived once (the drainers of three daemons share the outbox).
    await sink.waitFor((m) => rows.every((r) => m.some((x) => x.messageId === r.message_id)), 30_000, 'every notice at the SMTP server');
    const arrived = sink.messages.filter((m) => rows.some((r) => r.message_id === m.messageId));
    expect(arrived).toHaveLength(expected);
    for (const d of daemons) expect(d.proc.exitCode).toBeNull();
  }, 300_000);
});
