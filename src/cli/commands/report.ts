// `mailwarden report`: the department's figures for a period (SPEC §6), globally and per
// consultant or pool, as a terminal table, CSV, JSON or one self-contained HTML file. The numbers
// come from buildReport (src/reports/build.ts); this only reads the options and writes the result.
import type { Command } from 'commander';
import { REPORT_FORMATS, type ReportFormat, type ReportGrouping } from '../../reports/types.js';
import { usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { printLine, writeNewFile } from '../output.js';
import { action } from '../run.js';

interface ReportCliOptions {
  from: string;
  to: string;
  by?: string;
  consultant?: string;
  pool?: string;
  format?: string;
  output?: string;
  json?: boolean;
}

function parseFormat(opts: ReportCliOptions): ReportFormat {
  const asked = opts.format ?? (opts.json ? 'json' : 'table');
  if (!(REPORT_FORMATS as readonly string[]).includes(asked)) throw usageError('EBADFORMAT', `--format wants ${REPORT_FORMATS.join(', ')}, not "${asked}".`);
  if (opts.json && asked !== 'json') throw usageError('EUSAGE', `--json prints JSON; leave out --format ${asked}.`);
  return asked as ReportFormat;
}

export function register(program: Command): void {
  program
    .command('report')
    .description("the department's figures for a period: e-mails, closings on time and late, consultations, feedback, response and resolution times, ratings")
    .requiredOption('--from <date>', 'first day, YYYY-MM-DD (instance timezone)')
    .requiredOption('--to <date>', 'last day, YYYY-MM-DD (included)')
    .option('--by <grouping>', 'one row per consultant or per pool', 'consultant')
    .option('--consultant <c>', "only this consultant's figures")
    .option('--pool <p>', "only this pool's cases")
    .option('--format <format>', `${REPORT_FORMATS.join(' | ')}`, undefined)
    .option('-o, --output <file>', 'write the report to this new file instead of standard output')
    .option('--json', 'the same as --format json')
    .addHelpText(
      'after',
      '\nExamples:\n  mailwarden report --from 2026-11-01 --to 2026-11-30\n  mailwarden report --from 2026-11-01 --to 2026-11-30 --by pool --format html --output november.html',
    )
    .action(
      action(async (opts: ReportCliOptions) => {
        const { buildReport } = await import('../../reports/build.js');
        const { renderReport } = await import('../../reports/render.js');
        const format = parseFormat(opts);
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const report = await buildReport(db, config, {
            from: opts.from,
            to: opts.to,
            by: (opts.by ?? 'consultant') as ReportGrouping,
            ...(opts.consultant !== undefined ? { consultant: opts.consultant } : {}),
            ...(opts.pool !== undefined ? { pool: opts.pool } : {}),
          });
          const text = await renderReport(report, format, { title: `${config.instance.name} report` });
          if (opts.output === undefined) return void process.stdout.write(text);
          writeNewFile(opts.output, text);
          if (!opts.json) printLine(`Wrote the ${format} report for ${report.period.from} to ${report.period.to} to ${opts.output}.`);
        });
      }),
    );
}
