// One message's way in, whoever brought it (an IMAP worker or the LMTP/SMTP listener):
// raw bytes to disk (fsync) -> parse from that file in a parser thread -> the accept transaction.
// The same steps, dedupe and threading for every source (SPEC §3 "the same pipeline").
import type { Readable } from 'node:stream';
import type { Config, MailboxConfig } from '../config/types.js';
import type { Db } from '../db/connection.js';
import { isBusy } from '../db/errors.js';
import { logEvent, type LogEvent, type Logger } from '../log.js';
import { acceptMessage, type AcceptResult, type InboundSource } from './accept.js';
import type { ParsedMessage } from './message.js';
import type { ParserPool, ParseLimits } from './parse.js';
import { rawPath, storeRaw } from './raw-store.js';

export interface IngestContext {
  /** The config in force now (SIGHUP may replace it between messages). */
  getConfig(): Config;
  db: Db;
  log: Logger;
  parsers: ParserPool;
}

export interface IngestInput {
  mailbox: MailboxConfig;
  source: InboundSource;
  bytes: Buffer | Readable;
  envelopeFrom?: string | null;
  receivedAt?: string | null;
}

export interface IngestResult extends AcceptResult {
  sha256: string;
  size: number;
  parseStatus: ParsedMessage['status'];
}

export function parseLimits(config: Config): ParseLimits {
  return { maxMessageSize: config.ingest.max_message_size, maxParts: config.ingest.max_parts, maxHeaderBytes: config.ingest.max_header_bytes };
}

/** A message on disk and parsed, not yet accepted (the listener accepts one per recipient). */
export interface Prepared {
  sha256: string;
  size: number;
  parsed: ParsedMessage;
  started: number;
  /** milliseconds spent storing and parsing (for the log) */
  timing: { store: number; parse: number };
}

/** Step 1 and 2: raw bytes to disk (fsync), then parsed from that file. */
export async function prepareMessage(ctx: IngestContext, bytes: Buffer | Readable): Promise<Prepared> {
  const started = Date.now();
  const config = ctx.getConfig();
  const dataDir = config.instance.data_dir;
  const stored = await storeRaw(dataDir, bytes);
  const storedAt = Date.now();
  const parsed = await ctx.parsers.parse({ file: rawPath(dataDir, stored.sha256), dataDir, limits: parseLimits(config) });
  return { sha256: stored.sha256, size: stored.size, parsed, started, timing: { store: storedAt - started, parse: Date.now() - storedAt } };
}

/** Stores and accepts one message. Resolves once the accept transaction has committed. */
export async function ingestMessage(ctx: IngestContext, input: IngestInput): Promise<IngestResult> {
  return acceptPrepared(ctx, await prepareMessage(ctx, input.bytes), input);
}

/** Step 3, the accept transaction, for one box. */
export async function acceptPrepared(ctx: IngestContext, prepared: Prepared, input: Omit<IngestInput, 'bytes'>): Promise<IngestResult> {
  const config = ctx.getConfig();
  const { parsed } = prepared;
  const accept = (p: ParsedMessage) =>
    acceptMessage(ctx.db, {
      config,
      mailbox: input.mailbox,
      source: input.source,
      raw: { sha256: prepared.sha256, size: prepared.size },
      parsed: p,
      envelopeFrom: input.envelopeFrom ?? null,
      receivedAt: input.receivedAt ?? null,
    });
  let result: AcceptResult;
  const acceptStarted = Date.now();
  try {
    result = await accept(parsed);
  } catch (err) {
    if (isBusy(err)) throw err;
    // Something in what the parser produced broke the transaction (a bug, surely): accept the
    // message as unparsed rather than stall the box on it forever.
    ctx.log.error(
      logEvent('ingest.accept_failed', { mailbox: input.mailbox.id, sha256: prepared.sha256, err: (err as Error).message }),
      'accepting the parsed message failed; accepting it as unparsed',
    );
    result = await accept(degrade(parsed, `accepting the parsed message failed: ${(err as Error).message}`));
  }
  const where = input.source.kind === 'imap' ? { uidvalidity: input.source.uidvalidity, uid: input.source.uid } : { queue_id: input.source.queueId };
  const level = parsed.status === 'parsed' && !parsed.flags.length ? 'info' : 'warn';
  ctx.log[level](
    {
      event: 'ingest.accepted' satisfies LogEvent,
      mailbox: input.mailbox.id,
      source: input.source.kind,
      ...where,
      sha256: prepared.sha256,
      size: prepared.size,
      message_id: parsed.messageId,
      outcome: result.outcome,
      case: result.caseId,
      detail: result.detail,
      parse: parsed.status,
      ...(parsed.problem ? { problem: parsed.problem } : {}),
      ...(result.autoResponse ? { auto_response: result.autoResponse.queued ? 'queued' : result.autoResponse.reason } : {}),
      ms: Date.now() - prepared.started,
      timing: { ...prepared.timing, accept: Date.now() - acceptStarted },
    },
    'message accepted',
  );
  return { ...result, sha256: prepared.sha256, size: prepared.size, parseStatus: parsed.status };
}

function degrade(p: ParsedMessage, problem: string): ParsedMessage {
  return { ...p, status: 'unparsed', flags: ['unparsed'], problem, text: '', attachments: [], to: [], cc: [], quotedMessageIds: [], reportActions: [] };
}
