// `mailwarden priority <case> low|normal|high|urgent`.
import type { Command } from 'commander';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('priority')
    .description('set the priority of a case (urgent and high cases are taken first by `next`)')
    .argument('<case>', 'case ID')
    .argument('<priority>', 'low, normal, high or urgent')
    .option('--as <consultant>', 'who changes it (default: $MAILWARDEN_AS)')
    .option('--json', 'print {caseId, changed}')
    .addHelpText('after', '\nExample:\n  mailwarden priority ACME-000042 urgent --as maria')
    .action(
      action(async (caseId: string, priorityText: string, opts: { as?: string; json?: boolean }) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { parsePriority, setPriority } = await import('../../cases/edit.js');
        const { writeTx } = await import('../../db/connection.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const priority = parsePriority(priorityText);
          const result = await writeTx(db, (tx) => setPriority(tx, actor, caseId, priority));
          if (opts.json) return printJson(result);
          printLine(`Case ${result.caseId} has priority ${priority}.`);
        });
      }),
    );
}
