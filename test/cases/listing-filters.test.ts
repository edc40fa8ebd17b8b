// `mailwarden cases --customer/--label/--since` (SPEC §6), alone and combined with each other and
// with the older filters, through the compiled CLI on a real SQLite file. The instance runs on
// Europe/Warsaw so a date given to --since is a local midnight, not UTC's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestConfig, type TestConfig } from '../support/config';
import { cliJson, runCli } from '../support/cli';
import { removeTempDir } from '../support/tmp';
import type { Opened } from '../../src/db/connection';
import { requireConfig } from '../../src/config/load';
import { listCases } from '../../src/cases/listing';
import { insertCase, openTestDb } from './fixtures';

// 2026-03-10 00:00 in Warsaw (CET, +01:00) is 2026-03-09 23:00 UTC; 2026-07-01 00:00 (CEST,
// +02:00) is 2026-06-30 22:00 UTC.
const BEFORE_MIDNIGHT = '2026-03-09T22:59:59.000Z';
const AT_MIDNIGHT = '2026-03-09T23:00:00.000Z';
const SUMMER_BEFORE = '2026-06-30T21:59:59.000Z';
const SUMMER_MIDNIGHT = '2026-06-30T22:00:00.000Z';

describe('cases filters: --customer, --label, --since', () => {
  let cfg: TestConfig;
  let opened: Opened;
  let env: Record<string, string>;
  const ids: Record<string, string> = {};
  const list = async (args: string[]) => (await cliJson(['cases', ...args], { env })).map((c: any) => c.id);

  beforeAll(async () => {
    cfg = await writeTestConfig({ overrides: { instance: { timezone: 'Europe/Warsaw' } } });
    opened = await openTestDb(cfg.dataDir);
    env = { MAILWARDEN_CONFIG: cfg.configPath };
    const add = async (name: string, f: Parameters<typeof insertCase>[1]) => (ids[name] = (await insertCase(opened.db, f)).id);
    await add('janBefore', { customer: 'Jan.Kowalski@Example.com', receivedAt: BEFORE_MIDNIGHT });
    await add('otherAt', { customer: 'other@example.org', receivedAt: AT_MIDNIGHT });
    await add('janSummerBefore', { customer: 'jan.kowalski@example.com', receivedAt: SUMMER_BEFORE, pool: 'general' });
    await add('janSummer', { customer: 'jan.kowalski@example.com', receivedAt: SUMMER_MIDNIGHT, status: 'in_progress', assignee: 'cody' });
    const label = async (id: string, ...changes: string[]) => {
      const r = await runCli(['label', id, ...changes, '--as', 'sam'], { env });
      expect(r.code, r.stderr).toBe(0);
    };
    await label(ids.janBefore!, '+VIP');
    await label(ids.janSummer!, '+vip', '+Refund');
    await label(ids.otherAt!, '+refund');
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  it('--customer matches the address ignoring case, and nothing else', async () => {
    expect(await list(['--customer', 'JAN.KOWALSKI@example.COM'])).toEqual([ids.janBefore, ids.janSummerBefore, ids.janSummer]);
    expect(await list(['--customer', 'other@example.org'])).toEqual([ids.otherAt]);
    // Exact match: a prefix or another domain does not count.
    expect(await list(['--customer', 'jan@example.com'])).toEqual([]);
    expect(await list(['--customer', 'jan.kowalski@example.co'])).toEqual([]);
  });

  it('--label matches ignoring case, whichever case the label was stored in', async () => {
    expect(await list(['--label', 'vip'])).toEqual([ids.janBefore, ids.janSummer]);
    expect(await list(['--label', 'VIP'])).toEqual([ids.janBefore, ids.janSummer]);
    expect(await list(['--label', 'rEfUnD'])).toEqual([ids.otherAt, ids.janSummer]);
    expect(await list(['--label', 'nolabel'])).toEqual([]);
  });

  it('--since a date starts at 00:00 in the instance time zone: one second before is left out', async () => {
    expect(await list(['--since', '2026-03-10'])).toEqual([ids.otherAt, ids.janSummerBefore, ids.janSummer]);
    // Summer time moves local midnight to 22:00 UTC.
    expect(await list(['--since', '2026-07-01'])).toEqual([ids.janSummer]);
    expect(await list(['--since', '2026-07-02'])).toEqual([]);
  });

  it('--since an ISO timestamp is that instant; without a zone it is read in the instance zone', async () => {
    expect(await list(['--since', BEFORE_MIDNIGHT])).toEqual([ids.janBefore, ids.otherAt, ids.janSummerBefore, ids.janSummer]);
    expect(await list(['--since', '2026-03-09T23:00:01Z'])).toEqual([ids.janSummerBefore, ids.janSummer]);
    expect(await list(['--since', '2026-03-10T00:00:00+01:00'])).toEqual([ids.otherAt, ids.janSummerBefore, ids.janSummer]);
    expect(await list(['--since', '2026-07-01T00:00'])).toEqual([ids.janSummer]);
  });

  it('combines the new filters with each other and with status, pool and assignee', async () => {
    expect(await list(['--customer', 'jan.kowalski@example.com', '--label', 'VIP'])).toEqual([ids.janBefore, ids.janSummer]);
    expect(await list(['--customer', 'jan.kowalski@example.com', '--label', 'vip', '--since', '2026-03-10'])).toEqual([ids.janSummer]);
    expect(await list(['--label', 'refund', '--since', '2026-07-01'])).toEqual([ids.janSummer]);
    expect(await list(['--customer', 'jan.kowalski@example.com', '--pool', 'general'])).toEqual([ids.janSummerBefore]);
    expect(await list(['--customer', 'jan.kowalski@example.com', '--status', 'received'])).toEqual([ids.janBefore, ids.janSummerBefore]);
    expect(await list(['--label', 'refund', '--assignee', 'cody'])).toEqual([ids.janSummer]);
    expect(await list(['--label', 'refund', '--assignee', 'none', '--since', '2026-03-10'])).toEqual([ids.otherAt]);
    expect(await list(['--customer', 'other@example.org', '--label', 'vip'])).toEqual([]);
  });

  it('prints the filtered table', async () => {
    const r = await runCli(['cases', '--label', 'vip', '--since', '2026-03-10'], { env });
    expect(r.code).toBe(0);
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^CASE +STATUS/);
    expect(rows.slice(1).map((l) => l.split(' ')[0])).toEqual([ids.janSummer]);
    // 22:00 UTC shown as the local midnight it is.
    expect(rows[1]).toContain('2026-07-01 00:00');
  });

  const refusals: Array<[string, string[], string, string]> = [
    [
      'a word for --since',
      ['--since', 'yesterday'],
      'EBADSINCE',
      '--since wants a date like 2026-03-01 (midnight, Europe/Warsaw) or an ISO timestamp like 2026-03-01T09:30:00Z, not "yesterday".',
    ],
    [
      'a date that does not exist',
      ['--since', '2026-02-30'],
      'EBADSINCE',
      '--since wants a date like 2026-03-01 (midnight, Europe/Warsaw) or an ISO timestamp like 2026-03-01T09:30:00Z, not "2026-02-30".',
    ],
    [
      'a date in another order',
      ['--since', '10.03.2026'],
      'EBADSINCE',
      '--since wants a date like 2026-03-01 (midnight, Europe/Warsaw) or an ISO timestamp like 2026-03-01T09:30:00Z, not "10.03.2026".',
    ],
    ['a customer that is not an address', ['--customer', 'jan kowalski'], 'EBADADDRESS', '"jan kowalski" is not an e-mail address to list the cases of.'],
    ['a customer without a domain', ['--customer', 'jan@'], 'EBADADDRESS', '"jan@" is not an e-mail address to list the cases of.'],
    ['an empty label', ['--label', ' '], 'EBADLABEL', 'The label to list the cases of is empty.'],
  ];
  for (const [what, args, code, message] of refusals) {
    it(`refuses ${what} in one sentence, as JSON under --json`, async () => {
      const r = await runCli(['cases', ...args], { env });
      expect(r.code).toBe(64);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`mailwarden: ${message}\n`);
      const j = await runCli(['cases', ...args, '--json'], { env });
      expect(j.code).toBe(64);
      expect(j.stdout).toBe('');
      expect(JSON.parse(j.stderr.trim()).error).toMatchObject({ code, message });
    });
  }

  it('refuses, in the domain too, a start that is not an instant (a caller other than the CLI)', async () => {
    const config = requireConfig(cfg.configPath);
    await expect(listCases(opened.db, config, { since: 'soon' })).rejects.toMatchObject({
      code: 'EBADSINCE',
      message: '"soon" is not an instant to list cases from.',
    });
    // An instant in another form than the stored one still compares as the same instant.
    expect((await listCases(opened.db, config, { since: '2026-03-10T00:00:00+01:00' })).map((c) => c.id)).toEqual([
      ids.otherAt,
      ids.janSummerBefore,
      ids.janSummer,
    ]);
  });
});
