// `mailwarden run`: the daemon. Logs are pino JSON lines on stderr (pretty on a terminal).
import type { Command } from 'commander';
import type { GlobalOptions } from '../app.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('run')
    .description('run the daemon: watch every mailbox, accept direct delivery, send the outbox, run the schedules')
    .option('--once', 'fetch new mail from every IMAP box once, send what is due, then exit')
    .addHelpText(
      'after',
      '\nSignals: SIGTERM/SIGINT finish the work in hand and exit 0; SIGHUP reloads the configuration.\n' +
        '\nExample:\n  mailwarden run --config /etc/mailwarden/mailwarden.yaml',
    )
    .action(
      action(async (opts: { once?: boolean }) => {
        // First, before the daemon's modules load: see src/daemon/young-generation.ts.
        (await import('../../daemon/young-generation.js')).keepYoungGenerationSmall();
        const { findConfigPath } = await import('../../config/load.js');
        const global = program.opts<GlobalOptions>();
        const { runDaemon } = await import('../../daemon/run.js');
        const code = await runDaemon({ configPath: findConfigPath(global.config), once: Boolean(opts.once) });
        // Everything is closed by now. Exit at once rather than drift through Node's teardown (worker
        // threads, handles): during it the signal handlers are gone, and a SIGHUP or SIGTERM sent in
        // that window would meet the default action and end a clean stop as death by signal.
        process.exit(code);
      }),
    );
}
