// `mailwarden cases`: the filtered case listing (SPEC §6), overdue cases marked. One page, oldest
// first: open cases unless --all or --status says otherwise, at most --limit (default 100); the
// table says when more match. The listing itself (filters and paging in SQL) is src/cases/listing.ts,
// loaded only when the command runs, like every command's implementation (src/cli/commands/index.ts).
import type { Command } from 'commander';
import type { CaseFilters, ListingScope } from '../../cases/listing.js';
import { usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

interface CasesOptions {
  status?: string;
  all?: boolean;
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
    .description('list cases, oldest first, with filters; open cases only unless --all or --status; overdue cases are marked')
    .option('--status <list>', 'only these statuses, comma-separated (received,in_progress,under_consultation,postponed,solved,closed)')
    .option('--all', 'every status, solved and closed cases too (default: open cases only)')
    .option('--pool <pool>', 'only this pool')
    .option('--assignee <consultant>', 'only cases assigned to this consultant (`none`: unassigned)')
    .option('--overdue', 'only cases past their response deadline')
    .option('--customer <address>', "only this customer's cases (the address, upper or lower case alike)")
    .option('--label <label>', 'only cases carrying this label (upper or lower case alike)')
    .option('--since <date>', 'only cases received at or after: a date YYYY-MM-DD (00:00 in the instance time zone) or an ISO timestamp')
    .option('--limit <n>', 'at most n cases, the oldest (default 100)')
    .option('--json', 'print an array of case objects')
    .addHelpText(
      'after',
      '\nExamples:\n  mailwarden cases --status received,in_progress --pool cards --overdue\n  mailwarden cases --customer jan@example.com --label vip --since 2026-03-01 --all\n  mailwarden cases --limit 500 --json',
    )
    .action(
      action(async (opts: CasesOptions) => {
        const limit = opts.limit !== undefined ? parseLimit(opts.limit) : undefined;
        await withApp(
          program.opts<GlobalOptions>(),
          async ({ config, db }) => {
            const { listCases, countCases, listingScope, PAGE_SIZE } = await import('../../cases/listing.js');
            const filters: CaseFilters = {
              ...(opts.status ? { status: splitList(opts.status) } : {}),
              ...(opts.all ? { all: true } : {}),
              ...(opts.pool ? { pool: opts.pool } : {}),
              ...(opts.assignee ? { assignee: opts.assignee } : {}),
              ...(opts.overdue ? { overdue: true } : {}),
              ...(opts.customer !== undefined ? { customer: opts.customer } : {}),
              ...(opts.label !== undefined ? { label: opts.label } : {}),
              // Zoned dates (luxon) are loaded only when asked for.
              ...(opts.since !== undefined ? { since: (await import('../../cases/when.js')).parseSince(opts.since, config.instance.timezone, '--since') } : {}),
              limit: limit ?? PAGE_SIZE,
            };
            const cases = await listCases(db, config, filters);
            if (opts.json) return printJson(cases);
            const scope = listingScope(filters);
            if (cases.length === 0) return printLine(scope === 'open' ? 'No open cases match (--all lists solved and closed ones too).' : 'No cases match.');
            const { formatCaseTable } = await import('../case-format.js');
            printLine(formatCaseTable(cases, config.instance.timezone));
            // Counted only when the page is full: a shorter page is every match.
            const total = cases.length < filters.limit! ? cases.length : await countCases(db, config, filters);
            if (total > cases.length) printLine(`\n${moreExist(cases.length, total, scope)}`);
          },
          // It renders no mail: its templates are not compiled (LoadOptions.compileTemplates).
          { compileTemplates: false },
        );
      }),
    );
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseLimit(text: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw usageError('EBADLIMIT', `--limit wants a positive whole number, not "${text}".`);
  return n;
}

/** The table's footer when the page is not every match: how many, and the flags that show more. */
function moreExist(shown: number, total: number, scope: ListingScope): string {
  const what = scope === 'open' ? 'open cases' : 'matching cases';
  const more = scope === 'open' ? '--limit <n> shows more, --all adds solved and closed ones' : '--limit <n> shows more';
  return `${shown.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} ${what} shown, oldest first; ${more}.`;
}
