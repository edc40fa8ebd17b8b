// Entry point of the CLI: global options, one registration per command file, and the mapping
// of commander's own usage errors onto exit 64.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT, MailwardenError } from '../errors.js';
import { reportError, setJsonErrors, setVerbose } from './run.js';
import { COMMANDS } from './commands/index.js';

/** The version in package.json, read once at start (the CLI runs from the package directory). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(opts: { jsonErrors?: boolean } = {}): Command {
  const program = new Command();
  if (opts.jsonErrors) {
    // Set before the commands are added: commander copies these settings into each of them.
    program.configureOutput({
      writeErr: (text) => {
        const message = text
          .trim()
          .split('\n')[0]!
          .replace(/^error: /, '');
        if (message) process.stderr.write(`${JSON.stringify({ error: { code: 'EUSAGE', message, exit: EXIT.usage } })}\n`);
      },
    });
  }
  program
    .name('mailwarden')
    .description('E-mail-first helpdesk: supervised mailboxes become cases that get answered on time.')
    .version(packageVersion(), '-V, --version', 'print the version of mailwarden')
    .option('-c, --config <file>', 'configuration file (default: $MAILWARDEN_CONFIG or config/mailwarden.yaml)')
    .option('-v, --verbose', 'show debug logs and stack traces')
    .showHelpAfterError(opts.jsonErrors ? false : '(run with --help for usage)')
    .exitOverride()
    .hook('preAction', (cmd) => setVerbose(Boolean(cmd.opts().verbose)));
  for (const register of COMMANDS) register(program);
  return program;
}

/**
 * `mailwarden cases --json | head -c 100`: the reader goes away mid-output and the next write
 * fails with EPIPE, which Node raises on process.stdout as an unhandled 'error' (a stack trace).
 * There is nothing left to write to, so the command stops with one sentence on stderr. Only
 * output is lost: every command writes to stdout after its transaction has committed.
 */
function stopWhenOutputCloses(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    const code = err.code === 'EPIPE' ? 'EPIPE' : 'EINTERNAL';
    const cause = err.code === 'EPIPE' ? 'The output was closed before everything was written' : `Cannot write the output: ${err.message}`;
    process.exit(reportError(new MailwardenError(err.code === 'EPIPE' ? 'ioerr' : 'software', code, `${cause}.`)));
  });
}

export async function main(argv: string[]): Promise<void> {
  // Everything mailwarden creates (database, raw mail, .eml files) is for its own user only.
  process.umask(0o077);
  stopWhenOutputCloses();
  // Decided before parsing, so that commander's own usage errors come out as JSON too.
  const json = argv.includes('--json');
  setJsonErrors(json);
  const program = buildProgram({ jsonErrors: json });
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
