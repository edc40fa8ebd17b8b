// Runs in every test file's worker before its tests (vitest setupFiles). The root afterAll runs
// after the file's own hooks, also when a test failed or timed out: it kills every process the
// file started (test/support/processes.ts) and waits until each process group is gone, then
// refuses new ones, so nothing a test started outlives its file.
import { afterAll } from 'vitest';
import { closeSpawning, reapAll } from './processes';

afterAll(async () => {
  closeSpawning();
  await reapAll();
});
