// What a command needs to do its work: the validated config, the open database, a logger.
// Opening the app is where an invalid config or an unreachable database is refused.
import { findConfigPath, requireConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { openDatabase, type Db } from '../db/connection.js';
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

export async function openApp(opts: GlobalOptions, extra: { logger?: Logger } = {}): Promise<App> {
  const config = requireConfig(findConfigPath(opts.config));
  const opened = await openDatabase({ dataDir: config.instance.data_dir, url: config.database.url });
  const log = extra.logger ?? (opts.verbose ? createLogger({ level: 'debug' }) : silentLogger());
  return { config, db: opened.db, log, close: () => opened.close() };
}

/** Opens the app, runs fn, and always closes the database. */
export async function withApp<T>(opts: GlobalOptions, fn: (app: App) => Promise<T>): Promise<T> {
  const app = await openApp(opts);
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}
