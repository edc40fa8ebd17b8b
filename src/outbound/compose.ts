// Builds the complete RFC 5322 message with nodemailer's MailComposer, once, when the outbox row is
// written: the bytes in the outbox are the bytes that go out, whatever changes later.
// A message of one text part (every auto-response, most replies) is written out in one synchronous
// step from the composer's own tree: its header block and its own quoted-printable encoder, with
// the line ends nodemailer's output streams give it. Why: MimeNode.build() streams even that
// through a pipeline of five stream stages over three turns of the event loop, and the message is
// composed inside the accept transaction that the sender's 250 waits for (issue 18). Anything
// else (attachments, an HTML alternative) is built by nodemailer's streams. A test compares the
// two byte for byte.
import crypto from 'node:crypto';
import Handlebars from 'handlebars';
import MailComposer from 'nodemailer/lib/mail-composer';
import type MimeNode from 'nodemailer/lib/mime-node';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';
import type { Attachment, Headers } from 'nodemailer';
import type { Mailbox } from './headers.js';
import { domainOf } from './headers.js';

export interface OutgoingAttachment {
  filename: string;
  path?: string;
  content?: Buffer;
  contentType?: string;
  /** Content-ID: the part is shown inline in the HTML alternative. */
  cid?: string;
}

export interface ComposeInput {
  messageId: string;
  date: Date;
  from: Mailbox;
  to: Mailbox[];
  cc: Mailbox[];
  subject: string;
  text: string;
  inReplyTo: string | null;
  references: string[];
  /** Extra headers: values must already be safe (they come from our own code, not inbound mail). */
  headers: Record<string, string>;
  attachments: OutgoingAttachment[];
  /** Spans of `text` the HTML alternative shows as links (the mailto: choices of a rating line). */
  links?: HtmlLink[];
  /** A complete HTML alternative made by our own code (a report), used instead of the text's. */
  html?: string;
}

/** A span of the plain text that the HTML alternative turns into `<a href="href">label</a>`. */
export interface HtmlLink {
  text: string;
  href: string;
  label: string;
}

/** `<mw.{32 hex}@domain>`: 128 random bits, so nobody can guess an id to thread onto (SPEC §3). */
export function newMessageId(fromAddress: string): string {
  return `<mw.${crypto.randomBytes(16).toString('hex')}@${domainOf(fromAddress)}>`;
}

/**
 * The text as HTML (escaped by Handlebars, which renders our templates), with the inline images (the
 * footer JPEG) under it. Each link's span is escaped the same way, so it is found in the escaped text
 * exactly and replaced by an anchor: its href and label are escaped, never trusted.
 */
export function htmlWithImages(text: string, cids: string[], links: HtmlLink[] = []): string {
  const esc = Handlebars.escapeExpression;
  const images = cids.map((cid) => `<p><img src="cid:${esc(cid)}" alt=""></p>`).join('\n');
  let body = esc(text);
  for (const link of links) body = body.split(esc(link.text)).join(`<a href="${esc(link.href)}">${esc(link.label)}</a>`);
  return `<!DOCTYPE html>\n<html><body>\n<div style="white-space: pre-wrap; font-family: sans-serif">${body}</div>\n${images}\n</body></html>\n`;
}

export async function composeMessage(input: ComposeInput): Promise<Buffer> {
  const root = composerFor(input).compile();
  return singleTextPart(root) ?? root.build();
}

/** nodemailer's composer of the message (a tree of MIME nodes once compiled). */
export function composerFor(input: ComposeInput): MailComposer {
  const cids = input.attachments.map((a) => a.cid).filter((c): c is string => Boolean(c));
  const attachments: Attachment[] = input.attachments.map((a) => ({
    filename: a.filename,
    ...(a.path !== undefined ? { path: a.path } : {}),
    ...(a.content !== undefined ? { content: a.content } : {}),
    ...(a.contentType !== undefined ? { contentType: a.contentType } : {}),
    ...(a.cid !== undefined ? { cid: a.cid, contentDisposition: 'inline' } : {}),
  }));
  const headers: Headers = { ...input.headers };
  return new MailComposer({
    messageId: input.messageId,
    date: input.date,
    from: input.from,
    to: input.to,
    ...(input.cc.length > 0 ? { cc: input.cc } : {}),
    subject: input.subject,
    text: input.text,
    ...(input.html !== undefined ? { html: input.html } : cids.length > 0 ? { html: htmlWithImages(input.text, cids, input.links ?? []) } : {}),
    ...(input.inReplyTo ? { inReplyTo: input.inReplyTo } : {}),
    ...(input.references.length > 0 ? { references: input.references } : {}),
    headers,
    attachments,
    textEncoding: 'Q',
    newline: 'win',
    disableUrlAccess: true,
  });
}

/** Line length of quoted-printable text, as nodemailer's encoder stream wraps it. */
const QP_LINE_LENGTH = 76;
/**
 * The encoder stream encodes and wraps its input in slices of this many bytes; a text of one slice
 * is wrapped here exactly as there. A longer one, or one ending in blanks (which the stream holds
 * back and wraps apart), takes the streams.
 */
const QP_SLICE_BYTES = 64 * 1024;

/**
 * The message when `node` is one text part (see the top), or null for nodemailer's streams: the
 * header block, a blank line, the body in the node's transfer encoding; a line end after the last
 * line, and every line end CRLF (MimeNode's LastNewline and LeWindows stages).
 */
export function singleTextPart(node: MimeNode): Buffer | null {
  const text = node.content;
  if (node.childNodes.length > 0 || typeof text !== 'string' || Buffer.byteLength(text) > QP_SLICE_BYTES || /[ \t]$/.test(text)) return null;
  const encoding = node.getTransferEncoding();
  if (encoding !== '7bit' && encoding !== 'quoted-printable') return null;
  const headers = node.buildHeaders();
  const body = encoding === '7bit' ? text : qpWrap(qpEncode(text), QP_LINE_LENGTH);
  let message = `${headers}\r\n\r\n${body}`;
  if (!message.endsWith('\n')) message += message.endsWith('\r') ? '\n' : '\r\n';
  return Buffer.from(message.replace(/(?<!\r)\n/g, '\r\n'), 'utf8');
}
