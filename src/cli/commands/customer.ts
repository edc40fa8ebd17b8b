// `mailwarden customer <address>`: every case of a customer, newest first.
import type { Command } from 'commander';
import { customerCases } from '../../cases/queries.js';
import { withApp, type GlobalOptions } from '../app.js';
import { formatCaseTable } from '../case-format.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('customer')
    .description("show a customer's history: all their cases, newest first")
    .argument('<address>', 'the customer e-mail address')
    .option('--json', 'print an array of case objects')
    .addHelpText('after', '\nExample:\n  mailwarden customer jan.kowalski@example.com')
    .action(
      action(async (address: string, opts: { json?: boolean }) => {
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const cases = await customerCases(db, address);
          if (opts.json) return printJson(cases);
          if (cases.length === 0) return printLine(`No cases from ${address}.`);
          printLine(`${cases.length} case(s) from ${address}, newest first:`);
          printLine(formatCaseTable(cases, config.instance.timezone));
        });
      }),
    );
}
