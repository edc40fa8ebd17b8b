// `mailwarden status <case> <status> --as <c>`: change a case's status without mailing anyone
// (SPEC §5 "Status without mail"), e.g. to close an out-of-office, spam or duplicate case. The
// same domain action as a `#status` line from a consultant's mail client, so the one status
// machine and the questionnaire rules decide exactly as they do for a reply.
import type { Command } from 'commander';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

interface StatusOptions {
  as?: string;
  reason?: string;
  remindAt?: string;
  answer: string[];
  force?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function register(program: Command): void {
  program
    .command('status')
    .description('change the status of a case without mailing anyone (e.g. close an out-of-office, spam or duplicate case)')
    .argument('<case>', 'case ID')
    .argument('<status>', 'in_progress, postponed, solved or closed')
    .option('--as <consultant>', 'who changes it (default: $MAILWARDEN_AS)')
    .option('--reason <text>', 'why, kept in the case history')
    .option('--remind-at <time>', 'with postponed: when the case comes back ("YYYY-MM-DD HH:MM" in the instance time zone, or ISO-8601)')
    .option('--answer <key=value>', 'questionnaire answer, required when closing in a pool with a questionnaire (repeatable)', collect, [])
    .option('--force', 'go ahead although the case changed since you last viewed it')
    .option('--json', 'print {caseId, from, status, reason}')
    .addHelpText('after', '\nExample:\n  mailwarden status ACME-000042 closed --as anna --reason "out-of-office reply" --answer partner=Visa')
    .action(
      action(async (caseId: string, statusText: string, opts: StatusOptions) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { getCaseRow } = await import('../../cases/queries.js');
        const { parseAnswers } = await import('../../cases/questionnaire.js');
        const { changeStatusWithoutMail, checkReplyStatus } = await import('../../cases/reply.js');
        const { parseWhen } = await import('../../cases/when.js');
        const { writeTx } = await import('../../db/connection.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const status = checkReplyStatus(statusText);
          const remindAt = opts.remindAt ? parseWhen(opts.remindAt, config.instance.timezone, '--remind-at') : undefined;
          const answers = parseAnswers(opts.answer);
          const reason = opts.reason?.trim() || null;
          const result = await writeTx(db, async (tx) => {
            const before = await getCaseRow(tx, caseId);
            const after = await changeStatusWithoutMail(tx, config, actor, {
              caseId: before.id,
              status,
              answers,
              ...(remindAt ? { remindAt } : {}),
              ...(reason ? { reason } : {}),
              force: opts.force === true,
            });
            return { caseId: before.id, from: before.status, status: after, reason };
          });
          if (opts.json) return printJson(result);
          printLine(`Case ${result.caseId} is ${result.status} (was ${result.from}); nobody was mailed.`);
        });
      }),
    );
}
