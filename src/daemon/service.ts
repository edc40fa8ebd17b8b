// The parts `mailwarden run` supervises (IMAP workers, listener, outbox drainer, scheduler)
// share this shape. They never call each other; they meet in the database (DESIGN).
import type { Config } from '../config/types.js';
import type { Db } from '../db/connection.js';
import type { Logger } from '../log.js';

export interface ServiceContext {
  config: Config;
  db: Db;
  log: Logger;
  /**
   * The daemon's commits made durable (src/db/commit-sync.ts), before a service acts on them
   * outside: all so far, or those up to a commitMark.
   */
  syncCommits?: (upTo?: number) => Promise<void>;
}

export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Stop taking new work, finish what is in hand, then resolve. */
  stop(): Promise<void>;
  /** A new valid config after SIGHUP; services that care pick up the change. */
  reload?(config: Config): Promise<void>;
}

export type ServiceFactory = (ctx: ServiceContext) => Service;
