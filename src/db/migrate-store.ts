// Moving a SQLite installation to PostgreSQL (SPEC §10, `mailwarden migrate-store`). The copy
// is all or nothing: every table goes over inside one PostgreSQL transaction, ids kept, in
// foreign-key order, and is then read back and compared with the SQLite original (row count and
// an order-independent checksum per table) before that transaction commits; a difference rolls it
// back and names the table. The target must be empty and migrated to exactly the same schema
// (openDatabase migrates it; a target a newer mailwarden already migrated further is refused), so
// nothing is ever overwritten and no column is missing on either side. SQLite is read inside one
// read transaction: with WAL that is a snapshot, so a command writing meanwhile cannot tear it.
// Afterwards every identity sequence starts above the copied ids, so new rows do not collide.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { sql, type QueryExecutorProvider } from 'kysely';
import { MailwardenError, dataError, usageError } from '../errors.js';
import { openDatabase, type Opened } from './connection.js';
import { redactUrl } from './postgres.js';
import { checkedRawFiles, type RawCopier, type RawFile, type RawSummary } from './store-raw.js';
import { TableChecksum, appliedMigrations, sourceTables, type StoreDb, type StoreTable } from './store-tables.js';

export interface MigrateStoreInput {
  /** The installation's data dir: its mailwarden.sqlite, raw/ and blobs/. */
  dataDir: string;
  /** The installation's own `database.url`: set means it is on PostgreSQL already (refused). */
  sourceUrl?: string | undefined;
  /** `postgres://…` of an empty database. */
  targetUrl: string;
  /** Rows per INSERT (fewer when a table is wide: PostgreSQL takes at most 65535 parameters). */
  batchSize?: number;
  /** Puts raw mail into the database (the stored_chunks table); without one the files stay on disk. */
  copyRaw?: RawCopier;
}

export interface TableResult {
  table: string;
  rows: number;
  checksum: string;
  checksum_ok: boolean;
}

export interface MigrateStoreResult {
  /** The target URL without its password. */
  target: string;
  tables: TableResult[];
  raw: RawSummary;
}

const DEFAULT_BATCH = 1000;
const MAX_PARAMETERS = 60_000;

export async function migrateStore(input: MigrateStoreInput): Promise<MigrateStoreResult> {
  if (input.sourceUrl) {
    throw usageError('EMIGRATESTORE', 'This installation already keeps its cases in PostgreSQL (database.url), so there is no SQLite database to move.');
  }
  if (!/^postgres(ql)?:\/\/\S+$/.test(input.targetUrl)) {
    throw usageError('EUSAGE', `The target must be a postgres://user@host:port/dbname URL, not "${input.targetUrl}".`);
  }
  const file = path.join(input.dataDir, 'mailwarden.sqlite');
  if (!fs.existsSync(file)) throw usageError('EMIGRATESTORE', `There is no SQLite database ${file} to move.`);
  const source = await openDatabase({ dataDir: input.dataDir });
  try {
    const target = await openTarget(input);
    try {
      await requireSameMigrations(source.db, target.db);
      const raw = await checkedRawFiles(input.dataDir);
      const tables = await copyAll(source.sqlite!, target.db as unknown as StoreDb, raw, input);
      const bytes = raw.reduce((sum, f) => sum + f.size, 0);
      return { target: redactUrl(input.targetUrl), tables, raw: { files: raw.length, bytes, copied: Boolean(input.copyRaw) } };
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** Opens (and migrates) the target; a target migrated by another mailwarden version is refused in our words. */
async function openTarget(input: MigrateStoreInput): Promise<Opened> {
  try {
    return await openDatabase({ dataDir: input.dataDir, url: input.targetUrl });
  } catch (err) {
    if (!(err instanceof MailwardenError) || err.code !== 'EMIGRATE') throw err;
    throw usageError(
      'EMIGRATESTORE',
      `The target database is not at the same schema as this installation (${err.message.replace(/\.$/, '')}); use the same mailwarden version on both.`,
    );
  }
}

async function requireSameMigrations(source: QueryExecutorProvider, target: QueryExecutorProvider): Promise<void> {
  const [here, there] = [await appliedMigrations(source), await appliedMigrations(target)];
  if (here.join('\n') !== there.join('\n')) {
    const differ = [...here.filter((m) => !there.includes(m)), ...there.filter((m) => !here.includes(m))];
    throw usageError(
      'EMIGRATESTORE',
      `The target database is not at the same schema as this installation (migration ${differ[0]} differs); use the same mailwarden version on both.`,
    );
  }
}

/** The one target transaction: refuse rows, copy, raw files, sequences, verify; any throw undoes it all. */
async function copyAll(sqlite: Database.Database, target: StoreDb, raw: RawFile[], input: MigrateStoreInput): Promise<TableResult[]> {
  sqlite.exec('begin'); // a read snapshot of every table at once (WAL)
  try {
    const tables = sourceTables(sqlite);
    return await target.transaction().execute(async (tx) => {
      await refuseRows(tx, tables);
      const sums = new Map<string, TableChecksum>();
      for (const table of tables) sums.set(table.name, await copyTable(sqlite, tx, table, input.batchSize ?? DEFAULT_BATCH));
      await resetSequences(tx, tables);
      const results: TableResult[] = [];
      for (const table of tables) results.push(await verifyTable(tx, table, sums.get(table.name)!));
      // After the tables are verified: the copier adds chunk rows the source's table did not have.
      if (input.copyRaw) await input.copyRaw(tx, raw);
      return results;
    });
  } finally {
    sqlite.exec('commit');
  }
}

/** Never overwrite: the first table of the target holding any row stops the move. */
async function refuseRows(tx: StoreDb, tables: StoreTable[]): Promise<void> {
  for (const { name } of tables) {
    const { rows } = await sql<{ found: number }>`select 1 as found from ${sql.table(name)} limit 1`.execute(tx);
    if (rows.length) {
      throw usageError(
        'ETARGETNOTEMPTY',
        `The target database already holds rows (table ${name}); migrate-store only copies into an empty database and never overwrites.`,
      );
    }
  }
}

/** Copies one table in batches, rowid order, keeping every value (ids included); returns the source's checksum. */
async function copyTable(sqlite: Database.Database, tx: StoreDb, table: StoreTable, batchSize: number): Promise<TableChecksum> {
  const sum = new TableChecksum(table.columns);
  const batch = Math.max(1, Math.min(batchSize, Math.floor(MAX_PARAMETERS / Math.max(1, table.columns.length))));
  const read = sqlite.prepare(`select _rowid_ as "mw_rowid", * from "${table.name}" where _rowid_ > ? order by _rowid_ limit ?`);
  let after: number | bigint = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = read.all(after, batch) as Array<Record<string, unknown>>;
    if (!rows.length) return sum;
    after = rows[rows.length - 1]!.mw_rowid as number;
    const values = rows.map((row) => {
      const copy: Record<string, unknown> = {};
      for (const c of table.columns) copy[c] = row[c];
      sum.add(copy);
      return copy;
    });
    try {
      await tx.insertInto(table.name).values(values).execute();
    } catch (err) {
      throw dataError('EMIGRATESTORE', `Copying table ${table.name} failed: ${(err as Error).message}; nothing was written to the target.`);
    }
  }
}

/** Starts every identity sequence above the largest copied id, so the next row gets the next number. */
async function resetSequences(tx: StoreDb, tables: StoreTable[]): Promise<void> {
  const { rows } = await sql<{ table_name: string; column_name: string }>`
    select table_name, column_name from information_schema.columns
    where table_schema = current_schema() and (column_default like 'nextval(%' or is_identity = 'YES')`.execute(tx);
  const copied = new Set(tables.map((t) => t.name));
  for (const { table_name: table, column_name: column } of rows) {
    if (!copied.has(table)) continue;
    await sql`select setval(pg_get_serial_sequence(${table}, ${column}), coalesce(max(${sql.ref(column)}), 0) + 1, false) from ${sql.table(table)}`.execute(tx);
  }
}

/** Reads the table back from PostgreSQL (a cursor, any order) and compares it with the source's checksum. */
async function verifyTable(tx: StoreDb, table: StoreTable, source: TableChecksum): Promise<TableResult> {
  const sum = new TableChecksum(table.columns);
  await sql`declare mw_store_check no scroll cursor for select * from ${sql.table(table.name)}`.execute(tx);
  for (;;) {
    const { rows } = await sql<Record<string, unknown>>`fetch forward ${sql.raw(String(DEFAULT_BATCH))} from mw_store_check`.execute(tx);
    if (!rows.length) break;
    for (const row of rows) sum.add(row);
  }
  await sql`close mw_store_check`.execute(tx);
  if (sum.rows !== source.rows || sum.digest() !== source.digest()) {
    const what = sum.rows !== source.rows ? `${sum.rows} rows instead of ${source.rows}` : 'the same number of rows but different values';
    throw dataError('EMIGRATESTORE', `The copy of table ${table.name} does not match the SQLite original (${what}); nothing was written to the target.`);
  }
  return { table: table.name, rows: source.rows, checksum: source.digest(), checksum_ok: true };
}
