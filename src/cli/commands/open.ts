// `mailwarden open --to <address> --pool <p> --subject … --message … --as <c>`: a case a consultant
// opens (SPEC §5 "Staff-opened case"), mailed to the customer from the pool's box like a reply.
import fs from 'node:fs';
import type { Command } from 'commander';
import { dataError, usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

interface OpenOptions {
  to?: string;
  pool?: string;
  mailbox?: string;
  subject?: string;
  message?: string;
  file?: string;
  attach: string[];
  as?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function register(program: Command): void {
  program
    .command('open')
    .description("open a case yourself and mail the customer from the pool's box; their answer threads onto it")
    .option('--to <address>', "the customer's e-mail address")
    .option('--pool <pool>', 'the pool the case belongs to')
    .option('--mailbox <id>', "the box it is mailed from (default: the pool's first)")
    .option('--subject <text>', 'the subject of the case and the mail')
    .option('-m, --message <text>', 'the mail text; #code expands a snippet')
    .option('--file <path>', 'read the mail text from a file (- for standard input)')
    .option('--attach <path>', 'attach a file (repeatable)', collect, [])
    .option('--as <consultant>', 'who opens it and gets it assigned (default: $MAILWARDEN_AS)')
    .option('--json', 'print {caseId, pool, mailbox, customer, deadlineAt, outboxId, messageId, messageRowId, state, status, snippets, approvalId, approver}')
    .addHelpText(
      'after',
      '\nExample:\n  mailwarden open --to carla@example.com --pool cards --subject "Your card application" -m "Please send us a copy of your ID." --as anna',
    )
    .action(
      action(async (opts: OpenOptions) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { checkAttachments, keepAttachments } = await import('../../cases/attachments.js');
        const { openStaffCase } = await import('../../cases/staff-open.js');
        const { writeTx } = await import('../../db/connection.js');
        const { contentStore } = await import('../../db/content-store.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          if (!opts.to) throw usageError('EUSAGE', 'Name the customer with --to <address>.');
          if (!opts.pool) throw usageError('EUSAGE', 'Name the pool with --pool <pool>.');
          if (!opts.subject) throw usageError('EEMPTY', 'A new case needs a subject (--subject).');
          const text = mailText(opts);
          const attachments = checkAttachments(opts.attach);
          await keepAttachments(contentStore(config, db), attachments);
          const result = await writeTx(db, (tx) =>
            openStaffCase(tx, config, actor, {
              to: opts.to!,
              poolId: opts.pool!,
              ...(opts.mailbox ? { mailboxId: opts.mailbox } : {}),
              subject: opts.subject!,
              text,
              attachments,
            }),
          );
          if (opts.json) return printJson(result);
          printLine(`Case ${result.caseId} opened in pool ${result.pool} for ${result.customer}, assigned to ${actor.id}.`);
          if (result.state === 'held') {
            printLine(`The mail is held for approval by ${result.approver ?? 'a supervisor'}; nothing reaches the customer before that.`);
          } else {
            printLine(`Mail queued for the customer from ${result.mailbox} (Message-ID ${result.messageId}).`);
          }
        });
      }),
    );
}

function mailText(opts: OpenOptions): string {
  if (opts.message !== undefined && opts.file !== undefined) throw usageError('ETWOTEXTS', 'Give the mail text with --message or --file, not both.');
  if (opts.message !== undefined) return opts.message;
  if (opts.file === undefined) throw usageError('EEMPTY', 'Give the mail text with --message or --file.');
  try {
    return fs.readFileSync(opts.file === '-' ? 0 : opts.file, 'utf8');
  } catch (err) {
    throw dataError('EREADFILE', `Cannot read the mail text from ${opts.file}: ${(err as Error).message}.`);
  }
}
