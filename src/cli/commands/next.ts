// `mailwarden next --as <c>`: take the oldest waiting case from your pools and show it.
import type { Command } from 'commander';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('next')
    .description('take the oldest waiting case from your pools (highest-priority pool first) and show it')
    .option('--as <consultant>', 'who takes it (default: $MAILWARDEN_AS)')
    .option('--json', 'print the case as `show --json` does, or null when nothing waits')
    .addHelpText('after', '\nExample:\n  mailwarden next --as anna')
    .action(
      action(async (opts: { as?: string; json?: boolean }) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { takeNext } = await import('../../cases/next.js');
        const { getCaseDetail } = await import('../../cases/queries.js');
        await withApp(
          program.opts<GlobalOptions>(),
          async ({ config, db }) => {
            const actor = resolveActor(config, opts.as);
            const taken = await takeNext(db, actor, config.instance.timezone);
            if (!taken) {
              if (opts.json) return printJson(null);
              return printLine(`Nothing is waiting in your pools (${actor.pools.map((p) => p.pool).join(', ')}).`);
            }
            const detail = await getCaseDetail(db, taken.id, { viewer: actor.id });
            if (opts.json) return printJson(detail);
            const { formatCaseDetail } = await import('../case-format.js');
            printLine(formatCaseDetail(detail, config.instance.timezone));
          },
          // It renders no mail: its templates are not compiled (LoadOptions.compileTemplates).
          { compileTemplates: false },
        );
      }),
    );
}
