// Short-lived imapflow sessions for arranging and inspecting mailboxes in tests. Each helper
// opens its own connection and logs out, so it never interferes with the daemon's sessions.
import { randomUUID } from 'node:crypto';
import type { ImapFlow } from 'imapflow';
import type { DovecotInstance } from './dovecot';

type ImapServer = Pick<DovecotInstance, 'imapClient'>;

/** Connects as `user`, runs fn, and always logs out (or drops the socket if LOGOUT fails). */
export async function withImap<T>(dovecot: ImapServer, user: string, fn: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = dovecot.imapClient(user);
  // Without a listener an 'error' event (e.g. server stopped mid-test) would crash the worker.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw withContext(err, `IMAP login as ${user}`);
  }
  try {
    return await fn(client);
  } catch (err) {
    throw withContext(err, `IMAP as ${user}`);
  } finally {
    try {
      await client.logout();
    } catch {
      client.close();
    }
  }
}

/** imapflow's errors just say "Command failed"; the server's text is in responseText. */
function withContext(err: unknown, what: string): unknown {
  if (!(err instanceof Error)) return err;
  const detail = (err as Error & { responseText?: string }).responseText;
  err.message = `${what}: ${err.message}${detail ? ` (server: ${detail})` : ''}`;
  return err;
}

export async function appendMail(
  dovecot: ImapServer,
  user: string,
  folder: string,
  raw: string | Buffer,
  flags?: string[],
): Promise<{ uid: number; uidValidity: number }> {
  return withImap(dovecot, user, async (client) => {
    const res = await client.append(folder, raw, flags);
    if (!res || res.uid === undefined || res.uidValidity === undefined) {
      throw new Error(`APPEND to ${user}/${folder} returned no APPENDUID: ${JSON.stringify(res)}`);
    }
    // imapflow reports UIDVALIDITY as bigint; it is a 32-bit value, so a number is exact.
    return { uid: res.uid, uidValidity: Number(res.uidValidity) };
  });
}

export async function createFolder(dovecot: ImapServer, user: string, folder: string): Promise<void> {
  await withImap(dovecot, user, (client) => client.mailboxCreate(folder));
}

export async function deleteFolder(dovecot: ImapServer, user: string, folder: string): Promise<void> {
  await withImap(dovecot, user, (client) => client.mailboxDelete(folder));
}

/** UIDs in the folder, ascending. */
export async function listUids(dovecot: ImapServer, user: string, folder: string): Promise<number[]> {
  return withImap(dovecot, user, async (client) => {
    const lock = await client.getMailboxLock(folder, { readOnly: true });
    try {
      const uids = await client.search({ all: true }, { uid: true });
      return (uids || []).sort((a, b) => a - b);
    } finally {
      lock.release();
    }
  });
}

/** UID -> flags (sorted). Dovecot includes \Recent for new messages in a fresh session. */
export async function fetchFlags(dovecot: ImapServer, user: string, folder: string): Promise<Map<number, string[]>> {
  return withImap(dovecot, user, async (client) => {
    const lock = await client.getMailboxLock(folder, { readOnly: true });
    try {
      const result = new Map<number, string[]>();
      if (client.mailbox && client.mailbox.exists === 0) return result;
      for (const msg of await client.fetchAll('1:*', { uid: true, flags: true })) {
        result.set(msg.uid, [...(msg.flags ?? [])].sort());
      }
      return result;
    } finally {
      lock.release();
    }
  });
}

export interface BuildMailOptions {
  from: string;
  to: string;
  subject: string;
  text?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string;
  headers?: Record<string, string>;
  date?: Date;
}

/** RFC 2047 encoded-word for non-ASCII header text; ASCII passes through unchanged. */
function encodeHeader(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  return `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** RFC 5322 date, e.g. "Sun, 23 Nov 2025 16:13:00 +0000" (toUTCString says "GMT", an obsolete zone). */
function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

/**
 * A plain-text RFC 5322 message with CRLF line endings (Dovecot returns CRLF from FETCH, so
 * raw-byte comparisons only hold for CRLF fixtures). Message-ID is generated when not given.
 */
export function buildMail(opts: BuildMailOptions): string {
  const text = opts.text ?? '';
  const ascii = /^[\x00-\x7f]*$/.test(text);
  const headers: Array<[string, string]> = [
    ['From', opts.from],
    ['To', opts.to],
    ['Subject', encodeHeader(opts.subject)],
    ['Date', rfc5322Date(opts.date ?? new Date())],
    ['Message-ID', opts.messageId ?? `<${randomUUID()}@test.example>`],
  ];
  if (opts.inReplyTo) headers.push(['In-Reply-To', opts.inReplyTo]);
  if (opts.references) headers.push(['References', opts.references]);
  headers.push(['MIME-Version', '1.0'], ['Content-Type', 'text/plain; charset=utf-8'], ['Content-Transfer-Encoding', ascii ? '7bit' : '8bit']);
  for (const [name, value] of Object.entries(opts.headers ?? {})) headers.push([name, encodeHeader(value)]);

  const body = text.replace(/\r?\n/g, '\r\n');
  const head = headers.map(([k, v]) => `${k}: ${v}`).join('\r\n');
  return `${head}\r\n\r\n${body}${body.endsWith('\r\n') || body === '' ? '' : '\r\n'}`;
}
