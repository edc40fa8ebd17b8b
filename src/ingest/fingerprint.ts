// The content fingerprint that makes "the same message" recognisable across boxes and
// deliveries: SHA-256 over the header fields minus those each delivery adds (Received,
// Delivered-To, Return-Path…) plus the body with line endings normalised. The same mail
// delivered to two boxes differs in exactly those trace headers and, over IMAP versus LMTP, in
// line endings; its fingerprint does not. Everything the sender wrote, Message-ID included,
// still counts, so two different messages never share one.
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import { logicalLines, type HeadInfo } from './header-block.js';

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

export async function contentFingerprint(file: string, head: HeadInfo): Promise<string> {
  const hash = crypto.createHash('sha256');
  // Every header line counts, fields or junk, except the trace fields deliveries add.
  for (const line of logicalLines(head.block)) {
    const text = line.toString('latin1');
    const colon = text.indexOf(':');
    if (colon > 0 && TRACE_FIELDS.has(text.slice(0, colon).trim().toLowerCase())) continue;
    hash.update(`${text.replace(/\s+/g, ' ').trim()}\n`);
  }
  hash.update('\n');
  if (head.bodyOffset < head.size) await hashBody(file, head.bodyOffset, new BodyNormaliser((chunk) => hash.update(chunk)));
  return hash.digest('hex');
}

const READ_CHUNK = 256 * 1024;

/**
 * Feeds the body through one reused buffer: the normaliser and the hash consume each chunk before
 * the next read, so a 50 MB body costs 256 KB instead of 50 MB of short-lived Buffers, which V8
 * would only collect after tens of megabytes of them had raised the process's RSS.
 */
async function hashBody(file: string, start: number, body: BodyNormaliser): Promise<void> {
  const handle = await fsp.open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    let position = start;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, position);
      if (bytesRead === 0) break;
      body.write(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
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
