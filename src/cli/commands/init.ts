// `mailwarden init [dir]`: write a commented config and the templates, then say what to edit.
import type { Command } from 'commander';
import { printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('init')
    .argument('[dir]', 'directory to set up', '.')
    .description('write a commented configuration and the mail templates to edit')
    .option('--force', 'overwrite an existing config and templates')
    .addHelpText('after', '\nExample:\n  mailwarden init /srv/mailwarden && mailwarden config check --config /srv/mailwarden/config/mailwarden.yaml')
    .action(
      action(async (dir: string, opts: { force?: boolean }) => {
        const { initProject } = await import('../../setup/init.js');
        const r = initProject({ dir, force: opts.force });
        printLine(`Wrote ${r.configPath} and ${r.dir}/templates/.`);
        printLine('');
        printLine('Next:');
        printLine(`  1. Edit ${r.configPath}: instance (name, case_prefix), smtp, pools, mailboxes (IMAP accounts), consultants, departments.`);
        printLine(`  2. Set the secrets it refers to: ${r.envNames.map((n) => `${n}=…`).join(' ')}`);
        printLine(`  3. Check it:  mailwarden config check --config ${r.configPath}`);
        printLine(`  4. Run it:    mailwarden run --config ${r.configPath}`);
        printLine(`  Templates in ${r.dir}/templates/ can be overridden per pool (templates/pools/<pool>/) or mailbox (templates/mailboxes/<mailbox>/).`);
      }),
    );
}
