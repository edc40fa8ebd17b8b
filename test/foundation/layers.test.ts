// The house's layering, checked on the source itself: no folder of src/ imports another in a
// loop (history and case ids sit in src/db, below both cases and outbound; ingest never imports
// the daemon that runs it), and SQLite's own vocabulary stays inside src/db.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli';

const SRC = path.join(REPO_ROOT, 'src');
const sources = fs
  .readdirSync(SRC, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: f, text: fs.readFileSync(path.join(SRC, f), 'utf8') }));

/** folder -> folders it imports; each top-level file (errors.ts, clock.ts…) is a node of its own. */
const node = (file: string) => (file.includes(path.sep) ? file.split(path.sep)[0]! : file.replace(/\.(ts|js)$/, ''));

function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const { file, text } of sources) {
    const from = node(file);
    for (const m of text.matchAll(/from '(\.\.?\/[^']+)'/g)) {
      const target = path.relative(SRC, path.resolve(path.join(SRC, path.dirname(file)), m[1]!));
      const to = node(target);
      if (to !== from) (graph.get(from) ?? graph.set(from, new Set()).get(from)!).add(to);
    }
  }
  return graph;
}

function findCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const walk = (node: string, trail: string[]): string[] | null => {
    if (state.get(node) === 'open') return [...trail.slice(trail.indexOf(node)), node];
    if (state.get(node) === 'done') return null;
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) {
      const cycle = walk(next, [...trail, node]);
      if (cycle) return cycle;
    }
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = walk(node, []);
    if (cycle) return cycle;
  }
  return null;
}

describe('layers of src/', () => {
  it('no folder imports another in a loop', () => {
    const graph = folderGraph();
    expect(graph.get('daemon')).toContain('ingest'); // the graph is really read
    expect(findCycle(graph)).toBeNull();
  });

  it('names SQLite error codes and the raw driver only inside src/db', () => {
    const outside = sources
      .filter(({ file, text }) => !file.startsWith(`db${path.sep}`) && /SQLITE_[A-Z]+|from 'better-sqlite3'/.test(text))
      .map((s) => s.file);
    expect(outside).toEqual([]);
  });
});
