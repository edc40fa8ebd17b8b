// Snippets: reply templates with short codes, organised in a tree, one text per language.
// `#code` in a reply expands to the snippet in the case's language (SPEC §5).
import type { Config, SnippetNode } from '../config/types.js';
import { usageError } from '../errors.js';

export interface SnippetLeaf {
  code: string;
  title: string;
  /** Titles of the folders above it, root first. */
  path: string[];
  text: Record<string, string>;
}

export interface SnippetTreeNode {
  title: string;
  code?: string;
  languages?: string[];
  text?: Record<string, string>;
  children?: SnippetTreeNode[];
}

export function snippetLeaves(nodes: SnippetNode[], path: string[] = []): SnippetLeaf[] {
  const out: SnippetLeaf[] = [];
  for (const n of nodes) {
    if (n.code && n.text) out.push({ code: n.code, title: n.title, path, text: n.text });
    if (n.children) out.push(...snippetLeaves(n.children, [...path, n.title]));
  }
  return out;
}

/** The tree as `snippets --json` prints it: each leaf with its code and languages. */
export function snippetTree(nodes: SnippetNode[]): SnippetTreeNode[] {
  return nodes.map((n) => ({
    title: n.title,
    ...(n.code ? { code: n.code } : {}),
    ...(n.text ? { languages: Object.keys(n.text), text: n.text } : {}),
    ...(n.children ? { children: snippetTree(n.children) } : {}),
  }));
}

// A code is a word after `#` that is not glued to a word before it ("C#" or "a#b" are not codes).
// The optional second `#` is the escape: `##word` is written as `#word` and never expanded.
const CODE_RE = /(^|[^\p{L}\p{N}_&#/])(#?)#([\p{L}\p{N}][\p{L}\p{N}_-]*)/gu;

/**
 * Whether an unknown `#word` is an ordinary reference rather than a mistyped code: references
 * such as `#A1234`, `#12` or `#INC-7` carry a digit, snippet codes are words. A mistyped code
 * must be refused (nothing half-expanded is sent), a reference must pass untouched (SPEC §5).
 */
function isReference(word: string): boolean {
  return /\p{N}/u.test(word);
}

export interface SnippetUse {
  code: string;
  language: string;
}

export interface Expanded {
  text: string;
  uses: SnippetUse[];
}

/**
 * Replaces every `#code` with the snippet's text in `language`, else in the pool's first
 * language, else in the first language the snippet has. An unknown code is an error naming it,
 * so nothing half-expanded is ever sent; references with a digit and `##word` pass as text.
 */
export function expandSnippets(config: Config, text: string, opts: { language: string | null; poolId: string }): Expanded {
  const byCode = new Map(snippetLeaves(config.snippets).map((s) => [s.code.toLowerCase(), s]));
  const poolFirst = config.pools.find((p) => p.id === opts.poolId)?.languages[0] ?? null;
  const unknown: string[] = [];
  const uses: SnippetUse[] = [];
  const out = text.replace(CODE_RE, (all, before: string, escaped: string, code: string) => {
    if (escaped) return `${before}#${code}`;
    const leaf = byCode.get(code.toLowerCase());
    if (!leaf) {
      if (!isReference(code)) unknown.push(code);
      return all;
    }
    const language = [opts.language, poolFirst, ...Object.keys(leaf.text)].find((l): l is string => !!l && leaf.text[l] !== undefined)!;
    uses.push({ code: leaf.code, language });
    return before + leaf.text[language]!;
  });
  if (unknown.length > 0) {
    const names = [...new Set(unknown)].map((c) => `#${c}`).join(', ');
    const known = [...byCode.values()].map((s) => `#${s.code}`).join(', ') || 'none';
    const literal = `#${unknown[0]!}`;
    throw usageError('EUNKNOWNSNIPPET', `Unknown snippet code ${names}; nothing was sent (known: ${known}; write #${literal} to send ${literal} as it is).`);
  }
  return { text: out, uses };
}
