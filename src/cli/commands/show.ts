// `mailwarden show <case>`: the whole thread, history, deadlines and who else is looking.
import type { Command } from 'commander';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('show')
    .description('show a case: the whole thread, attachments, history, deadlines, and who else is looking')
    .argument('<case>', 'case ID, e.g. ACME-000042')
    .option('--as <consultant>', 'who is looking (default: $MAILWARDEN_AS); recorded for presence')
    .option('--json', 'print {case, messages (each with its role), history, viewers, quarantined, consultations, ratings, links, answers}')
    .addHelpText('after', '\nExample:\n  mailwarden show ACME-000042 --as anna')
    .action(
      action(async (caseId: string, opts: { as?: string; json?: boolean }) => {
        const { optionalActor } = await import('../../cases/actors.js');
        const { getCaseDetail } = await import('../../cases/queries.js');
        await withApp(
          program.opts<GlobalOptions>(),
          async ({ config, db }) => {
            const viewer = optionalActor(config, opts.as);
            const detail = await getCaseDetail(db, caseId, { viewer: viewer?.id ?? null });
            if (opts.json) return printJson(detail);
            const names = (id: string) => config.consultants.find((c) => c.id === id)?.name ?? id;
            const { formatCaseDetail } = await import('../case-format.js');
            printLine(formatCaseDetail(detail, config.instance.timezone, names));
          },
          // It renders no mail: its templates are not compiled (LoadOptions.compileTemplates).
          { compileTemplates: false },
        );
      }),
    );
}
