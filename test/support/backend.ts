// Which database the tests run against: SQLite (the default) or, in the second pass of `npm test`
// (MW_TEST_BACKEND=postgres), the run's PostgreSQL, a fresh database per test config. Tests that
// open the database themselves go through openTestDatabase so they follow the same choice.
import crypto from 'node:crypto';
import { inject } from 'vitest';
import { openDatabase, type OpenOptions, type Opened } from '../../src/db/connection';
import { TEMPLATE_DATABASE } from './pg-global';
import { createDatabase } from './postgres';

export type Backend = 'sqlite' | 'postgres';

export function testBackend(): Backend {
  return process.env.MW_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';
}

/** A new, migrated, empty PostgreSQL database on this run's server. */
export async function freshPostgresUrl(): Promise<string> {
  const name = `mw_${process.pid}_${crypto.randomBytes(5).toString('hex')}`;
  return createDatabase(inject('pgAdminUrl'), name, TEMPLATE_DATABASE);
}

/** Per data dir: the PostgreSQL database that stands for its SQLite file in the PostgreSQL pass. */
const urls = new Map<string, string>();

/**
 * The `database.url` for a test's data dir: none on SQLite; on PostgreSQL a fresh database, the
 * same one for every later call with that data dir (a test config and a test that opens it).
 */
export async function testDatabaseUrl(dataDir: string): Promise<string | undefined> {
  if (testBackend() !== 'postgres') return undefined;
  let url = urls.get(dataDir);
  if (!url) {
    url = await freshPostgresUrl();
    urls.set(dataDir, url);
  }
  return url;
}

/** Opens a test's database the way the CLI would for a config with this data dir. */
export async function openTestDatabase(dataDir: string, opts: Omit<OpenOptions, 'dataDir' | 'url'> = {}): Promise<Opened> {
  return openDatabase({ ...opts, dataDir, url: await testDatabaseUrl(dataDir) });
}
