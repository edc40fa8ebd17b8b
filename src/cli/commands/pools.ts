// `mailwarden pools`: each configured pool with how many cases it holds, open, unanswered, overdue
// and waiting for a department (SPEC §6) — the supervisor's glance at where work piles up.
import type { Command } from 'commander';
import { withApp, type GlobalOptions } from '../app.js';
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
        const { poolCounts } = await import('../../cases/pool-counts.js');
        const { formatPoolTable } = await import('../case-format.js');
        await withApp(
          program.opts<GlobalOptions>(),
          async ({ config, db }) => {
            const pools = await poolCounts(db, config);
            if (opts.json) return printJson(pools);
            printLine(formatPoolTable(pools));
          },
          // It renders no mail: its templates are not compiled (LoadOptions.compileTemplates).
          { compileTemplates: false },
        );
      }),
    );
}
