// `mailwarden label <case> +name -name`: add and remove labels.
import type { Command } from 'commander';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('label')
    .description('add (+name) or remove (-name) labels of a case; labels are at most 50 characters')
    .argument('<case>', 'case ID')
    .argument('<changes...>', '+name to add, -name to remove')
    .option('--as <consultant>', 'who labels (default: $MAILWARDEN_AS)')
    .option('--json', 'print {caseId, labels}')
    // `-spam` must reach the action as a label change, not be taken for an unknown option.
    .allowUnknownOption()
    .addHelpText('after', '\nExample:\n  mailwarden label ACME-000042 +vip -spam --as anna')
    .action(
      action(async (caseId: string, changes: string[], opts: { as?: string; json?: boolean }) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { changeLabels, parseLabelChanges } = await import('../../cases/edit.js');
        const { writeTx } = await import('../../db/connection.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const change = parseLabelChanges(changes);
          const result = await writeTx(db, (tx) => changeLabels(tx, actor, caseId, change));
          if (opts.json) return printJson(result);
          printLine(`Case ${result.caseId} labels: ${result.labels.length ? result.labels.join(', ') : '(none)'}.`);
        });
      }),
    );
}
