// `mailwarden parked`: messages whose accept kept failing (SPEC §3 no poison message). The box went
// on without them; they wait here, kept raw, until `mailwarden reprocess --parked`.
import type { Command } from 'commander';
import type { ParkedEntry } from '../../ingest/park.js';
import { withApp, type GlobalOptions } from '../app.js';
import { formatTable, paint, printJson, printLine } from '../output.js';
import { action } from '../run.js';

async function printEntries(entries: ParkedEntry[], tz: string): Promise<void> {
  const { localTime } = await import('../case-format.js');
  const rows = entries.map((e) => [
    String(e.id),
    e.state === 'parked' ? paint('red', e.state) : paint('green', e.state),
    localTime(e.parked_at, tz),
    e.mailbox,
    e.from ?? '-',
    (e.subject ?? '').slice(0, 40),
    String(e.attempts),
    e.state === 'reprocessed' ? (e.case ?? '-') : e.error.split('\n')[0]!.slice(0, 80),
  ]);
  printLine(formatTable(['ID', 'STATE', 'PARKED', 'BOX', 'FROM', 'SUBJECT', 'TRIES', 'ERROR / CASE'], rows));
}

export function register(program: Command): void {
  program
    .command('parked')
    .description('list messages whose accept kept failing and that wait for `reprocess --parked`')
    .option('--all', 'also those reprocessed since, with the case each became')
    .option(
      '--json',
      'print an array of {id, state, mailbox, source, uid, queue_id, message_id, from, subject, size, sha256, attempts, error, first_failed_at, parked_at, reprocessed_at, case}',
    )
    .addHelpText('after', '\nExample:\n  mailwarden parked\n  mailwarden reprocess --parked')
    .action(
      action(async (opts: { all?: boolean; json?: boolean }) => {
        const { listParked } = await import('../../ingest/park.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const entries = await listParked(db, { all: opts.all });
          if (opts.json) return printJson(entries);
          if (entries.length === 0) return printLine(opts.all ? 'No message was ever parked.' : 'No message is parked.');
          await printEntries(entries, config.instance.timezone);
        });
      }),
    );
}
