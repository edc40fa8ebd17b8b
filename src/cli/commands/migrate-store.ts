// `mailwarden migrate-store --to postgres://…`: moves this SQLite installation into an empty
// PostgreSQL database (SPEC §10) and prints what was copied and verified. The copy, its checks
// and its refusals are src/db/migrate-store.ts; this file reads the config, keeps a running daemon
// out of the way and prints.
import type { Command } from 'commander';
import type { MigrateStoreResult } from '../../db/migrate-store.js';
import type { GlobalOptions } from '../app.js';
import { formatTable, printJson, printLine } from '../output.js';
import { action } from '../run.js';

function printResult(result: MigrateStoreResult): void {
  const rows = result.tables.map((t) => [t.table, String(t.rows), t.checksum_ok ? 'ok' : 'DIFFERS']);
  printLine(formatTable(['TABLE', 'ROWS', 'CHECKSUM'], rows));
  printLine();
  const { files, bytes, copied } = result.raw;
  printLine(
    copied
      ? `Raw mail and attachments: ${files} files (${bytes} bytes) copied into the database.`
      : `Raw mail and attachments: ${files} files (${bytes} bytes) checked on disk and left there (storage.files); every daemon must read them from storage.directory.`,
  );
  printLine(`Copied into ${result.target}. Set database.url to it in the config, then start the daemon.`);
}

export function register(program: Command): void {
  program
    .command('migrate-store')
    .description('copy this SQLite installation into an empty PostgreSQL database, ids kept, and verify every table')
    .requiredOption('--to <url>', 'the empty PostgreSQL database, postgres://user@host:port/dbname')
    .option('--json', 'print {target, tables:[{table, rows, checksum, checksum_ok}], raw:{files, bytes, copied}}')
    .addHelpText('after', '\nExample:\n  mailwarden migrate-store --to postgres://mailwarden@db.internal:5432/mailwarden')
    .action(
      action(async (opts: { to: string; json?: boolean }) => {
        const { findConfigPath, requireConfig } = await import('../../config/load.js');
        const { refuseWhileDaemonRuns } = await import('../../daemon/lock.js');
        const { migrateStore } = await import('../../db/migrate-store.js');
        const { copyRawIntoChunks } = await import('../../db/store-raw.js');
        const config = requireConfig(findConfigPath(program.opts<GlobalOptions>().config));
        refuseWhileDaemonRuns(config.instance.data_dir, 'run migrate-store');
        // Into the database unless the config keeps the files elsewhere (storage.files).
        const intoDatabase = config.storage.files === undefined || config.storage.files === 'database';
        const result = await migrateStore({
          dataDir: config.instance.data_dir,
          sourceUrl: config.database.url,
          targetUrl: opts.to,
          ...(intoDatabase ? { copyRaw: copyRawIntoChunks } : {}),
        });
        if (opts.json) return printJson(result);
        printResult(result);
      }),
    );
}
