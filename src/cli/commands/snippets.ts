// `mailwarden snippets`: the snippet tree with codes and languages.
import type { Command } from 'commander';
import type { SnippetTreeNode } from '../../cases/snippets.js';
import { withApp, type GlobalOptions } from '../app.js';
import { paint, printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('snippets')
    .description('list the reply snippets as a tree, with their #codes and languages')
    .option('--json', 'print the tree: [{title, code?, languages?, text?, children?}]')
    .addHelpText('after', '\nExample:\n  mailwarden snippets')
    .action(
      action(async (opts: { json?: boolean }) => {
        const { snippetTree } = await import('../../cases/snippets.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config }) => {
          const tree = snippetTree(config.snippets);
          if (opts.json) return printJson(tree);
          if (tree.length === 0) return printLine('No snippets are configured.');
          printLine(formatTree(tree).join('\n'));
        });
      }),
    );
}

function formatTree(nodes: SnippetTreeNode[], indent = ''): string[] {
  const lines: string[] = [];
  for (const n of nodes) {
    if (n.code) {
      const first = n.text ? (Object.values(n.text)[0] ?? '') : '';
      const preview = first.length > 50 ? first.slice(0, 49) + '…' : first;
      lines.push(`${indent}${paint('bold', `#${n.code}`)}  ${n.title}  [${(n.languages ?? []).join(', ')}]  ${paint('grey', preview.replace(/\s+/g, ' '))}`);
    } else {
      lines.push(`${indent}${n.title}/`);
    }
    if (n.children) lines.push(...formatTree(n.children, indent + '  '));
  }
  return lines;
}
