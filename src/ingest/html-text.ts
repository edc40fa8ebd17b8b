// The case text of a mail that has only an HTML part. html-to-text parses the HTML properly
// (htmlparser2) instead of regexes: script, style and head never reach the text, entities are
// decoded, tables come out as aligned rows, and a link keeps its address next to its words
// because a customer's link is often the point of the mail. The raw file keeps the real HTML.
// mailparser's own conversion is turned off (skipHtmlToText) so these options are the only ones.
import { convert, type HtmlToTextOptions } from 'html-to-text';

/** As mailparser's maxHtmlLengthToParse: HTML beyond this is not rendered. */
export const MAX_HTML_CHARS = 2 * 1024 * 1024;
/** Deeper nesting is refused: htmlparser2 is quadratic in it (200k nested tags take minutes). */
const MAX_NESTING = 1000;

const OPTIONS: HtmlToTextOptions = {
  // The text is stored and shown as the customer wrote it; terminals and mail clients wrap.
  wordwrap: false,
  limits: { maxInputLength: MAX_HTML_CHARS, maxDepth: MAX_NESTING },
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    // Inline images are attachments of the case already; their cid: addresses are noise here.
    { selector: 'img', format: 'skip' },
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
  ],
};

/** Readable plain text for an HTML body; '' for none, for too much and for pathological nesting. */
export function htmlToPlain(html: string): string {
  if (!html || html.length > MAX_HTML_CHARS || nestsDeeperThan(html, MAX_NESTING)) return '';
  return convert(html, OPTIONS)
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Elements that never hold content, or that the next sibling closes: they open no level. */
const NO_LEVEL = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
  'p',
  'li',
  'dt',
  'dd',
  'option',
  'tr',
  'td',
  'th',
  'thead',
  'tbody',
  'tfoot',
]);

/** One linear pass over the tags (a guard only: the rendering itself is html-to-text's). */
function nestsDeeperThan(html: string, limit: number): boolean {
  let depth = 0;
  for (const m of html.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*?(\/?)>/g)) {
    if (NO_LEVEL.has(m[2]!.toLowerCase()) || m[3]) continue;
    depth = m[1] ? Math.max(0, depth - 1) : depth + 1;
    if (depth > limit) return true;
  }
  return false;
}
