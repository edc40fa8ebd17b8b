// `mailwarden auth test <mailbox|smtp>`: fetches the OAuth2 access token (or reads the password)
// and logs in once, the way the daemon would, printing each step; for an admin registering an app
// with Microsoft Entra or Google before trusting the daemon with it. The steps never show a
// secret or a token, with or without --json.
import type { Command } from 'commander';
import type { LoginReport } from '../../config/login-check.js';
import { usageError } from '../../errors.js';
import type { GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  const auth = program.command('auth').description('check the logins to the mail servers');
  auth
    .command('test')
    .description("fetch the OAuth2 access token (or read the password) and log in once to a mailbox's IMAP server or the SMTP relay")
    .argument('<target>', 'a mailbox id, or smtp')
    .option('--json', 'print {target, protocol, host, port, user, method, steps:[{step, detail}]}')
    .addHelpText('after', '\nExample:\n  mailwarden auth test cards-pl\n  mailwarden auth test smtp --json')
    .action(
      action(async (target: string, opts: { json?: boolean }) => {
        const { findConfigPath, requireConfig } = await import('../../config/load.js');
        const { testImapLogin } = await import('../../ingest/imap-connect.js');
        const { testSmtpLogin } = await import('../../outbound/sender.js');
        const config = requireConfig(findConfigPath(program.opts<GlobalOptions>().config));
        let report: LoginReport;
        if (target === 'smtp') {
          if (config.smtp.transport !== 'smtp') throw usageError('EUSAGE', 'smtp.transport is file: there is no SMTP login to test.');
          report = await testSmtpLogin(config.smtp);
        } else {
          const box = config.mailboxes.find((m) => m.id === target);
          if (!box) throw usageError('ENOMAILBOX', `No mailbox "${target}" (known: ${config.mailboxes.map((m) => m.id).join(', ')}, or smtp).`);
          if (!box.imap) throw usageError('ENOMAILBOX', `Mailbox "${target}" has no imap section: its mail comes by direct delivery only.`);
          report = await testImapLogin(box.id, box.imap);
        }
        if (opts.json) return printJson(report);
        printLine(`${report.target}: ${report.protocol.toUpperCase()} ${report.host}:${report.port}, auth.method ${report.method}`);
        for (const s of report.steps) printLine(`  ${s.step}: ${s.detail}`);
        printLine('ok');
      }),
    );
}
