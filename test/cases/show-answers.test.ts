// `show` lists the questionnaire answers given on closing (SPEC §5 Viewing), in JSON and text.
// The reply only queues (nothing drains here): the answers are what is under test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, runCli } from '../support/cli';
import { removeTempDir } from '../support/tmp';
import type { Opened } from '../../src/db/connection';
import { insertCase, openTestDb } from './fixtures';

describe('show: questionnaire answers', () => {
  let cfg: TestConfig;
  let opened: Opened;
  let env: Record<string, string>;

  beforeAll(async () => {
    cfg = await writeTestConfig({});
    opened = await openTestDb(cfg.dataDir);
    env = { MAILWARDEN_CONFIG: cfg.configPath };
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('shows the answers a closing reply gave, and none before', async () => {
    const c = await insertCase(opened.db, { pool: 'cards', assignee: 'cody', status: 'in_progress' });
    expect((await cliJson<any>(['show', c.id], { env })).answers).toEqual([]);
    const r = await runCli(['reply', c.id, '--as', 'cody', '-m', 'Done', '--status', 'solved', '--answer', 'partner=Visa', '--answer', 'note=found'], { env });
    expect(r.code, r.stderr).toBe(0);
    const shown = await cliJson<any>(['show', c.id], { env });
    expect(shown.answers).toEqual([
      { questionnaire: 'card-closing', key: 'partner', value: 'Visa', by: 'cody', at: expect.any(String) },
      { questionnaire: 'card-closing', key: 'note', value: 'found', by: 'cody', at: expect.any(String) },
    ]);
    expect(shown.messages.find((m: any) => m.kind === 'outbound')).toMatchObject({ role: 'consultant', state: 'queued' });
    const text = (await runCli(['show', c.id], { env })).stdout;
    expect(text).toMatch(/Answers:\n {2}partner = Visa {2}\(Cody[^,]*, \d{4}-\d\d-\d\d \d\d:\d\d\)\n {2}note = found/);
  });
});
