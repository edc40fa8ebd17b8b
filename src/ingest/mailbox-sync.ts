// The work on one supervised IMAP box, over a connection someone else holds: check UIDVALIDITY,
// fetch every message above the box's high-water mark (in UID order, so the mark only ever moves
// over messages that are done), accept each through the pipeline, mark them on the server, repair
// marks a crash left behind, and record the box's last error. The service that connects,
// reconnects with backoff, waits for new mail and stops is src/daemon/imap-service.ts.
import type { ImapFlow, FetchMessageObject } from 'imapflow';
import { writeTx } from '../db/connection.js';
import type { MailboxConfig } from '../config/types.js';
import { acceptPrepared, commitsDurable, prepareMessage, type IngestContext, type Prepared } from './pipeline.js';
import { logEvent, type Logger } from '../log.js';

/** Messages up to this size are fetched in batches into memory; larger ones are streamed to disk. */
const SMALL_MESSAGE = 1024 * 1024;
const BATCH_BYTES = 8 * 1024 * 1024;
const BATCH_COUNT = 100;
const DOWNLOAD_CHUNK = 256 * 1024;
/** Messages stored and parsed ahead of the one being accepted. */
const LOOKAHEAD = 4;

/** The box's own log: every line names the mailbox. */
const boxLog = (ctx: IngestContext, mailbox: MailboxConfig): Logger => ctx.log.child({ mailbox: mailbox.id });

/** A new UIDVALIDITY means the UIDs start over: rescan from 0 (dedupe keeps it exactly-once). */
export async function checkUidValidity(ctx: IngestContext, mailbox: MailboxConfig, uidvalidity: number): Promise<void> {
  // The usual case, nothing changed, is a plain read: a box reconnects and fetches (to disk) even
  // while another process holds the write lock.
  const known = await ctx.db.selectFrom('mailbox_state').select('uidvalidity').where('mailbox_id', '=', mailbox.id).executeTakeFirst();
  if (known?.uidvalidity === uidvalidity) return;
  const previous = await writeTx(ctx.db, async (tx) => {
    const state = await tx.selectFrom('mailbox_state').selectAll().where('mailbox_id', '=', mailbox.id).executeTakeFirst();
    if (!state) {
      await tx.insertInto('mailbox_state').values({ mailbox_id: mailbox.id, uidvalidity, last_uid: 0, last_sync_at: null, last_error: null }).execute();
      return null;
    }
    if (state.uidvalidity !== uidvalidity) {
      await tx.updateTable('mailbox_state').set({ uidvalidity, last_uid: 0 }).where('mailbox_id', '=', mailbox.id).execute();
    }
    return state;
  });
  if (previous && previous.uidvalidity !== null && previous.uidvalidity !== uidvalidity) {
    boxLog(ctx, mailbox).warn(
      logEvent('mailbox.uidvalidity_changed', { previous: previous.uidvalidity, uidvalidity, last_uid: previous.last_uid }),
      'UIDVALIDITY changed: rescanning the whole folder',
    );
  }
}

/** The box's high-water mark: every UID up to it is done. */
export async function lastUid(ctx: IngestContext, mailbox: MailboxConfig): Promise<number> {
  const state = await ctx.db.selectFrom('mailbox_state').select('last_uid').where('mailbox_id', '=', mailbox.id).executeTakeFirst();
  return state?.last_uid ?? 0;
}

/**
 * Fetches and accepts everything above the high-water mark, in UID order. Once `shouldStop` says
 * so, the message in hand is finished and marked and nothing new is taken.
 */
export async function syncMailbox(client: ImapFlow, ctx: IngestContext, mailbox: MailboxConfig, uidvalidity: number, shouldStop: () => boolean): Promise<void> {
  // NOOP lets the server report new mail (EXISTS) when we got here by the poll timer.
  await client.noop();
  if (!client.mailbox || client.mailbox.exists === 0) return;
  const last = await lastUid(ctx, mailbox);
  const listed = await client.fetchAll(`${last + 1}:*`, { uid: true, size: true, internalDate: true }, { uid: true });
  const todo = listed.filter((m) => m.uid > last).sort((a, b) => a.uid - b.uid);
  for (const batch of batches(todo)) {
    if (shouldStop()) return;
    const small = batch.filter((m) => (m.size ?? 0) <= SMALL_MESSAGE).map((m) => m.uid);
    const sources = new Map<number, Buffer>();
    if (small.length > 0) {
      for (const m of await client.fetchAll(small.join(','), { uid: true, source: true }, { uid: true })) {
        if (m.source) sources.set(m.uid, m.source);
      }
    }
    const done: number[] = [];
    // Storing and parsing run a few messages ahead; accepting stays strictly in UID order,
    // so the high-water mark never passes a message that is not done.
    const ahead = new Map<number, Promise<Prepared | null>>();
    const prepare = (i: number) => {
      const m = batch[i];
      if (!m || ahead.has(i) || shouldStop()) return;
      const source = sources.get(m.uid);
      sources.delete(m.uid);
      const p = (async () => {
        const bytes = source ?? (await download(client, m.uid));
        // Gone since the listing (moved or deleted by someone): nothing to take.
        return bytes ? prepareMessage(ctx, bytes) : null;
      })();
      p.catch(() => undefined);
      ahead.set(i, p);
    };
    try {
      for (let i = 0; i < batch.length; i++) {
        // Finish what is in hand, take nothing new.
        if (shouldStop()) break;
        for (let j = i; j <= i + LOOKAHEAD; j++) prepare(j);
        const prepared = await ahead.get(i)!;
        if (!prepared) continue;
        const m = batch[i]!;
        await acceptPrepared(ctx, prepared, {
          mailbox,
          source: { kind: 'imap', uidvalidity, uid: m.uid },
          receivedAt: internalDate(m),
        });
        done.push(m.uid);
      }
    } finally {
      await Promise.allSettled(ahead.values());
      await markProcessed(client, ctx, boxLog(ctx, mailbox), done);
    }
  }
}

async function download(client: ImapFlow, uid: number) {
  const dl = await client.download(String(uid), undefined, { uid: true, chunkSize: DOWNLOAD_CHUNK });
  return dl.content ?? null;
}

/** In `move` mode, creates the folder processed mail is moved to when the server lacks it. */
export async function prepareMarking(client: ImapFlow, ctx: IngestContext): Promise<void> {
  const mark = ctx.getConfig().ingest.mark;
  if (mark.mode !== 'move') return;
  const exists = (await client.list()).some((b) => b.path === mark.folder);
  if (!exists) await client.mailboxCreate(mark.folder);
}

/**
 * Marks accepted messages on the server. Best effort: the high-water mark, not the flag, says
 * what is done, so a failed or lost mark only means a message looks unprocessed to a person
 * until catchUpMarks() repairs it.
 */
async function markProcessed(client: ImapFlow, ctx: IngestContext, log: Logger, uids: number[]): Promise<void> {
  const mark = ctx.getConfig().ingest.mark;
  if (uids.length === 0 || mark.mode === 'none' || !client.usable) return;
  try {
    // Not before the accepts are durable: a power loss could take their rows back, and a moved
    // message would not be fetched again (src/db/commit-sync.ts). Once for the whole batch.
    await commitsDurable(ctx);
    if (mark.mode === 'keyword') await client.messageFlagsAdd(uids.join(','), [mark.keyword], { uid: true });
    else await client.messageMove(uids.join(','), mark.folder, { uid: true });
  } catch (err) {
    log.warn(logEvent('mailbox.mark_failed', { err: (err as Error).message, uids: uids.length }), 'marking processed mail on the server failed');
  }
}

/** Marks messages below the high-water mark that a crash (or a person) left unmarked. */
export async function catchUpMarks(client: ImapFlow, ctx: IngestContext, mailbox: MailboxConfig): Promise<void> {
  const mark = ctx.getConfig().ingest.mark;
  const last = await lastUid(ctx, mailbox);
  if (mark.mode === 'none' || last === 0 || !client.mailbox || client.mailbox.exists === 0) return;
  const query = mark.mode === 'keyword' ? { uid: `1:${last}`, unKeyword: mark.keyword } : { uid: `1:${last}` };
  const found = await client.search(query, { uid: true });
  const uids = (found || []).filter((u) => u <= last);
  if (uids.length > 0) {
    const log = boxLog(ctx, mailbox);
    log.info(logEvent('mailbox.marks_repaired', { count: uids.length }), 'marking processed mail left unmarked');
    await markProcessed(client, ctx, log, uids);
  }
}

/** The box's last error for `status` (null: the last connection went well). */
export async function recordMailboxError(ctx: IngestContext, mailbox: MailboxConfig, message: string | null): Promise<void> {
  try {
    await ctx.db
      .updateTable('mailbox_state')
      .set({ last_error: message ? message.slice(0, 500) : null })
      .where('mailbox_id', '=', mailbox.id)
      .execute();
  } catch {
    // status only; the log has it
  }
}

function internalDate(m: FetchMessageObject): string | null {
  const d = m.internalDate;
  if (!d) return null;
  const t = d instanceof Date ? d.getTime() : Date.parse(String(d));
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** Groups messages so one batch of small ones stays within BATCH_BYTES and BATCH_COUNT. */
function* batches(list: FetchMessageObject[]): Generator<FetchMessageObject[]> {
  let batch: FetchMessageObject[] = [];
  let bytes = 0;
  for (const m of list) {
    const size = Math.min(m.size ?? 0, SMALL_MESSAGE);
    if (batch.length > 0 && (batch.length >= BATCH_COUNT || bytes + size > BATCH_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(m);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}
