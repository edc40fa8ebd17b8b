// vitest global setup: starts the one PostgreSQL of this test run (test/support/postgres.ts) and
// migrates a template database from which each test's fresh database is copied in milliseconds.
// It runs for every run, not only the PostgreSQL pass (MW_TEST_BACKEND=postgres), because the
// scale-out tests (several daemons, migrate-store) need PostgreSQL whatever the backend of the rest.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/connection';
import { createDatabase, startPostgres, type PostgresServer } from './postgres';

export const TEMPLATE_DATABASE = 'mw_template';

let server: PostgresServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startPostgres();
  const url = await createDatabase(server.adminUrl, TEMPLATE_DATABASE);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-pg-template-'));
  const opened = await openDatabase({ dataDir: scratch, url });
  await opened.close();
  fs.rmSync(scratch, { recursive: true, force: true });
  project.provide('pgAdminUrl', server.adminUrl);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}
