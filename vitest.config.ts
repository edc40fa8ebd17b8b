import { defineConfig } from 'vitest/config';

// Tests start real servers (Dovecot, SMTP sinks, the daemon): generous timeouts, and files run
// in separate processes so a crashed server never leaks into another file.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
  },
});
