// `mailwarden reprocess <case>|--unparsed|--parked`: parse kept raw mail again, or take parked
// messages through the accept again.
import type { Command } from 'commander';
import { MailwardenError, usageError } from '../../errors.js';
import type { ParkedReprocessResult, ReprocessResult } from '../../ingest/reprocess.js';
import { withApp, type App, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

interface Options {
  unparsed?: boolean;
  parked?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('reprocess')
    .description('parse the kept raw mail of a case (or of every case flagged unparsed) again, or take parked messages in again')
    .argument('[case]', 'case ID, e.g. ACME-000042')
    .option('--unparsed', 'every case flagged `unparsed`')
    .option('--parked', 'every parked message (see `mailwarden parked`), accepted as if it had just arrived')
    .option('--json', 'print [{case, messages, parsed, unparsed, missing, flags}], or with --parked [{parked, mailbox, outcome, case, error?}]')
    .addHelpText('after', '\nExamples:\n  mailwarden reprocess ACME-000042\n  mailwarden reprocess --unparsed --json\n  mailwarden reprocess --parked')
    .action(
      action(async (caseArg: string | undefined, opts: Options) => {
        const { normaliseCaseId } = await import('../../cases/queries.js');
        const chosen = [caseArg !== undefined, Boolean(opts.unparsed), Boolean(opts.parked)].filter(Boolean).length;
        if (chosen === 0) throw usageError('EUSAGE', 'Name a case, or give --unparsed or --parked.');
        if (chosen > 1) throw usageError('EUSAGE', 'Give one of a case, --unparsed or --parked.');
        await withApp(program.opts<GlobalOptions>(), async (app) => {
          const { parserPoolFor } = await import('../../ingest/parse.js');
          const parsers = parserPoolFor(() => app.config, { size: 1 });
          try {
            if (opts.parked) return await reprocessParkedCommand(app, parsers, opts);
            const { reprocessCase, unparsedCases } = await import('../../ingest/reprocess.js');
            const ids = caseArg ? [normaliseCaseId(caseArg)] : await unparsedCases(app.db);
            const results: ReprocessResult[] = [];
            for (const id of ids) results.push(await reprocessCase(app.db, app.config, parsers, id));
            if (opts.json) return printJson(results);
            if (results.length === 0) return printLine('No case is flagged unparsed.');
            for (const r of results) {
              printLine(
                `${r.case}: ${r.messages} message(s) parsed again: ${r.parsed} parsed, ${r.unparsed} still not${r.missing ? `, ${r.missing} raw file(s) erased` : ''}; flags now [${r.flags.join(', ')}]`,
              );
            }
          } finally {
            await parsers.close();
          }
        });
      }),
    );
}

async function reprocessParkedCommand(app: App, parsers: import('../../ingest/parse.js').ParserPool, opts: Options): Promise<void> {
  const { reprocessParked } = await import('../../ingest/reprocess.js');
  const results: ParkedReprocessResult[] = await reprocessParked({ getConfig: () => app.config, db: app.db, log: app.log, parsers });
  if (opts.json) printJson(results);
  else if (results.length === 0) printLine('No message is parked.');
  else
    for (const r of results)
      printLine(
        r.outcome === 'failed'
          ? `parked #${r.parked} (${r.mailbox}): failed again, still parked: ${r.error}`
          : `parked #${r.parked} (${r.mailbox}): ${r.outcome}${r.case ? ` ${r.case}` : ''}`,
      );
  const failed = results.filter((r) => r.outcome === 'failed').length;
  if (failed > 0)
    throw new MailwardenError('software', 'EACCEPT', `${failed} of ${results.length} parked message(s) failed again and stay parked (see mailwarden parked).`);
}
