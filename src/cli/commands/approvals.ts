// `mailwarden approvals`, `approve <id>`, `reject <id> --reason …` (SPEC §5B): trainees' held
// replies and the supervisors' decisions on them. The rules (who may decide, once only, what the
// approval releases) are in src/cases/approvals.ts.
import type { Command } from 'commander';
import type { ApprovalEntry } from '../../cases/approvals.js';
import { usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { formatTable, paint, printJson, printLine } from '../output.js';
import { action } from '../run.js';

function approvalId(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw usageError('EBADNUMBER', `An approval id is a positive whole number, not "${text}".`);
  return n;
}

async function printEntries(entries: ApprovalEntry[], tz: string): Promise<void> {
  const { localTime } = await import('../case-format.js');
  const rows = entries.map((e) => [
    String(e.id),
    e.state === 'pending' ? paint('yellow', e.state) : e.state === 'approved' ? paint('green', e.state) : paint('red', e.state),
    e.case,
    e.trainee,
    e.approver,
    localTime(e.created_at, tz),
    e.status ?? '-',
    e.text.replace(/\s+/g, ' ').slice(0, 50),
  ]);
  printLine(formatTable(['ID', 'STATE', 'CASE', 'TRAINEE', 'APPROVER', 'WRITTEN', 'STATUS', 'DRAFT'], rows));
}

export function register(program: Command): void {
  program
    .command('approvals')
    .description("trainees' replies waiting for a supervisor's approval (nothing of them reaches the customer before)")
    .option('--all', 'also those decided, with who decided and why')
    .option('--json', 'print an array of {id, case, state, trainee, approver, created_at, status, decided_by, decided_at, reason, text}')
    .addHelpText('after', '\nExample:\n  mailwarden approvals\n  mailwarden approve 3 --as sam')
    .action(
      action(async (opts: { all?: boolean; json?: boolean }) => {
        const { listApprovals } = await import('../../cases/approvals.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const entries = await listApprovals(db, { all: opts.all });
          if (opts.json) return printJson(entries);
          if (entries.length === 0) return printLine(opts.all ? 'No reply ever waited for approval.' : 'No reply waits for approval.');
          await printEntries(entries, config.instance.timezone);
        });
      }),
    );

  program
    .command('approve')
    .description("approve a trainee's held reply: it goes to the customer unchanged, with the status it asked for")
    .argument('<id>', 'approval id (from `mailwarden approvals`)')
    .option('--as <supervisor>', 'who approves (default: $MAILWARDEN_AS); a supervisor, never the author')
    .option('--json', 'print {approvalId, caseId, state, outboxId, status}')
    .addHelpText('after', '\nExample:\n  mailwarden approve 3 --as sam')
    .action(
      action(async (id: string, opts: { as?: string; json?: boolean }) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { decideApproval } = await import('../../cases/approvals.js');
        const { writeTx } = await import('../../db/connection.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const r = await writeTx(db, (tx) => decideApproval(tx, config, actor, { approvalId: approvalId(id), decision: 'approve', via: 'cli' }));
          if (opts.json) return printJson(r);
          printLine(`Approval ${r.approvalId} approved: the reply on ${r.caseId} is queued for the customer${r.status ? `; the case is ${r.status}` : ''}.`);
        });
      }),
    );

  program
    .command('reject')
    .description("reject a trainee's held reply: nothing is sent, the trainee is mailed the reason, the draft stays in the history")
    .argument('<id>', 'approval id (from `mailwarden approvals`)')
    .option('--as <supervisor>', 'who rejects (default: $MAILWARDEN_AS); a supervisor, never the author')
    .option('--reason <text>', 'why, for the trainee (required)')
    .option('--json', 'print {approvalId, caseId, state, outboxId, status}')
    .addHelpText('after', '\nExample:\n  mailwarden reject 3 --as sam --reason "Quote the card number\'s last four digits only."')
    .action(
      action(async (id: string, opts: { as?: string; reason?: string; json?: boolean }) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { decideApproval } = await import('../../cases/approvals.js');
        const { writeTx } = await import('../../db/connection.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const r = await writeTx(db, (tx) =>
            decideApproval(tx, config, actor, {
              approvalId: approvalId(id),
              decision: 'reject',
              via: 'cli',
              ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
            }),
          );
          if (opts.json) return printJson(r);
          printLine(`Approval ${r.approvalId} rejected: nothing was sent on ${r.caseId}; the trainee is told why by mail.`);
        });
      }),
    );
}
