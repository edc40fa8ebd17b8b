// `mailwarden merge <from-case> <into-case> --as <c>`: make two cases one (SPEC §5 Merge).
import type { Command } from 'commander';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('merge')
    .description('merge a case into another: messages, participants and history move; the old ID keeps threading into the merged case')
    .argument('<from-case>', 'the case that goes away (it stays closed, pointing at the other)')
    .argument('<into-case>', 'the case that remains')
    .option('--as <consultant>', 'who merges: the assignee of both cases, or a supervisor (default: $MAILWARDEN_AS)')
    .option('--json', 'print {from, into, messages}')
    .addHelpText('after', '\nExample:\n  mailwarden merge ACME-000043 ACME-000042 --as anna')
    .action(
      action(async (from: string, into: string, opts: { as?: string; json?: boolean }) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { mergeCases } = await import('../../cases/merge.js');
        const { writeTx } = await import('../../db/connection.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const result = await writeTx(db, (tx) => mergeCases(tx, config, actor, { from, into }));
          if (opts.json) return printJson(result);
          printLine(
            `Case ${result.from} is merged into ${result.into} (${result.messages} message${result.messages === 1 ? '' : 's'} moved); ${result.from} is closed and its ID threads into ${result.into}.`,
          );
        });
      }),
    );
}
