import { defineConfig } from 'vitest/config';

// Tests start real servers (Dovecot, SMTP sinks, the daemon), and files run in separate
// processes so a crashed server never leaks into another file. The timeouts are bounds for a
// 2-core machine whose other core is busy (the suite must pass there too), not expectations:
// a passing test ends as soon as what it waits for has happened. test/support/setup.ts kills
// every process a file started once the file is over, also after a timeout.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    globalSetup: ['test/support/pg-global.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 240_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
  },
});
