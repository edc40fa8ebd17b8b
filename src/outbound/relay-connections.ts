// Connections to the relay for the outbox's frozen messages: nodemailer's SMTPConnection, kept
// open between mails, one mail on a connection at a time. Why not nodemailer's pooled transport:
// its sendMail is built for composing. Given finished bytes (`raw`) it still makes a MIME tree
// around them, a Message-ID and a stream pipeline per mail: 0.16 to 0.6 ms more CPU a mail than
// SMTPConnection.send alone (3,000 mails to a sink on another thread, three rounds), and in the
// daemon 0.7 to 1.0 ms of CPU per auto-responded message (LMTP, A/B runs taken in turn). The
// outbox's bytes were composed once when the row was written (compose.ts); here they only travel.
// The pool is as small as the drainer needs: a send takes an idle connection or opens one (so
// never more than the sends in hand), a connection that failed is closed and never reused, and
// one is retired after MESSAGES_PER_CONNECTION mails, as nodemailer's pool does.
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import XOAuth2 from 'nodemailer/lib/xoauth2/index.js';

/** Mails over one connection before it is closed and a fresh one opened (nodemailer's pool: 100). */
const MESSAGES_PER_CONNECTION = 100;

/** How to reach and log in to the relay; `auth` null: no login. */
export interface RelayOptions {
  connection: SMTPConnection.Options;
  auth: RelayLogin | null;
}

export type RelayLogin =
  | { user: string; pass: string }
  /** SASL XOAUTH2: the token from the callback, asked again with `renew` when the server refused it. */
  | { user: string; provision: (user: string, renew: boolean, done: (err: Error | null, token?: string, expires?: number) => void) => void };

export interface RelayReply {
  response: string;
  rejected: string[];
}

interface Relay {
  conn: SMTPConnection;
  sent: number;
  /** Closed, failed, or retired: never handed out again. */
  done: boolean;
}

export interface RelayConnections {
  /** Sends `raw` as it is; rejects with nodemailer's error (its code, response and `permanent`). */
  send(envelope: { from: string; to: string[] }, raw: Buffer): Promise<RelayReply>;
  /** Closes the idle connections; a send in hand finishes and then closes its own. */
  close(): void;
  /** Connections open and waiting for the next mail. */
  readonly idle: number;
}

export function relayConnections(options: RelayOptions): RelayConnections {
  const idle: Relay[] = [];
  let closed = false;

  const retire = (relay: Relay, gently: boolean) => {
    if (relay.done) return;
    relay.done = true;
    if (gently) relay.conn.quit();
    else relay.conn.close();
  };

  const take = async (): Promise<Relay> => {
    for (let relay = idle.pop(); relay; relay = idle.pop()) if (!relay.done) return relay;
    return open(options);
  };

  return {
    async send(envelope, raw) {
      const relay = await take();
      let reply: RelayReply;
      try {
        reply = await sendOn(relay, envelope, raw);
      } catch (err) {
        retire(relay, false);
        throw err;
      }
      relay.sent++;
      if (closed || relay.sent >= MESSAGES_PER_CONNECTION) retire(relay, true);
      else idle.push(relay);
      return reply;
    },
    close() {
      closed = true;
      for (const relay of idle.splice(0)) retire(relay, true);
    },
    get idle() {
      return idle.filter((relay) => !relay.done).length;
    },
  };
}

/** A connection through the greeting, STARTTLS as configured, and the login when there is one. */
async function open(options: RelayOptions): Promise<Relay> {
  const conn = new SMTPConnection(options.connection);
  const relay: Relay = { conn, sent: 0, done: false };
  // Between mails the relay may drop an idle connection: it is then skipped, never an uncaught error.
  conn.on('error', () => (relay.done = true));
  conn.on('end', () => (relay.done = true));
  try {
    await whileOpen(conn, (done) => conn.connect((err?: Error | null) => done(err ?? null)));
    const login = options.auth;
    if (login && conn.allowsAuth) await whileOpen(conn, (done) => conn.login(loginData(login), (err) => done(err ?? null)));
  } catch (err) {
    relay.done = true;
    conn.close();
    throw err;
  }
  return relay;
}

function loginData(login: RelayLogin): SMTPConnection.AuthenticationType {
  if ('pass' in login) return { user: login.user, pass: login.pass };
  const oauth2 = new XOAuth2({ user: login.user, provisionCallback: login.provision });
  return { type: 'OAuth2', user: login.user, method: 'XOAUTH2', oauth2 };
}

function sendOn(relay: Relay, envelope: { from: string; to: string[] }, raw: Buffer): Promise<RelayReply> {
  // An empty sender is the null envelope sender, MAIL FROM:<> (auto-responses, RFC 3834 §3.3).
  const smtpEnvelope = { from: envelope.from === '' ? false : envelope.from, to: envelope.to } as const;
  return whileOpen(relay.conn, (done) =>
    relay.conn.send(smtpEnvelope, raw, (err, info) => done(err ?? null, { response: info?.response ?? '250 accepted', rejected: info?.rejected ?? [] })),
  );
}

/**
 * Runs one step on the connection and settles with its callback, or with the connection's error
 * or its end, whichever comes first: a relay that drops the connection mid-step fails the step.
 */
function whileOpen<T = void>(conn: SMTPConnection, step: (done: (err: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, value?: T) => {
      if (settled) return;
      settled = true;
      conn.removeListener('error', onError);
      conn.removeListener('end', onEnd);
      if (err) reject(err);
      else resolve(value as T);
    };
    const onError = (err: Error) => finish(err);
    const onEnd = () => finish(Object.assign(new Error('the relay closed the connection'), { code: 'ECONNECTION' }));
    conn.once('error', onError);
    conn.once('end', onEnd);
    step(finish);
  });
}
