// The daemon's young generation stays at V8's starting size (src/daemon/young-generation.ts,
// issue 18's idle memory). The setting is a V8 flag changed after start, which a Node upgrade
// could stop honouring: this runs the compiled module in a fresh node next to one without it,
// both keeping many objects alive through scavenges (as start-up does), and compares the spaces.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli';
import { runOwned } from '../support/processes';

const MODULE = path.join(REPO_ROOT, 'dist', 'daemon', 'young-generation.js');

// Survivors of every scavenge, then the young generation's committed size in MB.
const PROGRAM = (setting: string) => `
  const v8 = await import('node:v8');
  const { keepYoungGenerationSmall } = await import(${JSON.stringify(MODULE)});
  ${setting}
  const kept = [];
  for (let i = 0; i < 400000; i++) kept.push({ i, text: 'x'.repeat(i % 64) });
  const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  process.stdout.write(JSON.stringify({ mb: space.space_size / 1048576, kept: kept.length }));
`;

async function youngGenerationMb(setting: string, env: Record<string, string> = {}): Promise<number> {
  const r = await runOwned(process.execPath, ['--input-type=module', '-e', PROGRAM(setting)], { env: { ...process.env, ...env }, timeoutMs: 30_000 });
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout) as { mb: number; kept: number };
  expect(out.kept).toBe(400000);
  return out.mb;
}

describe('the daemon’s young generation', () => {
  it('stays at V8’s starting size where it would otherwise grow', async () => {
    const grown = await youngGenerationMb('');
    const kept = await youngGenerationMb('keepYoungGenerationSmall();');
    expect(grown).toBeGreaterThanOrEqual(4);
    expect(kept).toBeLessThanOrEqual(2);
  });

  it('is left to V8 with MAILWARDEN_YOUNG_GROWTH=default', async () => {
    const mb = await youngGenerationMb('keepYoungGenerationSmall();', { MAILWARDEN_YOUNG_GROWTH: 'default' });
    expect(mb).toBeGreaterThanOrEqual(4);
  });
});
