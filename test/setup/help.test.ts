// Every command's --help has a one-line purpose and an example (issue 7).
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main';
import { runCli } from '../support/cli';

function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((sub) => {
    const here = [...prefix, sub.name()];
    return sub.commands.length > 0 ? commandPaths(sub, here) : [here];
  });
}

describe('help texts', () => {
  it('every command has a one-line description and an Example', async () => {
    const paths = commandPaths(buildProgram()).filter((p) => p[p.length - 1] !== 'help');
    expect(paths.length).toBeGreaterThanOrEqual(15);
    const results = await Promise.all(paths.map((p) => runCli([...p, '--help']).then((r) => ({ p, r }))));
    for (const { p, r } of results) {
      expect(r.code, p.join(' ')).toBe(0);
      expect(r.stdout, `${p.join(' ')} --help lacks a description`).toMatch(/^Usage: mailwarden .*\n\n\S/);
      expect(r.stdout, `${p.join(' ')} --help lacks an example`).toMatch(/Examples?:\n {2}mailwarden /);
    }
  }, 300_000);
});
