// `mailwarden comment <case> --as <c> --message <text>`: an internal note, never mailed.
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('comment')
    .description('add an internal comment to a case (staff only, never mailed to the customer)')
    .argument('<case>', 'case ID')
    .option('--as <consultant>', 'who comments (default: $MAILWARDEN_AS)')
    .option('-m, --message <text>', 'the comment')
    .option('--json', 'print {caseId, messageRowId}')
    .addHelpText('after', '\nExample:\n  mailwarden comment ACME-000042 --as anna -m "Customer called, card found."')
    .action(
      action(async (caseId: string, opts: { as?: string; message?: string; json?: boolean }) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { addComment } = await import('../../cases/edit.js');
        const { writeTx } = await import('../../db/connection.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          if (opts.message === undefined) throw usageError('EEMPTY', 'Give the comment with --message <text>.');
          const result = await writeTx(db, (tx) => addComment(tx, actor, caseId, opts.message!));
          if (opts.json) return printJson(result);
          printLine(`Comment added to ${result.caseId} (internal, not mailed).`);
        });
      }),
    );
}
