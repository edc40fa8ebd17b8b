// `mailwarden reprocess <case>|--unparsed`: parse kept raw mail again.
import type { Command } from 'commander';
import { normaliseCaseId } from '../../cases/queries.js';
import { usageError } from '../../errors.js';
import type { ReprocessResult } from '../../ingest/reprocess.js';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('reprocess')
    .description('parse the kept raw mail of a case (or of every case flagged unparsed) again')
    .argument('[case]', 'case ID, e.g. ACME-000042')
    .option('--unparsed', 'every case flagged `unparsed`')
    .option('--json', 'print [{case, messages, parsed, unparsed, missing, flags}]')
    .addHelpText('after', '\nExamples:\n  mailwarden reprocess ACME-000042\n  mailwarden reprocess --unparsed --json')
    .action(
      action(async (caseArg: string | undefined, opts: { unparsed?: boolean; json?: boolean }) => {
        if (!caseArg && !opts.unparsed) throw usageError('EUSAGE', 'Name a case, or give --unparsed.');
        if (caseArg && opts.unparsed) throw usageError('EUSAGE', 'Give either a case or --unparsed, not both.');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const { ParserPool } = await import('../../ingest/parse.js');
          const { reprocessCase, unparsedCases } = await import('../../ingest/reprocess.js');
          const parsers = new ParserPool({ size: 1 });
          try {
            const ids = caseArg ? [normaliseCaseId(caseArg)] : await unparsedCases(db);
            const results: ReprocessResult[] = [];
            for (const id of ids) results.push(await reprocessCase(db, config, parsers, id));
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
