// `mailwarden pools`: each configured pool with how many cases it holds, open, unanswered, overdue
// and waiting for a department (SPEC §6) — the supervisor's glance at where work piles up.
import type { Command } from 'commander';
import { poolCounts } from '../../cases/pool-counts.js';
import { withApp, type GlobalOptions } from '../app.js';
import { formatPoolTable } from '../case-format.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('pools')
    .description('list the pools with their total, open, unanswered, overdue and under-consultation case counts')
    .option('--json', 'print an array of {id, name, total, open, unanswered, overdue, under_consultation}')
    .addHelpText('after', '\nExample:\n  mailwarden pools --json')
    .action(
      action(async (opts: { json?: boolean }) => {
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const pools = await poolCounts(db, config);
          if (opts.json) return printJson(pools);
          printLine(formatPoolTable(pools));
        });
      }),
    );
}
