// `mailwarden deliver <mailbox> < message`: one message from standard input into a box, through
// the same pipeline as IMAP and LMTP (raw bytes kept on disk first, then parsed, then the accept
// transaction), for an MTA's pipe transport or a procmail/maildrop rule, as RT's rt-mailgate
// does. The exit code is what an MTA reads: 0 accepted, 75 (EX_TEMPFAIL) try again later.
import crypto from 'node:crypto';
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('deliver')
    .description("accept one message from standard input into a mailbox (an MTA's pipe transport; exit 75 means try again)")
    .argument('<mailbox>', 'mailbox id, or the address it receives')
    .option('--from <address>', 'envelope sender (Return-Path), "" for the null sender')
    .option('--json', 'print {outcome, caseId, detail}')
    .addHelpText('after', '\nExample:\n  mailwarden deliver cards --from jan@example.pl < message.eml')
    .action(
      action(async (wanted: string, opts: { from?: string; json?: boolean }) => {
        await withApp(program.opts<GlobalOptions>(), async ({ config, db, log }) => {
          const key = wanted.toLowerCase();
          const mailbox = config.mailboxes.find((m) => m.id === wanted || m.address.toLowerCase() === key);
          if (!mailbox) throw usageError('ENOMAILBOX', `There is no mailbox "${wanted}" (known: ${config.mailboxes.map((m) => m.id).join(', ')}).`);
          if (process.stdin.isTTY) throw usageError('EUSAGE', 'Give the message on standard input (mailwarden deliver <mailbox> < message.eml).');
          const { parserPoolFor } = await import('../../ingest/parse.js');
          const { ingestMessage } = await import('../../ingest/pipeline.js');
          const parsers = parserPoolFor(() => config, { size: 1 });
          try {
            const r = await ingestMessage(
              { getConfig: () => config, db, log, parsers },
              {
                mailbox,
                source: { kind: 'pipe', queueId: `pipe-${crypto.randomBytes(8).toString('hex')}` },
                bytes: process.stdin,
                ...(opts.from !== undefined ? { envelopeFrom: opts.from } : {}),
              },
            );
            if (opts.json) return printJson({ outcome: r.outcome, caseId: r.caseId, detail: r.detail });
            printLine(`Accepted into ${mailbox.id}: ${r.outcome}${r.caseId ? ` (${r.caseId})` : ''}.`);
          } finally {
            await parsers.close();
          }
        });
      }),
    );
}
