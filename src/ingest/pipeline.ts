// One message's way in, whoever brought it (an IMAP worker or the LMTP/SMTP listener):
// raw bytes to disk (fsync) -> parse in a parser thread -> the accept transaction. A message of
// up to PARSE_FROM_MEMORY_MAX bytes is parsed from memory while its file is being fsynced, and
// its accept transaction runs meanwhile too, but commits only once the file is durable
// (acceptMessage awaits `durable` before COMMIT): the rows never outlive missing bytes, and the
// sender's wait is the longer of the fsync and parse + accept, not their sum. A bigger message is
// parsed from its file once that is durable; so is every message in `database` files mode, whose
// chunks are committed on the same connection the accept would hold.
// The same steps, dedupe and threading for every source (SPEC §3 "the same pipeline").
import type { Readable } from 'node:stream';
import type { Config, MailboxConfig } from '../config/types.js';
import type { Db, TxOptions } from '../db/connection.js';
import { logEvent, type LogEvent, type Logger } from '../log.js';
import { acceptMessage, type AcceptResult, type InboundSource } from './accept.js';
import { isTransientFailure } from '../db/errors.js';
import { AcceptFailedError } from './failures.js';
import { recordAcceptFailure } from './park.js';
import type { ParsedMessage } from './message.js';
import type { ParserPool, ParseLimits } from './parse.js';
import { contentStore, shareBlobs, storeRawContent, type ContentStore } from '../db/content-store.js';
import type { DurableWriter, WrittenContent } from '../db/stored-files.js';
import { syncCommits, type FileSyncer } from '../db/commit-sync.js';

export interface IngestContext {
  /** The config in force now (SIGHUP may replace it between messages). */
  getConfig(): Config;
  db: Db;
  log: Logger;
  parsers: ParserPool;
  /** Makes a message held in memory durable: the daemon's file thread (src/db/file-thread.ts); default, on this thread. */
  fileWriter?: DurableWriter;
  /** fsyncs the WAL for syncCommits before an answer or a mark (src/db/commit-sync.ts): the file thread; default, on this thread. */
  fileSync?: FileSyncer;
  /** Told of every message accepted: the daemon keeps its checkpoint thread running while mail flows (src/db/checkpointer.ts). */
  onAccepted?: () => void;
}

export interface IngestInput {
  mailbox: MailboxConfig;
  source: InboundSource;
  bytes: Buffer | Readable;
  envelopeFrom?: string | null;
  receivedAt?: string | null;
  /**
   * Give up waiting for a database locked by another process at this time (Date.now() ms): the
   * listener's sender is waiting for an answer. Default: the database's own lock wait.
   */
  lockDeadline?: number;
}

export interface IngestResult extends AcceptResult {
  sha256: string;
  size: number;
  parseStatus: ParsedMessage['status'];
}

function parseLimits(config: Config): ParseLimits {
  return { maxMessageSize: config.ingest.max_message_size, maxParts: config.ingest.max_parts, maxHeaderBytes: config.ingest.max_header_bytes };
}

/** A message parsed and on its way to disk, not yet accepted (the listener accepts one per recipient). */
export interface Prepared {
  sha256: string;
  size: number;
  parsed: ParsedMessage;
  /**
   * Resolves once the raw bytes are durable (rejects with the store's own error): every accept
   * commits only after it. Already resolved when prepareMessage waited for it.
   */
  durable: Promise<void>;
  started: number;
  /** milliseconds from the start until the bytes were durable, and until parsed (for the log) */
  timing: { store: number; parse: number };
}

/** The largest message parsed from memory (held there while its file is fsynced). */
const PARSE_FROM_MEMORY_MAX = 1024 * 1024;

/**
 * Parses a raw message (from `bytes` when given, else from its stored file); the attachments the
 * parser thread stored go into the database too (database mode) before this resolves, so before
 * any row can name them.
 */
export async function parseStored(store: ContentStore, parsers: ParserPool, file: string, config: Config, bytes?: Buffer): Promise<ParsedMessage> {
  const parsed = await parsers.parse({ file, ...(bytes ? { bytes } : {}), dataDir: store.root, limits: parseLimits(config) });
  await shareBlobs(
    store,
    parsed.attachments.map((a) => a.sha256),
  );
  return parsed;
}

/**
 * Step 1 and 2: raw bytes on their way to disk and parsed. Resolves once parsed; `durable` says
 * when the bytes are safe (see the header for when this waits for them before parsing).
 */
export async function prepareMessage(ctx: IngestContext, bytes: Buffer | Readable): Promise<Prepared> {
  const started = Date.now();
  const config = ctx.getConfig();
  const store = contentStore(config, ctx.db);
  const timing = { store: 0, parse: 0 };
  let parsing: Promise<ParsedMessage> | null = null;
  let seen: (content: WrittenContent) => void = () => undefined;
  const hashed = new Promise<WrittenContent>((resolve) => (seen = resolve));
  const startParsing = (content: WrittenContent) => {
    seen(content);
    if (!content.bytes) return;
    parsing = parseStored(store, ctx.parsers, content.path, config, content.bytes);
    // Should storing fail, nobody awaits this parse; its failure is then of no interest.
    parsing.catch(() => undefined);
  };
  const storing = storeRawContent(store, bytes, {
    keepBytes: PARSE_FROM_MEMORY_MAX,
    onWritten: startParsing,
    ...(ctx.fileWriter ? { writer: ctx.fileWriter } : {}),
  });
  const durable = storing.then(() => {
    timing.store = Date.now() - started;
  });
  // Until an accept awaits it; a failure then reaches that accept (or prepareMessage, below).
  durable.catch(() => undefined);
  // Named and sized once hashed (a failure to store before that is thrown here).
  const content = await Promise.race([hashed, storing]);
  if (!parsing || store.mode === 'database') await durable;
  const parsed = await (parsing ?? parseStored(store, ctx.parsers, content.path, config));
  timing.parse = Date.now() - started;
  return { sha256: content.sha256, size: content.size, parsed, durable, started, timing };
}

/**
 * Every commit so far (or up to `upTo`, a commitMark) made durable, before the daemon acts on it
 * outside (the 250, the mark on the IMAP server, a mail sent): a power loss cannot undo it after
 * that (src/db/commit-sync.ts).
 */
export function commitsDurable(ctx: IngestContext, upTo?: number): Promise<void> {
  return syncCommits(ctx.db, ctx.fileSync, upTo);
}

/** Stores and accepts one message. Resolves once the accept transaction has committed. */
export async function ingestMessage(ctx: IngestContext, input: IngestInput): Promise<IngestResult> {
  return acceptPrepared(ctx, await prepareMessage(ctx, input.bytes), input);
}

/** Step 3, the accept transaction, for one box. Throws on a transient failure or an accept to try again. */
export async function acceptPrepared(ctx: IngestContext, prepared: Prepared, input: Omit<IngestInput, 'bytes'>): Promise<IngestResult> {
  const { parsed } = prepared;
  const acceptStarted = Date.now();
  let result: AcceptResult;
  try {
    result = await acceptOrDegrade(ctx, prepared, input);
  } catch (err) {
    // The bytes could not be stored: that failure, as it is, not a failed accept to count.
    await prepared.durable;
    if (isTransientFailure(err)) throw err;
    return parkOrRetry(ctx, prepared, input, err as Error);
  }
  ctx.onAccepted?.();
  const where = input.source.kind === 'imap' ? { uidvalidity: input.source.uidvalidity, uid: input.source.uid } : { queue_id: input.source.queueId };
  // Unparsed mail and quarantined staff mail (a forged or expired token…) are worth an operator's look.
  const level = parsed.status === 'parsed' && !parsed.flags.length && result.outcome !== 'quarantined' && result.outcome !== 'rating_ignored' ? 'info' : 'warn';
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
  if (result.rating) logRating(ctx, input.mailbox.id, parsed, result);
  return { ...result, sha256: prepared.sha256, size: prepared.size, parseStatus: parsed.status };
}

/** A customer's rating (SPEC §5E): recorded, or ignored with the reason (operators alert on `rating.ignored`). */
function logRating(ctx: IngestContext, mailbox: string, parsed: ParsedMessage, result: AcceptResult): void {
  const r = result.rating!;
  const fields = { mailbox, message_id: parsed.messageId, from: parsed.from?.address ?? null, case: result.caseId, detail: r.detail };
  if (r.recorded) ctx.log.info({ event: 'rating.recorded' satisfies LogEvent, score: r.reason, ...fields }, 'rating recorded');
  else ctx.log.warn({ event: 'rating.ignored' satisfies LogEvent, reason: r.reason, ...fields }, 'rating ignored');
}

/**
 * The accept transaction; when what the parser produced breaks it (a bug, surely), the message is
 * accepted again as unparsed, so a parser fault costs the text, never the message.
 */
export async function acceptOrDegrade(
  ctx: IngestContext,
  prepared: Pick<Prepared, 'sha256' | 'size' | 'parsed'> & Partial<Pick<Prepared, 'durable'>>,
  input: Omit<IngestInput, 'bytes'>,
): Promise<AcceptResult> {
  const lock = lockOptions(ctx, input);
  const accept = (p: ParsedMessage) =>
    acceptMessage(ctx.db, {
      config: ctx.getConfig(),
      mailbox: input.mailbox,
      source: input.source,
      raw: { sha256: prepared.sha256, size: prepared.size },
      parsed: p,
      envelopeFrom: input.envelopeFrom ?? null,
      receivedAt: input.receivedAt ?? null,
      lock,
      ...(prepared.durable ? { durable: prepared.durable } : {}),
    });
  try {
    return await accept(prepared.parsed);
  } catch (err) {
    // Not the parser's fault when the bytes could not be stored: no unparsed second try.
    await prepared.durable;
    if (isTransientFailure(err)) throw err;
    ctx.log.error(
      logEvent('ingest.accept_degraded', { mailbox: input.mailbox.id, sha256: prepared.sha256, err: (err as Error).message }),
      'accepting the parsed message failed; accepting it as unparsed',
    );
    return accept(degrade(prepared.parsed, `accepting the parsed message failed: ${(err as Error).message}`));
  }
}

/** A failure that is not transient: counted, and the message parked once it has failed often enough (SPEC §3). */
async function parkOrRetry(ctx: IngestContext, prepared: Prepared, input: Omit<IngestInput, 'bytes'>, err: Error): Promise<IngestResult> {
  const failure = await recordAcceptFailure(
    ctx.db,
    ctx.getConfig(),
    {
      mailbox: input.mailbox,
      source: input.source,
      raw: { sha256: prepared.sha256, size: prepared.size },
      parsed: prepared.parsed,
      envelopeFrom: input.envelopeFrom ?? null,
      receivedAt: input.receivedAt ?? null,
      error: err.message,
    },
    lockOptions(ctx, input),
  );
  const fields = {
    mailbox: input.mailbox.id,
    sha256: prepared.sha256,
    message_id: prepared.parsed.messageId,
    attempt: failure.attempts,
    of: failure.max,
    err: err.message,
  };
  if (!failure.parked) {
    ctx.log.error(
      logEvent('ingest.accept_failed', { ...fields, kind: 'internal' }),
      `accepting the message failed (attempt ${failure.attempts} of ${failure.max}); it will be tried again`,
    );
    throw new AcceptFailedError(err.message, failure.attempts, failure.max);
  }
  if (failure.newly) {
    ctx.log.error(
      logEvent('ingest.parked', {
        ...fields,
        parked: failure.id,
        notice: failure.notice,
        ...(failure.noticeProblem ? { notice_problem: failure.noticeProblem } : {}),
      }),
      `message parked after ${failure.attempts} failed attempts; \`mailwarden parked\` lists it, \`mailwarden reprocess --parked\` takes it up again`,
    );
  }
  return {
    outcome: 'parked',
    caseId: null,
    messageRowId: null,
    detail: `parked #${failure.id}`,
    sha256: prepared.sha256,
    size: prepared.size,
    parseStatus: prepared.parsed.status,
  };
}

/** How the accept waits for a lock held by another process: until the input's deadline, saying so once in the log. */
function lockOptions(ctx: IngestContext, input: Omit<IngestInput, 'bytes'>): TxOptions {
  const where = input.source.kind === 'imap' ? { uid: input.source.uid } : { queue_id: input.source.queueId };
  const onWait = () =>
    ctx.log.debug(
      logEvent('ingest.lock_wait', { mailbox: input.mailbox.id, source: input.source.kind, ...where }),
      'another process holds the database lock; waiting for it',
    );
  return input.lockDeadline === undefined ? { onWait } : { lockDeadline: input.lockDeadline, onWait };
}

function degrade(p: ParsedMessage, problem: string): ParsedMessage {
  return { ...p, status: 'unparsed', flags: ['unparsed'], problem, text: '', attachments: [], to: [], cc: [], quotedMessageIds: [], reportActions: [] };
}
