// `mailwarden consult <case> --dept <d> --as <c> --message …`: ask a department by e-mail (SPEC §5C);
// `--withdraw` ends a consultation that is no longer needed.
import fs from 'node:fs';
import type { Command } from 'commander';
import type { WithdrawResult } from '../../cases/consult.js';
import { dataError, usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

interface ConsultOptions {
  as?: string;
  dept: string[];
  message?: string;
  file?: string;
  attach: string[];
  withdraw?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];

function consultText(opts: ConsultOptions): string {
  if (opts.message !== undefined && opts.file !== undefined) throw usageError('ETWOTEXTS', 'Give the question with --message or --file, not both.');
  if (opts.file !== undefined) {
    try {
      return fs.readFileSync(opts.file === '-' ? 0 : opts.file, 'utf8');
    } catch (err) {
      throw dataError('EREADFILE', `Cannot read the question from ${opts.file}: ${(err as Error).message}.`);
    }
  }
  if (opts.message === undefined) throw usageError('EEMPTY', 'Give the question for the department with --message or --file.');
  return opts.message;
}

export function register(program: Command): void {
  program
    .command('consult')
    .description('ask another department by e-mail (the case waits under_consultation until it answers); --withdraw ends a consultation')
    .argument('<case>', 'case ID')
    .option('--dept <department>', 'department id to ask (repeatable, or comma-separated)', collect, [])
    .option('--as <consultant>', 'who asks (default: $MAILWARDEN_AS)')
    .option('-m, --message <text>', 'the question for the department')
    .option('--file <path>', 'read the question from a file (- for standard input)')
    .option('--attach <path>', 'attach a file (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--withdraw', 'end the open consultation with --dept instead (the department is told)')
    .option(
      '--json',
      'print {caseId, status, consultations:[{id, dept, deadline_at, outboxId, messageId}]} (with --withdraw: a list of {caseId, consultationId, dept, status})',
    )
    .addHelpText(
      'after',
      '\nExample:\n  mailwarden consult ACME-000042 --dept fraud --as anna -m "Was this card payment flagged on your side?"\n  mailwarden consult ACME-000042 --dept fraud --as anna --withdraw',
    )
    .action(
      action(async (caseId: string, opts: ConsultOptions) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { checkAttachments } = await import('../../cases/attachments.js');
        const { consultCase, withdrawConsultation } = await import('../../cases/consult.js');
        const { writeTx } = await import('../../db/connection.js');
        const { localTime } = await import('../case-format.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const tz = config.instance.timezone;
          if (opts.withdraw) {
            if (opts.message !== undefined || opts.file !== undefined || opts.attach.length > 0) {
              throw usageError('EUSAGE', '--withdraw takes no question or attachment; it only ends the consultation.');
            }
            if (opts.dept.length === 0) throw usageError('ENODEPT', 'Name the department whose consultation to withdraw with --dept.');
            const results: WithdrawResult[] = await writeTx(db, async (tx) => {
              const out: WithdrawResult[] = [];
              for (const dept of opts.dept) out.push(await withdrawConsultation(tx, config, actor, { caseId, dept }));
              return out;
            });
            if (opts.json) return printJson(results);
            for (const r of results) printLine(`Consultation ${r.consultationId} with ${r.dept} on ${r.caseId} withdrawn; ${r.dept} was told.`);
            printLine(`Case ${results[results.length - 1]!.caseId} is ${results[results.length - 1]!.status}.`);
            return;
          }
          const text = consultText(opts);
          const attachments = checkAttachments(opts.attach);
          const result = await writeTx(db, (tx) => consultCase(tx, config, actor, { caseId, departments: opts.dept, text, attachments }));
          if (opts.json) return printJson(result);
          for (const c of result.consultations) {
            printLine(`Consultation ${c.id}: ${c.dept} asked by mail about ${result.caseId}; answer due ${localTime(c.deadline_at, tz)}.`);
          }
          printLine(`Case ${result.caseId} is ${result.status}.`);
        });
      }),
    );
}
