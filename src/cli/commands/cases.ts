// `mailwarden cases`: the filtered case listing (SPEC §6), overdue cases marked.
import type { Command } from 'commander';
import { listCases } from '../../cases/queries.js';
import { parseSince } from '../../cases/when.js';
import { usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { formatCaseTable } from '../case-format.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

interface CasesOptions {
  status?: string;
  pool?: string;
  assignee?: string;
  overdue?: boolean;
  customer?: string;
  label?: string;
  since?: string;
  limit?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('cases')
    .description('list cases, oldest first, with filters; overdue cases are marked')
    .option('--status <list>', 'only these statuses, comma-separated (received,in_progress,under_consultation,postponed,solved,closed)')
    .option('--pool <pool>', 'only this pool')
    .option('--assignee <consultant>', 'only cases assigned to this consultant (`none`: unassigned)')
    .option('--overdue', 'only cases past their response deadline')
    .option('--customer <address>', "only this customer's cases (the address, upper or lower case alike)")
    .option('--label <label>', 'only cases carrying this label (upper or lower case alike)')
    .option('--since <date>', 'only cases received at or after: a date YYYY-MM-DD (00:00 in the instance time zone) or an ISO timestamp')
    .option('--limit <n>', 'at most n cases')
    .option('--json', 'print an array of case objects')
    .addHelpText(
      'after',
      '\nExamples:\n  mailwarden cases --status received,in_progress --pool cards --overdue\n  mailwarden cases --customer jan@example.com --label vip --since 2026-03-01',
    )
    .action(
      action(async (opts: CasesOptions) => {
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const filters = {
            ...(opts.status
              ? {
                  status: opts.status
                    .split(',')
                    .map((s) => s.trim())
                    .filter(Boolean),
                }
              : {}),
            ...(opts.pool ? { pool: opts.pool } : {}),
            ...(opts.assignee ? { assignee: opts.assignee } : {}),
            ...(opts.overdue ? { overdue: true } : {}),
            ...(opts.customer !== undefined ? { customer: opts.customer } : {}),
            ...(opts.label !== undefined ? { label: opts.label } : {}),
            ...(opts.since !== undefined ? { since: parseSince(opts.since, config.instance.timezone, '--since') } : {}),
            ...(opts.limit ? { limit: parseLimit(opts.limit) } : {}),
          };
          const cases = await listCases(db, config, filters);
          if (opts.json) return printJson(cases);
          if (cases.length === 0) return printLine('No cases match.');
          printLine(formatCaseTable(cases, config.instance.timezone));
        });
      }),
    );
}

function parseLimit(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw usageError('EBADLIMIT', `--limit wants a positive whole number, not "${text}".`);
  return n;
}
