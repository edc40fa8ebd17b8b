// The content fingerprint that makes "the same message" recognisable across boxes and
// deliveries: SHA-256 over the header fields minus those each delivery adds (Received,
// Delivered-To, Return-Path…) plus the body with line endings normalised. The same mail
// delivered to two boxes differs in exactly those trace headers and, over IMAP versus LMTP, in
// line endings; its fingerprint does not. Everything the sender wrote, Message-ID included,
// still counts, so two different messages never share one.
//
// The body hash alone (same normalising) says whether a message that carries one of our own
// Message-IDs is a copy of what we sent: relays and the receiving side add header fields of their
// own (DKIM-Signature, Authentication-Results, spam scores), but a copy's body is ours byte for byte.
import crypto from 'node:crypto';
import { locateHead, logicalLines, type HeadInfo } from './header-block.js';
import type { RawSource } from './raw-source.js';

const TRACE_FIELDS = new Set([
  'received',
  'return-path',
  'delivered-to',
  'x-original-to',
  'x-delivered-to',
  'envelope-to',
  'x-envelope-to',
  'x-envelope-from',
  'x-rcpt-to',
  'x-original-recipient',
]);

export interface ContentHashes {
  /** header fields without trace fields, and the body: the same message whatever delivered it */
  fingerprint: string;
  /** the body alone: what a copy of our own mail shares with the outbox row (see accept.ts) */
  bodySha256: string;
}

export async function contentFingerprint(source: RawSource, head: HeadInfo): Promise<ContentHashes> {
  const hash = crypto.createHash('sha256');
  const bodyHash = crypto.createHash('sha256');
  // Every header line counts, fields or junk, except the trace fields deliveries add.
  for (const line of logicalLines(head.block)) {
    const text = line.toString('latin1');
    const colon = text.indexOf(':');
    if (colon > 0 && TRACE_FIELDS.has(text.slice(0, colon).trim().toLowerCase())) continue;
    hash.update(`${text.replace(/\s+/g, ' ').trim()}\n`);
  }
  hash.update('\n');
  const both = new BodyNormaliser((chunk) => {
    hash.update(chunk);
    bodyHash.update(chunk);
  });
  if (head.bodyOffset < head.size) await hashBody(source, head.bodyOffset, head.size, both);
  return { fingerprint: hash.digest('hex'), bodySha256: bodyHash.digest('hex') };
}

/** The body hash of a message held in memory (a frozen outbox row), by the same rule as contentFingerprint. */
export function bodySha256Of(mime: Buffer): string {
  const head = locateHead(mime, mime.length, mime.length);
  const hash = crypto.createHash('sha256');
  if (head.bodyOffset < mime.length) new BodyNormaliser((chunk) => hash.update(chunk)).write(mime.subarray(head.bodyOffset));
  return hash.digest('hex');
}

const READ_CHUNK = 256 * 1024;

/** Feeds the body a chunk at a time; the normaliser and the hash consume each chunk before the next. */
async function hashBody(source: RawSource, start: number, end: number, body: BodyNormaliser): Promise<void> {
  await source.eachChunk(start, end, READ_CHUNK, (chunk) => body.write(chunk));
}

/**
 * Streams bytes with CRLF and lone CR turned into LF and trailing line breaks dropped, so CRLF
 * (IMAP), LF (Maildir) and CR-only copies of one body hash alike.
 */
class BodyNormaliser {
  private pendingCr = false;
  private heldNewlines = 0;

  constructor(private readonly emit: (chunk: Buffer) => void) {}

  write(chunk: Buffer): void {
    let seg = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (c !== 0x0a && c !== 0x0d) {
        this.pendingCr = false;
        continue;
      }
      if (i > seg) this.text(chunk.subarray(seg, i));
      seg = i + 1;
      if (c === 0x0a && this.pendingCr) {
        // CRLF: the CR already counted as the line break
        this.pendingCr = false;
        continue;
      }
      this.pendingCr = c === 0x0d;
      this.heldNewlines++;
    }
    if (chunk.length > seg) this.text(chunk.subarray(seg));
  }

  private text(bytes: Buffer): void {
    if (this.heldNewlines > 0) {
      this.emit(Buffer.alloc(this.heldNewlines, 0x0a));
      this.heldNewlines = 0;
    }
    this.emit(bytes);
  }
}
