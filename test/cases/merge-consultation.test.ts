// Merging a case that waits for a department (SPEC §5 Merge, §5C): the open consultation moves with
// it, and the merged case, being worked on, now waits for that department too; the department's
// answer then brings it back. In-process on a real SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { consultCase } from '../../src/cases/consult';
import { recordConsultAnswer } from '../../src/cases/consult-answer';
import { mergeCases } from '../../src/cases/merge';
import { writeTx, type Opened } from '../../src/db/connection';
import { nowIso } from '../../src/clock';
import { writeTestConfig, type TestConfig } from '../support/config';
import { removeTempDir } from '../support/tmp';
import { insertCase, openTestDb } from './fixtures';

describe('merging a case under consultation', () => {
  let cfg: TestConfig;
  let config: Config;
  let opened: Opened;

  beforeAll(async () => {
    cfg = await writeTestConfig();
    config = requireConfig(cfg.configPath);
    opened = await openTestDb(cfg.dataDir);
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('moves the open consultation, the merged case waits for it, and the answer brings it back', async () => {
    const cody = config.consultants.find((c) => c.id === 'cody')!;
    const from = await insertCase(opened.db, { pool: 'cards', status: 'in_progress', assignee: 'cody' });
    const into = await insertCase(opened.db, { pool: 'cards', status: 'in_progress', assignee: 'cody' });
    const asked = await writeTx(opened.db, (tx) =>
      consultCase(tx, config, cody, { caseId: from.id, departments: ['fraud'], text: 'Flagged?', attachments: [] }),
    );
    await writeTx(opened.db, (tx) => mergeCases(tx, config, cody, { from: from.id, into: into.id }));
    const status = async (id: string) => (await opened.db.selectFrom('cases').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
    expect(await status(into.id)).toBe('under_consultation');
    expect(await status(from.id)).toBe('closed');
    const message = await opened.db
      .selectFrom('messages')
      .select('id')
      .where('case_id', '=', into.id)
      .where('kind', '=', 'consult_out')
      .executeTakeFirstOrThrow();
    const answered = await writeTx(opened.db, (tx) =>
      recordConsultAnswer(tx, config, {
        caseId: into.id,
        deptId: 'fraud',
        consultationId: asked.consultations[0]!.id,
        via: 'token',
        messageRowId: message.id,
        text: 'Not flagged.',
        at: nowIso(),
      }),
    );
    expect(answered).toMatchObject({ effect: 'answered', status: 'in_progress' });
  });
});
