// Writing a reply in $EDITOR, like `git commit`: the file starts empty above the thread, which is
// quoted as comment lines. Comment lines are `#` followed by a space (or a bare `#`), so a snippet
// code typed at the start of a line (`#hello`) is kept.
import type { CaseDetail } from './queries.js';

const COMMENT_PREFIX = '# ';

/** True for the lines the editor template adds and the reply drops. */
export function isCommentLine(line: string): boolean {
  return line === '#' || line.startsWith(COMMENT_PREFIX);
}

export function stripComments(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .filter((l) => !isCommentLine(l))
    .join('\n')
    .trim();
}

function quote(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .trimEnd()
    .split('\n')
    .map((l) => (l ? `${COMMENT_PREFIX}${l}` : '#'));
}

/** The initial editor file: an empty line to write on, then instructions and the thread, newest first. */
export function editorTemplate(detail: CaseDetail, opts: { snippetCodes: string[] }): string {
  const c = detail.case;
  const lines = [
    '',
    '# Write your reply to the customer above. Lines starting with "# " are left out;',
    "# an empty reply aborts. Snippet codes expand in the case's language, e.g. #" + (opts.snippetCodes[0] ?? 'code') + '.',
    opts.snippetCodes.length ? `# Snippets: ${opts.snippetCodes.map((s) => `#${s}`).join(' ')}` : '#',
    '#',
    `# Case ${c.id} · ${c.status} · ${c.customer.name ? `${c.customer.name} <${c.customer.address}>` : c.customer.address}`,
    `# Subject: ${c.subject}`,
    '#',
  ];
  const thread = detail.messages
    .filter((m) => m.kind !== 'notification')
    .slice()
    .reverse();
  for (const m of thread) {
    const who = m.kind === 'inbound' ? 'customer' : m.kind === 'comment' ? 'internal comment' : m.kind.replace('_', '-');
    lines.push(`# ---- ${who} · ${m.from ?? '-'} · ${m.at}`);
    lines.push(...quote(m.text));
    lines.push('#');
  }
  return lines.join('\n') + '\n';
}
