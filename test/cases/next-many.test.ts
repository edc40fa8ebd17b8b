// `next` under load (SPEC §10): eight processes, each taking cases one after another as fast as
// it can through the same domain action as `mailwarden next`, 1,600 waiting cases in all. On
// PostgreSQL (the second pass of npm test) they meet under READ COMMITTED with no table lock, so
// only the compare-and-set on the case's version and SKIP LOCKED keep a case from being given
// twice; on SQLite the same test runs against its single writer.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { REPO_ROOT } from '../support/cli';
import { runOwned } from '../support/processes';
import { removeTempDir } from '../support/tmp';
import { addMs, nowIso } from '../../src/clock';
import type { Opened } from '../../src/db/connection';
import { insertCase, openTestDb } from './fixtures';

const PROCESSES = 8;
const CASES = 1600;

/** One taker: takes cases until none waits, prints the ids it got, in order, as JSON. */
const TAKER = `
  const dist = ${JSON.stringify(`${REPO_ROOT}/dist`)};
  const { requireConfig } = await import(dist + '/config/load.js');
  const { openDatabase } = await import(dist + '/db/connection.js');
  const { takeNext } = await import(dist + '/cases/next.js');
  const config = requireConfig(process.env.MW_TEST_CONFIG, {});
  const me = config.consultants.find((c) => c.id === process.env.MW_TAKER);
  const { db, close } = await openDatabase({ dataDir: config.instance.data_dir, url: config.database.url });
  // A start line: each taker says it is ready and waits for all of them, so a process that was
  // slow to start (a loaded machine) does not find every case already taken.
  const fs = await import('node:fs');
  fs.writeFileSync(process.env.MW_BARRIER + '/' + process.env.MW_TAKER, '');
  while (fs.readdirSync(process.env.MW_BARRIER).length < Number(process.env.MW_TAKERS)) await new Promise((r) => setTimeout(r, 5));
  const got = [];
  for (;;) {
    const row = await takeNext(db, me, 'UTC');
    if (!row) break;
    got.push(row.id);
  }
  await close();
  console.log(JSON.stringify(got));`;

describe('next: 8 processes taking 1,600 cases as fast as they can', () => {
  const takers = Array.from({ length: PROCESSES }, (_, i) => `t${i + 1}`);
  let cfg: TestConfig;
  let opened: Opened;

  beforeAll(async () => {
    cfg = await writeTestConfig({
      overrides: {
        consultants: takers
          .map((id) => ({ id, name: `Taker ${id}`, email: `${id}@staff.test`, roles: ['consultant'], pools: [{ pool: 'cards', priority: 1 }] }))
          .concat([{ id: 'sam', name: 'Sam', email: 'sam@staff.test', roles: ['consultant', 'supervisor'], pools: [{ pool: 'general', priority: 1 }] }]),
      },
    });
    opened = await openTestDb(cfg.dataDir);
    const start = nowIso();
    for (let i = 0; i < CASES; i++) await insertCase(opened.db, { pool: 'cards', receivedAt: addMs(start, -(CASES - i) * 1000) });
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('gives every case to exactly one taker, each once, and leaves none waiting (fails on a case given twice)', async () => {
    const barrier = path.join(cfg.dir, 'start-line');
    fs.mkdirSync(barrier);
    const runs = await Promise.all(
      takers.map((id) =>
        runOwned(process.execPath, ['--input-type=module', '-e', TAKER], {
          cwd: REPO_ROOT,
          env: { ...process.env, MW_TEST_CONFIG: cfg.configPath, MW_TAKER: id, MW_BARRIER: barrier, MW_TAKERS: String(PROCESSES) },
          timeoutMs: 600_000,
          what: `taker ${id}`,
        }),
      ),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const got = runs.map((r) => JSON.parse(r.stdout) as string[]);
    const all = got.flat();
    expect(new Set(all).size, 'a case was given twice').toBe(all.length);
    expect(all.length).toBe(CASES);
    // The claims really overlapped: the takers started together and more than one got cases. Not
    // every one need: on SQLite's single writer, seven takers in a tight loop can keep the lock
    // from an eighth for the whole run (its busy handler backs off), which is fairness, not safety.
    expect(got.filter((ids) => ids.length > 0).length).toBeGreaterThan(1);
    // Each case belongs to its taker.
    const rows = await opened.db.selectFrom('cases').select(['id', 'assignee', 'status']).execute();
    const owner = new Map(got.flatMap((ids, i) => ids.map((id) => [id, takers[i]!] as const)));
    for (const row of rows) expect([row.id, row.assignee, row.status]).toEqual([row.id, owner.get(row.id), 'in_progress']);
    // One assignee history row per take: nothing was taken twice, not even silently.
    const events = await opened.db.selectFrom('case_events').select('case_id').where('field', '=', 'assignee').execute();
    expect(events.length).toBe(CASES);
    expect(new Set(events.map((e) => e.case_id)).size).toBe(CASES);
  }, 900_000);
});
