// What a command needs to do its work: the validated config, the open database, a logger.
// Opening the app is where an invalid config or an unreachable database is refused. The config
// loader, the database and pino are loaded when a command opens the app, not when the CLI
// starts: `mailwarden --help` and a command's usage error never pay for them.
import type { Config } from '../config/types.js';
import type { Db } from '../db/connection.js';
import { createLogger, silentLogger, type Logger } from '../log.js';

export interface GlobalOptions {
  config?: string;
  verbose?: boolean;
}

export interface App {
  config: Config;
  db: Db;
  log: Logger;
  close(): Promise<void>;
}

export interface OpenOptions {
  logger?: Logger;
  /** false for a command that renders no mail: see LoadOptions.compileTemplates in src/config/load.ts */
  compileTemplates?: boolean;
}

export async function openApp(opts: GlobalOptions, extra: OpenOptions = {}): Promise<App> {
  const config = await configFor(opts, extra);
  const { openDatabase } = await import('../db/connection.js');
  const opened = await openDatabase({ dataDir: config.instance.data_dir, url: config.database.url });
  const given = extra.logger ?? (opts.verbose ? createLogger({ level: 'debug' }) : undefined);
  let silent: Logger | undefined;
  return {
    config,
    db: opened.db,
    // Without --verbose a command logs nothing, and most never touch the logger: pino is loaded
    // the first time one does (src/log.ts).
    get log(): Logger {
      return given ?? (silent ??= silentLogger());
    },
    close: () => opened.close(),
  };
}

/**
 * The validated configuration. A command that renders no mail takes the one kept from the last
 * full validation when the file has not changed since (src/config/cache.ts says why and when).
 */
async function configFor(opts: GlobalOptions, extra: OpenOptions): Promise<Config> {
  const { findConfigPath } = await import('../config/locate.js');
  const file = findConfigPath(opts.config);
  const compileTemplates = extra.compileTemplates ?? true;
  if (!compileTemplates) {
    const kept = (await import('../config/cache.js')).readCachedConfig(file);
    if (kept) return kept;
  }
  const { requireConfig } = await import('../config/load.js');
  return requireConfig(file, process.env, { compileTemplates });
}

/** Opens the app, runs fn, and always closes the database. */
export async function withApp<T>(opts: GlobalOptions, fn: (app: App) => Promise<T>, extra: OpenOptions = {}): Promise<T> {
  const app = await openApp(opts, extra);
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}
