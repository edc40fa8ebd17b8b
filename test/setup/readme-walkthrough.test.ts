// Runs the README's "A consultant's day" against fresh demo data, block by block in one shell,
// and checks that each block prints exactly what the README shows after it (times masked), so the
// walkthrough cannot rot. Also checks `demo --once` produced the cases and files it claims.
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, BIN, REPO_ROOT } from '../support/cli';
import { makeTempDir, removeTempDir } from '../support/tmp';
import { runOwned } from '../support/processes';
import { bound } from '../support/wait';

let dir: string;
let demoOut: string;
beforeAll(async () => {
  dir = await makeTempDir('mw-walk-');
  fs.symlinkSync(path.dirname(BIN), path.join(dir, 'bin'));
  const r = await runCli(['demo', '--once'], { cwd: dir, timeoutMs: 60_000 });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  demoOut = r.stdout;
}, 300_000);
afterAll(async () => removeTempDir(dir));

interface Block {
  lang: string;
  body: string;
}

function walkthroughBlocks(): Block[] {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = /## A consultant's day\n([\s\S]*?)\n## /.exec(readme);
  if (!section) throw new Error('README has no "## A consultant\'s day" section');
  return [...section[1]!.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

const mask = (text: string) =>
  text
    .split('\n')
    .map((l) =>
      l
        .replace(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}/g, '<time>')
        .replace(/<mw\.[0-9a-f]{32}@/g, '<mw.<random>@')
        .trimEnd(),
    )
    .filter((l) => l.trim() !== '');

describe('mailwarden demo --once', () => {
  it('opened the cases and wrote the auto-response files it reports', async () => {
    expect(demoOut).toMatch(/Cases opened: 4/);
    const files = [...demoOut.matchAll(/: (demo\/outbox\/\S+\.eml)/g)].map((m) => m[1]!);
    expect(files).toHaveLength(3);
    for (const f of files) {
      const eml = await simpleParser(fs.readFileSync(path.join(dir, f)));
      expect(eml.headers.get('auto-submitted')).toBe('auto-replied');
      expect(eml.subject).toMatch(/^\[ACME-00000\d\] /);
    }
    expect(demoOut).toMatch(/ACME-000004 {2}none: automatic reply/);
    // the thread: Jan's second mail is on his first case
    expect(demoOut).toMatch(/ACME-000001 {2}cards pl normal {2}2 msg/);
  });
});

describe('README walkthrough', () => {
  it('prints what the README shows, block by block', async () => {
    const blocks = walkthroughBlocks();
    const pairs: Array<{ script: string; expected: string | null }> = [];
    blocks.forEach((b, i) => {
      if (b.lang !== 'sh') return;
      const next = blocks[i + 1];
      pairs.push({ script: b.body, expected: next && next.lang === 'text' ? next.body : null });
    });
    expect(pairs.length).toBeGreaterThanOrEqual(5);
    // One stream, so each block's errors stay next to its output (the README shows them there).
    const script = ['exec 2>&1', ...pairs.map((p, i) => `${p.script}\necho "@@block ${i} done@@"`)].join('\n');
    const r = await runOwned('bash', ['-c', script], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', MAILWARDEN_CONFIG: '', MAILWARDEN_AS: '' },
      timeoutMs: bound(120_000),
      what: 'the README walkthrough',
    });
    const parts = r.stdout.split(/@@block \d+ done@@\n?/);
    expect(parts.length - 1, `all blocks ran; output:\n${r.stdout}`).toBe(pairs.length);
    pairs.forEach((p, i) => {
      // The whole output, line for line: a line the README leaves out is as wrong as a missing one.
      expect(mask(parts[i]!), `block ${i + 1} of the walkthrough printed:\n${parts[i]}`).toEqual(mask(p.expected ?? ''));
    });
  }, 300_000);
});
