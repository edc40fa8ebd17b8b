// The database: WAL, foreign keys, migrations that are idempotent, private files.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openDatabase, writeTx } from '../../src/db/connection';
import { allocateCaseId } from '../../src/db/case-ids';
import { isBusy, isUniqueViolation } from '../../src/db/errors';
import { makeTempDir, removeTempDir } from '../support/tmp';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeTempDir(d);
});

describe('database', () => {
  it('runs migrations at open, and running them again changes nothing', async () => {
    const dir = await makeTempDir('mw-db-');
    dirs.push(dir);
    const dataDir = path.join(dir, 'data');
    const first = await openDatabase({ dataDir });
    const tables = first.sqlite.prepare("select name from sqlite_master where type='table' order by name").all() as Array<{ name: string }>;
    const names = tables.map((t) => t.name);
    for (const t of [
      'cases',
      'case_events',
      'messages',
      'inbound',
      'outbox',
      'mailbox_state',
      'raw_messages',
      'consultations',
      'approvals',
      'questionnaire_answers',
      'snippet_uses',
      'case_sequences',
    ]) {
      expect(names).toContain(t);
    }
    expect(await migrate(first.db)).toEqual([]);
    const schemaBefore = first.sqlite.prepare('select sql from sqlite_master order by name').all();
    await first.close();

    const second = await openDatabase({ dataDir });
    expect(await migrate(second.db)).toEqual([]);
    expect(second.sqlite.prepare('select sql from sqlite_master order by name').all()).toEqual(schemaBefore);
    expect(second.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(second.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    await second.close();

    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dataDir, 'mailwarden.sqlite')).mode & 0o777).toBe(0o600);
  });

  it('never reuses a case number, and rolls back a failed transaction whole', async () => {
    const dir = await makeTempDir('mw-db-');
    dirs.push(dir);
    const opened = await openDatabase({ dataDir: path.join(dir, 'data') });
    const { db } = opened;
    const a = await writeTx(db, (tx) => allocateCaseId(tx, 'ACME'));
    await expect(
      writeTx(db, async (tx) => {
        await allocateCaseId(tx, 'ACME');
        throw new Error('crash mid-transaction');
      }),
    ).rejects.toThrow('crash mid-transaction');
    const b = await writeTx(db, (tx) => allocateCaseId(tx, 'ACME'));
    expect(a).toBe('ACME-000001');
    expect(b).toBe('ACME-000002');
    await opened.close();
  });

  it('tells a unique-key refusal and a lock held by another process apart, without the caller naming SQLite codes', async () => {
    const dir = await makeTempDir('mw-db-');
    dirs.push(dir);
    const dataDir = path.join(dir, 'data');
    const first = await openDatabase({ dataDir, reuseStatements: true });
    const second = await openDatabase({ dataDir, busyTimeoutMs: 0 });
    await first.db.insertInto('case_sequences').values({ prefix: 'ACME', last_value: 1 }).execute();
    const duplicate = await first.db
      .insertInto('case_sequences')
      .values({ prefix: 'ACME', last_value: 2 })
      .execute()
      .catch((e: unknown) => e);
    expect(isUniqueViolation(duplicate)).toBe(true);
    expect(isBusy(duplicate)).toBe(false);

    first.sqlite.exec('BEGIN IMMEDIATE');
    const locked = await second.db
      .insertInto('case_sequences')
      .values({ prefix: 'OTHER', last_value: 1 })
      .execute()
      .catch((e: unknown) => e);
    first.sqlite.exec('ROLLBACK');
    expect(isBusy(locked)).toBe(true);
    expect(isUniqueViolation(locked)).toBe(false);
    expect(isBusy(new Error('plain'))).toBe(false);
    await second.close();
    await first.close();
  });

  it('writeTx waits for a lock held by another connection with the event loop free, up to its deadline (fails if it sleeps inside SQLite)', async () => {
    const dir = await makeTempDir('mw-db-');
    dirs.push(dir);
    const waiter = await openDatabase({ dataDir: path.join(dir, 'data'), busyTimeoutMs: 0, lockWaitMs: 60_000 });
    const holder = new Database(waiter.file);
    try {
      holder.exec('BEGIN IMMEDIATE');
      // A deadline already passed: one try, and the lock's own error.
      const refused = await writeTx(waiter.db, (tx) => allocateCaseId(tx, 'ACME'), { lockDeadline: Date.now() }).catch((e: unknown) => e);
      expect(isBusy(refused)).toBe(true);
      // The lock is released from the event loop, which only runs if the wait leaves it free.
      let waits = 0;
      const id = await writeTx(waiter.db, (tx) => allocateCaseId(tx, 'ACME'), {
        onWait: () => {
          waits++;
          setImmediate(() => holder.exec('ROLLBACK'));
        },
      });
      expect([waits, id]).toEqual([1, 'ACME-000001']);
    } finally {
      holder.close();
      await waiter.close();
    }
  });
});
