// Placeholder: replaced by the real aggregation within this session.
import type { Kysely } from 'kysely';
import type { Config } from '../config/types.js';
import type { DB } from '../db/schema.js';
import type { Report, ReportOptions } from './types.js';

export async function buildReport(db: Kysely<DB>, config: Config, opts: ReportOptions): Promise<Report> {
  void db;
  void config;
  void opts;
  throw new Error('buildReport: not yet');
}
