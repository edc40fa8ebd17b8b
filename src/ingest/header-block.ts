// Reads the top header block of a raw message straight from its bytes, without a MIME parser:
// where the headers end, which line endings the file uses, and the raw (undecoded) fields. This
// works on mail a parser refuses (no blank line, CR-only line endings, a 2 MB header), so even
// unparsed mail gets a sender, a subject and a Message-ID where they can be read.
import type { RawSource } from './raw-source.js';

export type LineEnding = 'crlf' | 'lf' | 'cr';

export interface HeadInfo {
  /** Bytes of the header block, without the blank line that ends it. */
  block: Buffer;
  /** False when no blank line was found within the limit (and the file goes on after it). */
  complete: boolean;
  /** Offset of the first body byte in the file (after the blank line). */
  bodyOffset: number;
  /** Offset where the header block starts: past a leading mbox "From " line, if any. */
  startOffset: number;
  lineEnding: LineEnding;
  size: number;
}

export interface RawField {
  /** lower case */
  name: string;
  /** unfolded, trimmed, decoded as UTF-8 when valid, else Latin-1; RFC 2047 words left as they are */
  value: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as text: UTF-8 when valid (RFC 6532 headers), Latin-1 otherwise (8-bit junk). */
function bytesToText(buf: Buffer): string {
  try {
    return utf8.decode(buf);
  } catch {
    return buf.toString('latin1');
  }
}

export async function readHead(source: RawSource, maxHeaderBytes: number): Promise<HeadInfo> {
  const size = await source.size();
  // Room for an mbox "From " line and the blank line after a block of exactly the limit.
  return locateHead(await source.read(0, Math.min(size, maxHeaderBytes + 4096)), size, maxHeaderBytes);
}

function detectLineEnding(buf: Buffer): LineEnding {
  const cr = buf.indexOf(0x0d);
  const lf = buf.indexOf(0x0a);
  if (cr >= 0 && (lf < 0 || cr < lf)) return buf[cr + 1] === 0x0a ? 'crlf' : 'cr';
  return 'lf';
}

/** Finds the header block in the first bytes of a message of `size` bytes. */
export function locateHead(buf: Buffer, size: number, maxHeaderBytes: number): HeadInfo {
  const lineEnding = detectLineEnding(buf);
  let start = 0;
  if (buf.subarray(0, 5).toString('latin1') === 'From ') {
    const end = nextLineEnd(buf, 0);
    start = end.next;
  }
  let pos = start;
  while (pos < buf.length) {
    const end = nextLineEnd(buf, pos);
    if (end.at === pos) {
      // an empty line: the header block ends here
      const block = buf.subarray(start, pos);
      return { block, complete: block.length <= maxHeaderBytes, bodyOffset: end.next, startOffset: start, lineEnding, size };
    }
    if (end.at === buf.length && end.next === buf.length) break;
    pos = end.next;
  }
  // No blank line in what was read: a header-only message if that was the whole file.
  const whole = buf.length >= size;
  const block = buf.subarray(start, whole ? buf.length : Math.min(buf.length, start + maxHeaderBytes));
  return { block, complete: whole && block.length <= maxHeaderBytes, bodyOffset: whole ? size : start + block.length, startOffset: start, lineEnding, size };
}

/** Where the line starting at `pos` ends (`at`) and the next begins (`next`); any of CRLF, LF, CR. */
function nextLineEnd(buf: Buffer, pos: number): { at: number; next: number } {
  for (let i = pos; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x0a) return { at: i, next: i + 1 };
    if (c === 0x0d) return { at: i, next: buf[i + 1] === 0x0a ? i + 2 : i + 1 };
  }
  return { at: buf.length, next: buf.length };
}

/** The header block's logical lines: each physical line with its continuation lines joined by a space. */
export function logicalLines(block: Buffer): Buffer[] {
  const out: Buffer[][] = [];
  let pos = 0;
  while (pos < block.length) {
    const end = nextLineEnd(block, pos);
    const line = block.subarray(pos, end.at);
    pos = end.next;
    if (line.length === 0) continue;
    const last = out[out.length - 1];
    if ((line[0] === 0x20 || line[0] === 0x09) && last) last.push(Buffer.from(' '), line);
    else out.push([line]);
  }
  return out.map((parts) => Buffer.concat(parts));
}

/** Splits a header block into fields (continuation lines unfolded); lines that are not fields are skipped. */
export function parseFields(block: Buffer): RawField[] {
  const fields: RawField[] = [];
  for (const line of logicalLines(block)) {
    const colon = line.indexOf(0x3a);
    if (colon <= 0) continue;
    const name = line.subarray(0, colon).toString('latin1').trim().toLowerCase();
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) continue;
    fields.push({
      name,
      value: bytesToText(line.subarray(colon + 1))
        .replace(/\s+/g, ' ')
        .trim(),
    });
  }
  return fields;
}

/** First occurrence of each field, by lower-case name (the InboundFacts shape). */
export function firstValues(fields: RawField[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) if (!(f.name in out)) out[f.name] = f.value;
  return out;
}

/** Every value of one field, in order. */
export function allValues(fields: RawField[], name: string): string[] {
  return fields.filter((f) => f.name === name).map((f) => f.value);
}

/** `<id>` tokens in a header value; a bare id without brackets is bracketed. */
export function messageIdsIn(value: string | undefined | null): string[] {
  if (!value) return [];
  const ids = value.match(/<[^<>\s]{1,900}>/g);
  if (ids) return ids;
  const bare = value.trim();
  return bare && !/\s/.test(bare) && bare.length <= 900 && bare.includes('@') ? [`<${bare}>`] : [];
}
