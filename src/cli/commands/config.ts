// `mailwarden config check`: validate the YAML and list every problem with its path.
import type { Command } from 'commander';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';
import type { GlobalOptions } from '../app.js';

export function register(program: Command): void {
  const config = program.command('config').description('work with the configuration file');
  config
    .command('check')
    .description('validate the configuration and list every problem as path: what is wrong')
    .option('--json', 'print {valid, path, issues:[{path,message}]} as JSON')
    .addHelpText('after', '\nExample:\n  mailwarden config check --config config/mailwarden.yaml')
    .action(
      action(async (opts: { json?: boolean }) => {
        const { findConfigPath, formatIssue, loadConfig } = await import('../../config/load.js');
        const global = program.opts<GlobalOptions>();
        // Unlike other commands, check says whether the passwords would resolve now.
        const result = loadConfig(findConfigPath(global.config), process.env, { checkSecrets: true });
        if (opts.json) {
          printJson({ valid: result.config !== null, path: result.path, issues: result.issues });
          return result.config ? 0 : 1;
        }
        if (!result.config) {
          process.stderr.write(`mailwarden: the configuration ${result.path} has ${result.issues.length} problem(s):\n`);
          for (const issue of result.issues) process.stderr.write(`  ${formatIssue(issue)}\n`);
          return 1;
        }
        const c = result.config;
        printLine(
          `${result.path} is valid: instance ${c.instance.case_prefix}, ${c.pools.length} pools, ${c.mailboxes.length} mailboxes, ` +
            `${c.consultants.length} consultants, ${c.departments.length} departments.`,
        );
        return 0;
      }),
    );
  config
    .command('reference')
    .description('print the reference of every configuration key (Markdown, as in the README)')
    .addHelpText('after', '\nExample:\n  mailwarden config reference > config-keys.md')
    .action(
      action(async () => {
        const { referenceMarkdown } = await import('../../config/reference.js');
        printLine(referenceMarkdown());
      }),
    );
}
