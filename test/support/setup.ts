// Runs in every test file's worker before its tests (vitest setupFiles). The root afterAll runs
// after the file's own hooks, also when a test failed or timed out: it kills every process the
// file started (test/support/processes.ts) and waits until each process group is gone, then
// refuses new ones, so nothing a test started outlives its file; then it removes the temporary
// directories the file made (test/support/tmp.ts), which no process can be writing any more.
import { afterAll } from 'vitest';
import { closeSpawning, reapAll } from './processes';
import { removeTempDirsMade } from './tmp';

afterAll(async () => {
  closeSpawning();
  await reapAll();
  await removeTempDirsMade();
});
