// An in-process SMTP server that records what the daemon sends, and can be scripted to fail.
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { waitFor } from './wait';

export interface RecordedMail {
  envelope: { from: string; to: string[] };
  raw: Buffer;
  parsed: ParsedMail;
  /** Message-ID header with angle brackets as mailparser returns it, '' when missing. */
  messageId: string;
  receivedAt: Date;
}

export interface SinkScriptContext {
  /** 1-based number of this DATA transaction since start/reset, failed ones included. */
  attempt: number;
  rcpt: string[];
  from: string;
}

type SinkReply = { code: number; message: string } | null;

/**
 * Return null to accept, or an SMTP reply (e.g. 421 / 550) to reject at end of DATA. A promise
 * makes a slow server: the reply (and the recording of an accepted message) waits for it.
 */
export type SinkScript = (ctx: SinkScriptContext) => SinkReply | Promise<SinkReply>;

export interface SmtpSink {
  host: '127.0.0.1';
  port: number;
  /** Accepted messages in arrival order; the array object stays the same across reset(). */
  messages: RecordedMail[];
  /** DATA transactions seen (accepted + rejected). */
  readonly attempts: number;
  /** XOAUTH2 logins tried, in order (with the `xoauth2` option). */
  logins: SinkLogin[];
  /** Client connections open now (the daemon keeps its relay connection a moment after a mail). */
  readonly connections: number;
  /** Client connections accepted since start, closed ones included. */
  readonly opened: number;
  /** Ends every client connection from the server's side, as a relay's idle timeout does. */
  dropConnections(): void;
  waitFor(predicate: (m: RecordedMail[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Message-ID -> how many times it arrived (duplicate detection). */
  byMessageId(): Map<string, number>;
  reset(): void;
  stop(): Promise<void>;
}

export interface StartSmtpSinkOptions {
  script?: SinkScript;
  /**
   * Require SASL XOAUTH2 (as Microsoft 365 and Gmail relays do): only a client whose access token
   * this says is good for its user may send. Every attempt is kept in `logins`.
   */
  xoauth2?: (user: string, accessToken: string) => boolean;
}

export interface SinkLogin {
  user: string;
  ok: boolean;
}

/** Thrown into smtp-server's callback; smtp-server replies with `responseCode` + message. */
class SmtpReply extends Error {
  constructor(
    message: string,
    readonly responseCode: number,
  ) {
    super(message);
  }
}

/** The whole DATA stream of one message. */
export function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

export async function startSmtpSink(opts: StartSmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: RecordedMail[] = [];
  const logins: SinkLogin[] = [];
  let attempts = 0;
  let connections = 0;
  let opened = 0;
  const sockets = new Set<import('node:net').Socket>();
  const xoauth2 = opts.xoauth2;
  const authOptions: Partial<SMTPServerOptions> = xoauth2
    ? {
        authOptional: false,
        authMethods: ['XOAUTH2'],
        allowInsecureAuth: true, // plain loopback, no STARTTLS
        onAuth(auth, _session, callback) {
          const ok = auth.method === 'XOAUTH2' && xoauth2(auth.username ?? '', auth.accessToken ?? '');
          logins.push({ user: auth.username ?? '', ok });
          // A refused XOAUTH2 token gets the 334 error challenge Gmail and Microsoft 365 send.
          if (ok) callback(null, { user: auth.username });
          else callback(null, { data: { status: '401', schemes: 'bearer', scope: 'https://outlook.office.com/SMTP.Send' } });
        },
      }
    : { authOptional: true };

  const handleData = async (stream: SMTPServerDataStream, session: SMTPServerSession) => {
    // Read the whole message first: smtp-server expects the stream consumed, and a real MTA
    // also answers a temporary/permanent failure only after the final "." of DATA.
    const raw = await readAll(stream);
    attempts += 1;
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const to = session.envelope.rcptTo.map((a) => a.address);
    const reply = (await opts.script?.({ attempt: attempts, rcpt: to, from })) ?? null;
    if (reply) throw new SmtpReply(reply.message, reply.code);
    const parsed = await simpleParser(raw);
    messages.push({
      envelope: { from, to },
      raw,
      parsed,
      messageId: parsed.messageId ?? '',
      receivedAt: new Date(),
    });
  };

  const server = new SMTPServer({
    ...authOptions,
    disabledCommands: ['STARTTLS'], // plain loopback; also keeps smtp-server's cert warning quiet
    logger: false,
    disableReverseLookup: true, // a reverse DNS lookup per connection costs ~90 ms here
    closeTimeout: 1_000, // stop() should not wait 30 s for a client that keeps its connection
    onConnect(_session, callback) {
      connections += 1;
      opened += 1;
      callback();
    },
    onClose() {
      connections -= 1;
    },
    onData(stream, session, callback) {
      handleData(stream, session).then(
        () => callback(null, 'OK: message recorded'),
        (err: Error) => callback(err),
      );
    },
  });
  server.on('error', () => {
    // Client-side resets etc. are reported here; without a listener they would crash the test.
  });

  server.server.on('connection', (socket: import('node:net').Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await listenOnFreePort(server, 'smtp sink');

  return {
    host: '127.0.0.1',
    port,
    messages,
    get attempts() {
      return attempts;
    },
    get opened() {
      return opened;
    },
    dropConnections() {
      for (const socket of sockets) socket.end();
    },
    get connections() {
      return connections;
    },
    logins,
    async waitFor(predicate, timeoutMs = 10_000, what = 'condition') {
      await waitFor(() => predicate(messages), { timeoutMs, what: `smtp sink: ${what}` });
    },
    byMessageId() {
      const counts = new Map<string, number>();
      for (const m of messages) counts.set(m.messageId, (counts.get(m.messageId) ?? 0) + 1);
      return counts;
    },
    reset() {
      messages.length = 0;
      attempts = 0;
    },
    stop() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Listens on 127.0.0.1 port 0 directly (no race between picking and binding a port); returns the port. */
export function listenOnFreePort(server: SMTPServer, what: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.server.address();
      if (addr === null || typeof addr === 'string') reject(new Error(`${what}: no TCP address`));
      else resolve(addr.port);
    });
  });
}
