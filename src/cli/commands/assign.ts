// `mailwarden assign <case> <consultant>`: give a case to a consultant.
import type { Command } from 'commander';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('assign')
    .description('assign a case to a consultant (supervisors: any case; consultants: unassigned or their own)')
    .argument('<case>', 'case ID')
    .argument('<consultant>', 'who gets it')
    .option('--as <consultant>', 'who assigns (default: $MAILWARDEN_AS)')
    .option('--json', 'print {caseId, changed}')
    .addHelpText('after', '\nExample:\n  mailwarden assign ACME-000042 piotr --as maria')
    .action(
      action(async (caseId: string, to: string, opts: { as?: string; json?: boolean }) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { assignCase } = await import('../../cases/edit.js');
        const { writeTx } = await import('../../db/connection.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const result = await writeTx(db, (tx) => assignCase(tx, config, actor, caseId, to));
          if (opts.json) return printJson(result);
          printLine(result.changed.length ? `Case ${result.caseId} is assigned to ${to}.` : `Case ${result.caseId} was already assigned to ${to}.`);
        });
      }),
    );
}
