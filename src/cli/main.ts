// Entry point of the CLI: global options, one registration per command file, and the mapping
// of commander's own usage errors onto exit 64.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT } from '../errors.js';
import { reportError, setVerbose } from './run.js';
import { COMMANDS } from './commands/index.js';

/** The version in package.json, read once at start (the CLI runs from the package directory). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mailwarden')
    .description('E-mail-first helpdesk: supervised mailboxes become cases that get answered on time.')
    .version(packageVersion(), '-V, --version', 'print the version of mailwarden')
    .option('-c, --config <file>', 'configuration file (default: $MAILWARDEN_CONFIG or config/mailwarden.yaml)')
    .option('-v, --verbose', 'show debug logs and stack traces')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .hook('preAction', (cmd) => setVerbose(Boolean(cmd.opts().verbose)));
  for (const register of COMMANDS) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // Everything mailwarden creates (database, raw mail, .eml files) is for its own user only.
  process.umask(0o077);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its one-line message
      process.exitCode = err.exitCode === 0 ? 0 : EXIT.usage;
      return;
    }
    process.exitCode = reportError(err);
  }
}
