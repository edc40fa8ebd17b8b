// Parses one raw message (its file, or its bytes in memory: raw-source.ts) with mailparser's
// streaming MailParser, within limits: a message over max_message_size gets only its headers read
// (flag `oversize`); a header block over max_header_bytes is not parsed at all (flag `unparsed`);
// parsing stops after max_parts MIME parts (flag `truncated`). Attachments stream to data/blobs,
// so a 50 MB attachment costs disk, not memory. Any parser failure ends in an `unparsed` result,
// never in a throw: the message is kept raw and still becomes a case. Runs inside the parser
// thread (parse-worker.ts), which is also where the text's language scores are computed
// (language-scores.ts).
import { Readable, Transform } from 'node:stream';
import { MailParser, type AddressObject, type AttachmentStream, type Headers, type MessageText } from 'mailparser';
import { storeBlob } from '../db/stored-files.js';
import { contentFingerprint, type ContentHashes } from './fingerprint.js';
import { htmlToPlain, MAX_HTML_CHARS } from './html-text.js';
import { languageScores } from './language-scores.js';
import { allValues, firstValues, messageIdsIn, parseFields, readHead, type HeadInfo, type RawField } from './header-block.js';
import { cleanAddress, cleanLine, cleanText, type Address, type AttachmentInfo, type ParsedMessage } from './message.js';
import { looksLikeReport, scanReport } from './quoted-ids.js';
import { fileSource, memorySource, type RawSource } from './raw-source.js';

export interface ParseLimits {
  maxMessageSize: number;
  maxParts: number;
  maxHeaderBytes: number;
}

export interface ParseJob {
  /** the stored raw file (named in logs; read when `bytes` is not given) */
  file: string;
  /** the same bytes, when the caller still holds them: parsed from memory, the file is not read */
  bytes?: Uint8Array;
  /** where attachments are stored: the files root of src/db/content-store.ts (the data dir or storage.directory) */
  dataDir: string;
  limits: ParseLimits;
}

/** Text kept in the database per message; the raw file always has all of it. */
const MAX_TEXT_CHARS = 2_000_000;

interface Decoded {
  headers: Headers | null;
  text: string;
  html: string;
  attachments: AttachmentInfo[];
  problem: string | null;
  truncated: boolean;
}

export async function parseMessageFile(job: ParseJob): Promise<ParsedMessage> {
  const result = await readMessage(job);
  return { ...result, languageScores: await languageScores(result.subject, result.text) };
}

function sourceOf(job: ParseJob): RawSource {
  return job.bytes ? memorySource(job.bytes) : fileSource(job.file);
}

async function readMessage(job: ParseJob): Promise<ParsedMessage> {
  const { limits } = job;
  const source = sourceOf(job);
  const head = await readHead(source, limits.maxHeaderBytes);
  const fields = parseFields(head.block);
  const base = fromRawFields(fields, head.size, await contentFingerprint(source, head));
  if (looksLikeReport(base.headers)) {
    const report = await scanReport(source, Math.min(head.size, 10 * 1024 * 1024));
    base.quotedMessageIds = report.messageIds;
    base.reportActions = report.actions;
  }

  if (!head.complete) {
    return unparsed(base, `header block larger than ${limits.maxHeaderBytes} bytes (or no end of headers)`);
  }
  if (head.size > limits.maxMessageSize) {
    // Headers only: enough for sender, subject and threading, at no cost for the body.
    const decoded = await decode(Readable.from([head.block, Buffer.from('\n\n')]), job, head);
    const result = merge(base, decoded);
    return {
      ...result,
      status: 'oversize',
      flags: ['oversize'],
      problem: `message of ${head.size} bytes is over max_message_size (${limits.maxMessageSize})`,
      text: '',
      attachments: [],
    };
  }
  const body = source.stream(head.startOffset);
  const decoded = await decode(head.lineEnding === 'cr' ? body.pipe(crToLf()) : body, job, head);
  if (!decoded.headers) return unparsed(base, decoded.problem ?? 'no headers could be parsed');
  const result = merge(base, decoded);
  if (decoded.truncated) return { ...result, flags: ['truncated'], problem: decoded.problem };
  if (decoded.problem) return { ...result, status: 'unparsed', flags: ['unparsed'], problem: decoded.problem };
  if (isBlank(result.text) && result.attachments.length === 0) {
    // The parser found structure but no readable part (a multipart without a boundary, a charset
    // nobody knows, base64 that is not): show the consultant the raw body rather than nothing,
    // and flag it, so an empty case is never mistaken for an empty mail.
    const raw = await rawBody(source, head);
    if (!isBlank(raw)) {
      return { ...result, status: 'unparsed', flags: ['unparsed'], problem: 'the body could not be decoded into text; it is shown as it arrived', text: raw };
    }
  }
  return result;
}

function isBlank(text: string): boolean {
  return text.trim() === '';
}

/** The body's bytes as text (UTF-8 where valid), at most MAX_TEXT_CHARS of them. */
async function rawBody(source: RawSource, head: HeadInfo): Promise<string> {
  const length = Math.min(Math.max(0, head.size - head.bodyOffset), MAX_TEXT_CHARS);
  if (length === 0) return '';
  return cleanText((await source.read(head.bodyOffset, length)).toString('utf8'), MAX_TEXT_CHARS).text;
}

/** The raw-header reading only, flagged `unparsed` (when the parser thread crashed or timed out). */
export async function fingerprintOnly(job: ParseJob, problem: string): Promise<ParsedMessage> {
  const source = sourceOf(job);
  const head = await readHead(source, job.limits.maxHeaderBytes);
  const fields = parseFields(head.block);
  const base = fromRawFields(fields, head.size, await contentFingerprint(source, head));
  return unparsed(base, problem);
}

/** What the raw header block alone says: the fallback for everything the decoder cannot give. */
function fromRawFields(fields: RawField[], size: number, hashes: ContentHashes): ParsedMessage {
  const headers = firstValues(fields);
  const from = rawAddress(headers['from']) ?? rawAddress(headers['sender']);
  const references = allValues(fields, 'references').flatMap(messageIdsIn);
  const date = headers['date'] ? Date.parse(headers['date']) : NaN;
  return {
    status: 'parsed',
    flags: [],
    problem: null,
    size,
    fingerprint: hashes.fingerprint,
    bodySha256: hashes.bodySha256,
    headers,
    messageId: messageIdsIn(headers['message-id'])[0] ?? null,
    inReplyTo: messageIdsIn(headers['in-reply-to'])[0] ?? null,
    references: dedupe(references).slice(-100),
    from,
    replyTo: rawAddress(headers['reply-to']),
    to: [],
    cc: [],
    subject: cleanLine(headers['subject']),
    date: Number.isNaN(date) ? null : new Date(date).toISOString(),
    contentType: cleanLine(headers['content-type'], 200).split(';')[0]!.toLowerCase() || 'text/plain',
    contentLanguage: languageTag(headers['content-language']),
    // Filled in by parseMessageFile; the raw-header fallback runs outside the parser thread and
    // leaves it empty (the case then gets its pool's first language).
    languageScores: {},
    text: '',
    attachments: [],
    quotedMessageIds: [],
    reportActions: [],
    authResults: allValues(fields, 'authentication-results')
      .slice(0, 20)
      .map((v) => cleanLine(v, 2000)),
    deliveredTo: [...allValues(fields, 'delivered-to'), ...allValues(fields, 'x-original-to')].slice(0, 20).map((v) => cleanLine(v, 320).toLowerCase()),
  };
}

function unparsed(base: ParsedMessage, problem: string): ParsedMessage {
  return { ...base, status: 'unparsed', flags: ['unparsed'], problem };
}

/** Decoded values win over raw ones where the decoder produced them. */
function merge(base: ParsedMessage, d: Decoded): ParsedMessage {
  const h = d.headers;
  if (!h) return base;
  const decodedFrom = addresses(h.get('from'))[0];
  const from = decodedFrom && !(decodedFrom.name ?? '').includes('\ufffd') ? decodedFrom : (base.from ?? decodedFrom ?? null);
  const decodedSubject = typeof h.get('subject') === 'string' ? cleanLine(h.get('subject')) : base.subject;
  // Raw 8-bit Latin-1 headers come out of the decoder as U+FFFD; the raw reading has them right.
  const subject = decodedSubject.includes('\ufffd') && !base.subject.includes('=?') && !base.subject.includes('\ufffd') ? base.subject : decodedSubject;
  const body = cleanText(d.text || htmlToPlain(d.html), MAX_TEXT_CHARS);
  return {
    ...base,
    from,
    replyTo: addresses(h.get('reply-to'))[0] ?? base.replyTo,
    to: addresses(h.get('to')).slice(0, 200),
    cc: addresses(h.get('cc')).slice(0, 200),
    subject,
    text: body.text,
    attachments: d.attachments,
    flags: body.cut ? ['truncated'] : [],
  };
}

/**
 * The Date line of a forwarded message's header block in the text. mailparser puts the time of
 * the parse in place of a Date it cannot read (`JST`, say), which would make the text differ from
 * one parse of the same bytes to the next (reprocess, quarantine release): a date from inside
 * this parse's own window is that stand-in, and is shown as unreadable instead.
 */
function embeddedDate(parseStarted: number): (date: Date) => string {
  return (date) => (date.getTime() >= parseStarted && date.getTime() <= Date.now() ? 'unreadable' : date.toUTCString());
}

function decode(input: Readable, job: ParseJob, head: HeadInfo): Promise<Decoded> {
  const { limits, dataDir } = job;
  const out: Decoded = { headers: null, text: '', html: '', attachments: [], problem: null, truncated: false };
  // maxHeadSize / maxChildNodes go to mailparser's splitter (mailsplit), which enforces them.
  const parser = new MailParser({
    formatDateString: embeddedDate(Date.now()),
    skipImageLinks: true,
    // The HTML-only case text is rendered by html-text.ts, with our options.
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    maxHtmlLengthToParse: MAX_HTML_CHARS,
    checksumAlgo: false,
    maxHeadSize: Math.max(limits.maxHeaderBytes, head.block.length + 1024),
    // A hard stop far past max_parts (all parts count here, multipart containers included);
    // the max_parts limit itself is applied to attachments below, where parsing can end cleanly.
    maxChildNodes: limits.maxParts * 10,
  });
  const pending = new Set<AttachmentStream>();
  const stores: Array<Promise<void>> = [];

  return new Promise<Decoded>((resolve) => {
    let settled = false;
    let stoppedInput = false;
    const finish = async (problem: string | null, truncated = false) => {
      if (settled) return;
      settled = true;
      input.unpipe(parser);
      input.destroy();
      // After a failure the parser feeds no attachment any more: end the half-written ones. On a
      // normal end the last attachment may still be on its way to disk: wait for it.
      if (problem) {
        for (const a of pending) {
          // Fully fed attachments still finish; half-fed ones never would.
          if ((a.content as Readable & { writableEnded?: boolean }).writableEnded) continue;
          a.content.on('error', () => undefined);
          a.content.destroy(new Error('parse stopped'));
        }
      }
      await Promise.allSettled(stores);
      if (out.truncated && !problem) problem = `more than max_parts (${limits.maxParts}) attachments; the rest was not kept`;
      out.problem = problem;
      out.truncated ||= truncated;
      if (problem && !out.text) salvageText(parser, out);
      resolve(out);
    };
    parser.on('headers', (headers: Headers) => {
      out.headers = headers;
    });
    parser.on('data', (data: AttachmentStream | MessageText) => {
      if (data.type === 'text') {
        out.text = data.text ?? '';
        out.html = data.html ?? '';
        return;
      }
      if (out.attachments.length + pending.size >= limits.maxParts) {
        // Past max_parts: keep nothing more and stop feeding the parser; what it already has
        // (the text included) still comes out at the end.
        out.truncated = true;
        data.content.on('error', () => undefined);
        data.content.resume();
        data.release?.();
        if (!stoppedInput) {
          stoppedInput = true;
          input.unpipe(parser);
          input.destroy();
          parser.end();
        }
        return;
      }
      pending.add(data);
      stores.push(
        saveAttachment(dataDir, data).then(
          (info) => {
            pending.delete(data);
            if (info) out.attachments.push(info);
            data.release?.();
          },
          () => {
            pending.delete(data);
            data.content.resume();
            data.release?.();
          },
        ),
      );
    });
    parser.on('end', () => void finish(null));
    parser.on('error', (err: Error & { code?: string }) => {
      const tooMany = err.code === 'EMAXLEN' && /child nodes/i.test(err.message);
      void finish(tooMany ? `more than max_parts (${limits.maxParts}) MIME parts; the rest was not parsed` : `parser error: ${err.message}`, tooMany);
    });
    input.on('error', (err) => void finish(`read error: ${err.message}`));
    input.pipe(parser);
  });
}

async function saveAttachment(dataDir: string, a: AttachmentStream): Promise<AttachmentInfo | null> {
  const stored = await storeBlob(dataDir, a.content);
  return {
    filename: a.filename ? cleanLine(a.filename, 255) : null,
    contentType: cleanLine(a.contentType, 200).toLowerCase() || 'application/octet-stream',
    size: stored.size,
    sha256: stored.sha256,
    contentId: a.contentId ? cleanLine(a.contentId, 255) : null,
    inline: a.contentDisposition === 'inline',
  };
}

/** After a failure mid-message, the text of the parts that were complete (mailparser internals). */
function salvageText(parser: MailParser, out: Decoded): void {
  try {
    const p = parser as unknown as { tree?: unknown; getTextContent?: () => MessageText };
    if (!p.tree || typeof p.getTextContent !== 'function') return;
    const t = p.getTextContent();
    out.text = t.text ?? '';
    out.html = t.html ?? '';
  } catch {
    // nothing to salvage
  }
}

function addresses(value: unknown): Address[] {
  const objects = (Array.isArray(value) ? value : value ? [value] : []) as AddressObject[];
  const result: Address[] = [];
  const walk = (list: Array<{ address?: string; name?: string; group?: unknown[] }>) => {
    for (const a of list) {
      if (Array.isArray(a.group)) walk(a.group as typeof list);
      else {
        const clean = cleanAddress(a.address, a.name);
        if (clean && clean.address.includes('@')) result.push(clean);
      }
    }
  };
  for (const o of objects) if (o && Array.isArray(o.value)) walk(o.value);
  return result;
}

/** `Name <a@b>` or `a@b (Name)` from a raw header, without MIME decoding (fallback only). */
function rawAddress(value: string | undefined): Address | null {
  if (!value) return null;
  const angle = value.match(/<\s*([^<>\s]+@[^<>\s]+)\s*>/);
  if (angle) {
    const name = value.slice(0, value.indexOf('<')).replace(/^["\s]+|["\s]+$/g, '');
    return cleanAddress(angle[1], /=\?/.test(name) ? '' : name);
  }
  const bare = value.match(/[^\s<>(),;:"]+@[^\s<>(),;:"]+/);
  return bare ? cleanAddress(bare[0]) : null;
}

function languageTag(value: string | undefined): string | null {
  const m = value?.trim().match(/^([A-Za-z]{2,3})\b/);
  return m ? m[1]!.toLowerCase() : null;
}

function dedupe<T>(list: T[]): T[] {
  return [...new Set(list)];
}

/** CR-only files (old Mac mail) as LF, so the splitter sees lines; CRLF pairs are kept. */
function crToLf(): Transform {
  let pendingCr = false;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const out = Buffer.from(chunk);
      let start = 0;
      if (pendingCr) {
        pendingCr = false;
        this.push(Buffer.from([out[0] === 0x0a ? 0x0d : 0x0a]));
      }
      for (let i = 0; i < out.length; i++) {
        if (out[i] !== 0x0d) continue;
        if (i === out.length - 1) {
          pendingCr = true;
          this.push(out.subarray(start, i));
          start = out.length;
          break;
        }
        if (out[i + 1] !== 0x0a) out[i] = 0x0a;
      }
      if (start < out.length) this.push(out.subarray(start));
      done();
    },
    flush(done) {
      if (pendingCr) this.push(Buffer.from([0x0a]));
      done();
    },
  });
}
