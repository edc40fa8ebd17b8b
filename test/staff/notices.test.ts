// What staff are told, and who is asked: while mail waits in quarantine each supervisor gets one
// notice a day (however many ticks, daemons or quarantined mails), and a trainee's reply goes to
// the supervisor for approval, or, while they are away, to their replacement or another supervisor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewriteTestConfig, writeTestConfig, type TestConfig } from '../support/config';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { removeTempDir } from '../support/tmp';
import { requireConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { writeTx, type Opened } from '../../src/db/connection';
import { drainOnce } from '../../src/outbound/drainer';
import { silentLogger } from '../../src/log';
import { addMs, nowIso } from '../../src/clock';
import { notifyQuarantine } from '../../src/cases/schedule-jobs';
import { quarantineMail } from '../../src/cases/quarantine';
import { approverFor } from '../../src/cases/approvals';
import { openTestDb } from '../cases/fixtures';

describe('staff notices', () => {
  let sink: SmtpSink;
  let cfg: TestConfig;
  let config: Config;
  let opened: Opened;

  beforeAll(async () => {
    sink = await startSmtpSink();
    cfg = await writeTestConfig({ smtp: { host: sink.host, port: sink.port } });
    // A second supervisor, and a replacement for sam, so the approval routing has somewhere to go.
    rewriteTestConfig(cfg, (doc) => {
      doc.consultants.push({ id: 'vera', name: 'Vera Supervisor', email: 'vera@staff.test', roles: ['consultant', 'supervisor'], pools: [{ pool: 'cards' }] });
      doc.consultants.push({ id: 'olga', name: 'Olga Supervisor', email: 'olga@staff.test', roles: ['consultant', 'supervisor'], pools: [{ pool: 'cards' }] });
      doc.consultants.find((c: { id: string }) => c.id === 'sam').replacement = 'vera';
    });
    config = requireConfig(cfg.configPath);
    opened = await openTestDb(cfg.dataDir);
  });
  afterAll(async () => {
    await opened?.close();
    await sink?.stop();
    if (cfg) await removeTempDir(cfg.dir);
  });

  const alerts = () => opened.db.selectFrom('outbox').select(['to_addresses', 'notice_key']).where('kind', '=', 'supervisor_alert').execute();

  it('sends nothing while quarantine is empty', async () => {
    const r = await notifyQuarantine(opened.db, config);
    expect(r.handled).toEqual([]);
    expect(await alerts()).toEqual([]);
  });

  it('tells each supervisor once a day that quarantine is not empty, however often it is asked', async () => {
    for (const reason of ['bad_signature', 'expired'] as const) {
      await writeTx(opened.db, (tx) =>
        quarantineMail(tx, {
          rawSha256: 'f'.repeat(64),
          mailboxId: 'cards',
          caseId: null,
          from: 'eve@evil.test',
          subject: 'Re: notification',
          messageId: null,
          reason,
          detail: 'test',
          token: null,
          issuedTo: null,
          at: nowIso(),
        }),
      );
    }
    const first = await notifyQuarantine(opened.db, config);
    const again = await Promise.all([notifyQuarantine(opened.db, config), notifyQuarantine(opened.db, config)]);
    const supervisors = config.consultants.filter((c) => c.roles.includes('supervisor')).map((c) => c.email);
    expect(first.handled).toHaveLength(supervisors.length);
    expect(again.flatMap((r) => r.handled)).toEqual([]);
    const rows = await alerts();
    expect(rows.map((r) => JSON.parse(r.to_addresses)[0]).sort()).toEqual([...supervisors].sort());

    await drainOnce({ config, db: opened.db, log: silentLogger() });
    const toSam = (m: typeof sink.messages) => m.find((x) => x.envelope.to.includes('sam@staff.test'));
    await sink.waitFor((m) => toSam(m) !== undefined, 20_000, 'the quarantine notice to sam');
    const mail = toSam(sink.messages)!;
    expect(mail.parsed.subject).toBe('2 staff mail(s) in quarantine');
    expect(mail.parsed.text).toContain('Reasons: bad_signature, expired');
  });

  it("asks the trainee's supervisor, or while away their replacement, or else another supervisor who is here", async () => {
    const tina = config.consultants.find((c) => c.id === 'tina')!;
    const at = nowIso();
    const away = (id: string) =>
      writeTx(opened.db, (tx) =>
        tx
          .insertInto('absences')
          .values({ consultant: id, until: addMs(at, 86_400_000), replacement: null, set_by: 'sam', at })
          .execute(),
      );
    const ask = () => writeTx(opened.db, async (tx) => (await approverFor(tx, config, tina, at)).id);
    expect(await ask()).toBe('sam');
    await away('sam');
    expect(await ask()).toBe('vera');
    await away('vera');
    expect(await ask()).toBe('olga');
  });
});
