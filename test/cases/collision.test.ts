// The collision check itself (src/cases/collision.ts), in-process on a real SQLite file: what counts
// as a change since the consultant's last view (another consultant's change, a department's
// answer), what does not (their own changes, nothing viewed yet), and the reply from the
// consultant's mail client, which is never checked. The refusal through real mail is in
// test/staff/collision-merge.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { removeTempDir } from '../support/tmp';
import { requireConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { writeTx, type Opened } from '../../src/db/connection';
import { changeCase } from '../../src/db/history';
import { checkNoCollision } from '../../src/cases/collision';
import { getCaseDetail } from '../../src/cases/queries';
import { changeStatusWithoutMail, replyToCase } from '../../src/cases/reply';
import { editCaseText } from '../../src/cases/case-text';
import { addMs, nowIso } from '../../src/clock';
import { insertCase, openTestDb } from './fixtures';

describe('checkNoCollision', () => {
  let cfg: TestConfig;
  let config: Config;
  let opened: Opened;

  beforeAll(async () => {
    cfg = await writeTestConfig({});
    config = requireConfig(cfg.configPath);
    opened = await openTestDb(cfg.dataDir);
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  const check = (id: string, who: string, force = false) => writeTx(opened.db, (tx) => checkNoCollision(tx, config, id, who, { force }));
  const cody = () => config.consultants.find((c) => c.id === 'cody')!;

  it('does not warn a consultant who never viewed the case, nor about their own changes', async () => {
    const c = await insertCase(opened.db, { pool: 'cards', assignee: 'cody', status: 'in_progress' });
    await expect(check(c.id, 'cody')).resolves.toBeUndefined();
    await getCaseDetail(opened.db, c.id, { viewer: 'cody' });
    await writeTx(opened.db, (tx) => changeCase(tx, c.id, 'cody', { priority: 'high' }, { at: addMs(nowIso(), 1000) }));
    await expect(check(c.id, 'cody')).resolves.toBeUndefined();
  });

  it("names another consultant's change and a department's answer; --force goes ahead", async () => {
    const c = await insertCase(opened.db, { pool: 'cards', assignee: 'cody', status: 'in_progress' });
    await getCaseDetail(opened.db, c.id, { viewer: 'cody' });
    await writeTx(opened.db, (tx) => changeCase(tx, c.id, 'sam', { priority: 'urgent' }, { at: addMs(nowIso(), 1000) }));
    await expect(check(c.id, 'cody')).rejects.toThrow(/changed since you last viewed it at .*: sam changed priority at .*\. Look again with `mailwarden show/);
    await expect(check(c.id, 'cody', true)).resolves.toBeUndefined();

    // The change above is stamped a second ahead; the department's answer comes on a fresh case.
    const d = await insertCase(opened.db, { pool: 'cards', assignee: 'cody', status: 'in_progress' });
    await getCaseDetail(opened.db, d.id, { viewer: 'cody' });
    await opened.db
      .insertInto('messages')
      .values({
        case_id: d.id,
        kind: 'consult_in',
        at: addMs(nowIso(), 2000),
        author: null,
        from_address: 'fraud@dept.test',
        from_name: null,
        message_id: null,
        in_reply_to: null,
        references: null,
        raw_sha256: null,
        state: null,
      })
      .execute();
    const err = await check(d.id, 'cody').catch((e: Error & { code?: string }) => e);
    expect(err).toMatchObject({ code: 'ECOLLISION' });
    expect((err as Error).message).toContain(': the department answered at ');
  });

  it("lets a reply from the consultant's mail client through (it answers the notification it quotes)", async () => {
    const c = await insertCase(opened.db, { pool: 'cards', assignee: 'cody', status: 'in_progress' });
    await getCaseDetail(opened.db, c.id, { viewer: 'cody' });
    await writeTx(opened.db, (tx) => changeCase(tx, c.id, 'sam', { priority: 'urgent' }, { at: addMs(nowIso(), 1000) }));
    const input = { caseId: c.id, text: 'From my phone.', attachments: [] };
    await expect(writeTx(opened.db, (tx) => replyToCase(tx, config, cody(), input))).rejects.toThrow(/sam changed priority/);
    const viaMail = await writeTx(opened.db, (tx) => replyToCase(tx, config, cody(), { ...input, via: 'mail' }));
    expect(viaMail.state).toBe('queued');
  });

  it('refuses a status change and an edit of a case that changed since it was viewed, and lets them through with force', async () => {
    const c = await insertCase(opened.db, { pool: 'general', assignee: 'cody', status: 'in_progress' });
    await getCaseDetail(opened.db, c.id, { viewer: 'cody' });
    await writeTx(opened.db, (tx) => changeCase(tx, c.id, 'sam', { priority: 'urgent' }, { at: addMs(nowIso(), 1000) }));
    const status = { caseId: c.id, status: 'postponed' as const, remindAt: new Date(Date.parse(nowIso()) + 86_400_000) };
    await expect(writeTx(opened.db, (tx) => changeStatusWithoutMail(tx, config, cody(), status))).rejects.toMatchObject({ code: 'ECOLLISION' });
    await expect(writeTx(opened.db, (tx) => editCaseText(tx, config, cody(), { caseId: c.id, title: 'Card abroad' }))).rejects.toMatchObject({
      code: 'ECOLLISION',
    });
    // Nothing changed by the refusals.
    const row = await opened.db.selectFrom('cases').select(['status', 'title']).where('id', '=', c.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'in_progress', title: null });
    await writeTx(opened.db, (tx) => editCaseText(tx, config, cody(), { caseId: c.id, title: 'Card abroad', force: true }));
    await expect(writeTx(opened.db, (tx) => changeStatusWithoutMail(tx, config, cody(), { ...status, force: true }))).resolves.toBe('postponed');
    // A #status line from the mail client answers the notification it quotes: not checked.
    const d = await insertCase(opened.db, { pool: 'general', assignee: 'cody', status: 'in_progress' });
    await getCaseDetail(opened.db, d.id, { viewer: 'cody' });
    await writeTx(opened.db, (tx) => changeCase(tx, d.id, 'sam', { priority: 'urgent' }, { at: addMs(nowIso(), 1000) }));
    await expect(writeTx(opened.db, (tx) => changeStatusWithoutMail(tx, config, cody(), { ...status, caseId: d.id, via: 'mail' }))).resolves.toBe('postponed');
  });
});
