// Statements of the hot path are built by kysely once per dialect and run with new values each
// time (src/db/prepared.ts). On both backends: the same rows and counts as the statement built
// afresh, values written into the statement kept, a name used twice filled twice, and a value
// kysely would not pass as a parameter refused at once with the SQL named, never run with a stale one.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepared, preparedList } from '../../src/db/prepared';
import { openTestDatabase } from '../support/backend';
import { makeTempDir, removeTempDir } from '../support/tmp';

describe('a prepared statement', () => {
  let dir: string;
  let opened: Awaited<ReturnType<typeof openTestDatabase>>;

  beforeAll(async () => {
    dir = await makeTempDir('mw-prepared-');
    opened = await openTestDatabase(dir);
  });
  afterAll(async () => {
    await opened?.close();
    await removeTempDir(dir);
  });

  const insertSequence = prepared<{ prefix: string; value: number }, never>((db, p) =>
    db.insertInto('case_sequences').values({ prefix: p('prefix'), last_value: p('value') }),
  );
  const between = prepared<{ low: number; prefix: string }, { prefix: string; last_value: number }>((db, p) =>
    db
      .selectFrom('case_sequences')
      .select(['prefix', 'last_value'])
      .where('last_value', '>=', p('low'))
      .where('prefix', 'like', 'T-%')
      .where('prefix', '!=', p('prefix'))
      .orderBy('prefix'),
  );
  const bump = prepared<{ prefix: string; by: number }, never>((db, p) =>
    db
      .updateTable('case_sequences')
      .set((eb) => ({ last_value: eb('last_value', '+', p('by')) }))
      .where('prefix', '=', p('prefix'))
      .where('last_value', '<', p('by')),
  );

  it('runs with the values of each execution, as the statement built afresh would (fails on a value of an earlier run)', async () => {
    const db = opened.db;
    for (const [prefix, value] of [
      ['T-A', 1],
      ['T-B', 5],
      ['T-C', 9],
    ] as const) {
      expect(Number((await insertSequence.execute(db, { prefix, value })).numAffectedRows)).toBe(1);
    }
    for (const [low, prefix] of [
      [0, 'T-B'],
      [5, 'T-A'],
      [6, 'T-C'],
      [10, 'T-A'],
    ] as const) {
      const fresh = await db
        .selectFrom('case_sequences')
        .select(['prefix', 'last_value'])
        .where('last_value', '>=', low)
        .where('prefix', 'like', 'T-%')
        .where('prefix', '!=', prefix)
        .orderBy('prefix')
        .execute();
      expect((await between.execute(db, { low, prefix })).rows).toEqual(fresh);
    }
    // One name used twice is filled in both places: T-A (1 < 3) moves by 3, T-C (9) does not.
    expect(Number((await bump.execute(db, { prefix: 'T-A', by: 3 })).numAffectedRows)).toBe(1);
    expect(Number((await bump.execute(db, { prefix: 'T-C', by: 3 })).numAffectedRows)).toBe(0);
    expect((await between.execute(db, { low: 0, prefix: 'none' })).rows).toEqual([
      { prefix: 'T-A', last_value: 4 },
      { prefix: 'T-B', last_value: 5 },
      { prefix: 'T-C', last_value: 9 },
    ]);
  });

  it('runs inside a transaction, whose rows it sees and whose rollback takes its writes back', async () => {
    await expect(
      opened.db.transaction().execute(async (tx) => {
        await insertSequence.execute(tx, { prefix: 'T-X', value: 7 });
        expect((await between.execute(tx, { low: 7, prefix: 'T-C' })).rows).toEqual([{ prefix: 'T-X', last_value: 7 }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await between.execute(opened.db, { low: 7, prefix: 'T-C' })).rows).toEqual([]);
  });

  it('takes a list of any length, each length its own statement, with the values of each run (fails on a stale list or length)', async () => {
    const db = opened.db;
    await insertSequence.execute(db, { prefix: 'L-A', value: 1 });
    await insertSequence.execute(db, { prefix: 'L-B', value: 2 });
    await insertSequence.execute(db, { prefix: 'L-C', value: 3 });
    // One stand-in used in two places (low, twice) and the list.
    const among = preparedList<{ low: number }, { prefix: string }>((d, p, prefixes) => {
      const low = p('low');
      return d
        .selectFrom('case_sequences')
        .select('prefix')
        .where('prefix', 'in', prefixes as string[])
        .where((eb) => eb.or([eb('last_value', '>', low), eb('last_value', '=', low)]))
        .orderBy('prefix');
    });
    const prefixesOf = async (low: number, list: string[]) => (await among.execute(db, { low }, list)).rows.map((r) => r.prefix);
    expect(await prefixesOf(0, ['L-A'])).toEqual(['L-A']);
    expect(await prefixesOf(2, ['L-A', 'L-B', 'L-C'])).toEqual(['L-B', 'L-C']);
    expect(await prefixesOf(0, ['L-C'])).toEqual(['L-C']);
    expect(await prefixesOf(1, ['L-B', 'nobody'])).toEqual(['L-B']);
    expect(await prefixesOf(3, ['L-A', 'L-B', 'L-C'])).toEqual(['L-C']);
  });

  it('refuses a value that kysely writes into the SQL instead of passing it, naming the statement (fails if it would run without it)', async () => {
    const spliced = prepared<{ prefix: string }, never>((db, p) => db.deleteFrom('case_sequences').where(sql.raw(`prefix = '${String(p('prefix'))}'`)));
    await expect(spliced.execute(opened.db, { prefix: 'T-A' })).rejects.toThrow(
      /did not pass every parameter through as a value.*delete from "case_sequences"/,
    );
  });
});
