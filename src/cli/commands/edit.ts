// `mailwarden edit <case> --title … --description … --as <c>`: a case's own title and description
// (SPEC §5 "Customer"), each at most 2000 characters, every change in the case history.
import type { Command } from 'commander';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('edit')
    .description('give a case a title and a description (at most 2000 characters each; an empty text clears it)')
    .argument('<case>', 'case ID')
    .option('--title <text>', 'the title of the case')
    .option('--description <text>', 'the description of the case')
    .option('--as <consultant>', 'who edits (default: $MAILWARDEN_AS)')
    .option('--force', 'go ahead although the case changed since you last viewed it')
    .option('--json', 'print {caseId, title, description, changed}')
    .addHelpText(
      'after',
      '\nExample:\n  mailwarden edit ACME-000042 --title "Card blocked abroad" --description "Blocked in Lisbon on 3 May; new card sent." --as anna',
    )
    .action(
      action(async (caseId: string, opts: { title?: string; description?: string; as?: string; force?: boolean; json?: boolean }) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { editCaseText } = await import('../../cases/case-text.js');
        const { writeTx } = await import('../../db/connection.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const result = await writeTx(db, (tx) =>
            editCaseText(tx, config, actor, {
              caseId,
              force: opts.force === true,
              ...(opts.title !== undefined ? { title: opts.title } : {}),
              ...(opts.description !== undefined ? { description: opts.description } : {}),
            }),
          );
          if (opts.json) return printJson(result);
          printLine(result.changed.length ? `Case ${result.caseId}: changed ${result.changed.join(' and ')}.` : `Case ${result.caseId}: nothing changed.`);
        });
      }),
    );
}
