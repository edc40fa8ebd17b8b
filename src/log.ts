// pino JSON lines, pretty when a person is watching a terminal (SPEC §7). Logs go to stderr so
// that `--json` output on stdout stays machine-readable.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; pretty?: boolean; name?: string } = {}): Logger {
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  const level = opts.level ?? process.env.MAILWARDEN_LOG_LEVEL ?? 'info';
  if (pretty) {
    return pino({ level, name: opts.name ?? 'mailwarden' }, pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true } }));
  }
  return pino({ level, name: opts.name ?? 'mailwarden' }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything (tests and short commands that must stay quiet). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
