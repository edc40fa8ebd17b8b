// Hands one frozen outbox message to the outside world: its bytes as they are over SMTP
// (relay-connections.ts, nodemailer's SMTPConnection), or an .eml file (transport `file`, for the
// demo and development). It knows nothing about the database; it says whether the message was
// accepted, and if not, whether trying again could help. A relay that wants OAuth2 (SASL XOAUTH2)
// gets its access token from the shared token cache through nodemailer's provisionCallback:
// nodemailer asks again with `renew` when the server refuses the token, and that request drops the
// refused token and fetches a new one.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import nodemailer, { type NodemailerError, type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { relayConnections, type RelayConnections, type RelayLogin } from './relay-connections.js';
import { loginCheckError, type LoginReport, type LoginStep } from '../config/login-check.js';
import { describeToken, sharedTokens, type AccessToken, type TokenCache } from '../config/oauth2.js';
import { describeSecretSource, resolveSecret } from '../config/secrets.js';
import type { Config, SmtpConfig } from '../config/types.js';

/** Mails sent at once, each over its own connection to the relay (Postfix sends to one destination over up to 20). */
export const SEND_CONCURRENCY = 4;

export interface Outgoing {
  id: number;
  kind: string;
  /** Envelope sender; '' sends MAIL FROM:<> (auto-responses, RFC 3834 §3.3). */
  envelopeFrom: string;
  recipients: string[];
  mime: Buffer;
}

/** Why a send did not succeed; `permanent` decides between retrying and giving up. */
export class SendFailure extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    /** The server's reply, when there was one. */
    readonly response: string | null = null,
  ) {
    super(message);
    this.name = 'SendFailure';
  }
}

export interface Sender {
  /** Resolves with the server's reply (or where the file went); rejects with a SendFailure. */
  send(mail: Outgoing): Promise<string>;
  close(): void;
}

export function createSender(config: Config): Sender {
  return config.smtp.transport === 'file' ? fileSender(outboxDir(config)) : smtpSender(config.smtp);
}

function outboxDir(config: Config): string {
  return config.smtp.outbox_dir ?? path.join(config.instance.data_dir, 'outbox');
}

// Up to SEND_CONCURRENCY connections carry the due rows, one row on each at a time (a new
// connection per message costs ~100 ms here, more with TLS); the drainer closes the sender when it
// is done, so no idle connection is left for the relay to drop under us. Timeouts stay well inside
// the lease. The connections are set up at the first send, which resolves the password and reads
// the CA file then: a missing secret is a transient failure of that row (the admin's to fix),
// never a crash.
function smtpSender(smtp: SmtpConfig): Sender {
  let relay: RelayConnections | null = null;
  return {
    async send(mail) {
      try {
        relay ??= relayConnections(relayOptions(smtp));
      } catch (err) {
        throw new SendFailure(`cannot set up the SMTP connection: ${(err as Error).message}`, false);
      }
      try {
        const info = await relay.send({ from: mail.envelopeFrom, to: mail.recipients }, mail.mime);
        const note = info.rejected.length > 0 ? ` (rejected: ${info.rejected.join(', ')})` : '';
        return `${info.response}${note}`;
      } catch (err) {
        throw classify(err as NodemailerError);
      }
    },
    close() {
      relay?.close();
    },
  };
}

/** The relay's connection options and login; resolves the password and reads the CA file. */
export function relayOptions(smtp: SmtpConfig, opts: SmtpLoginOptions = {}): { connection: SMTPTransport.Options; auth: RelayLogin | null } {
  const { auth, ...connection } = smtpConnectionOptions(smtp, opts);
  if (!auth) return { connection, auth: null };
  if (auth.type === 'OAuth2') return { connection, auth: { user: auth.user ?? '', provision: auth.provisionCallback! } };
  return { connection, auth: { user: auth.user ?? '', pass: auth.pass ?? '' } };
}

export interface SmtpLoginOptions {
  env?: NodeJS.ProcessEnv;
  tokens?: TokenCache;
}

function smtpConnectionOptions(smtp: SmtpConfig, opts: SmtpLoginOptions): SMTPTransport.Options {
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...smtpTlsOptions(smtp, (file) => fs.readFileSync(file)),
    ...smtpAuth(smtp, opts),
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 120_000,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

/** The login: an OAuth2 access token, the password resolved now, or none (no `smtp.user`). */
function smtpAuth(smtp: SmtpConfig, opts: SmtpLoginOptions): Pick<SMTPTransport.Options, 'auth'> {
  const env = opts.env ?? process.env;
  if (smtp.auth.method === 'xoauth2') {
    const tokens = opts.tokens ?? sharedTokens;
    let last: AccessToken | null = null;
    return {
      auth: {
        type: 'OAuth2',
        user: smtp.user ?? '',
        // `renew`: the server refused the token nodemailer had; never hand the same one out again.
        provisionCallback: (_user, renew, callback) => {
          if (renew && last) tokens.invalidate(last);
          tokens.get(smtp.auth, { env }).then(
            (token) => {
              last = token;
              callback(null, token.value, token.usableUntil);
            },
            (err: Error) => callback(err),
          );
        },
      },
    };
  }
  return smtp.user ? { auth: { user: smtp.user, pass: smtp.password ? resolveSecret(smtp.password, env) : '' } } : {};
}

/** `mailwarden auth test smtp`: gets the login (the token first, to report it), logs in once and quits. */
export async function testSmtpLogin(smtp: SmtpConfig, opts: SmtpLoginOptions = {}): Promise<LoginReport> {
  const steps: LoginStep[] = [];
  const method = smtp.auth.method === 'xoauth2' ? 'xoauth2' : smtp.user ? 'password' : 'none';
  const report: LoginReport = { target: 'smtp', protocol: 'smtp', host: smtp.host, port: smtp.port, user: smtp.user ?? null, method, steps };
  const tokens = opts.tokens ?? sharedTokens;
  let transport: Transporter;
  try {
    if (method === 'xoauth2') steps.push({ step: 'token', detail: describeToken(smtp.auth, await tokens.get(smtp.auth, opts)) });
    transport = nodemailer.createTransport(smtpConnectionOptions(smtp, { ...opts, tokens }));
  } catch (err) {
    throw loginCheckError(err, method === 'xoauth2' ? 'token' : 'password', steps);
  }
  if (method === 'password') steps.push({ step: 'password', detail: `read from ${smtp.password ? describeSecretSource(smtp.password) : '(none configured)'}` });
  try {
    await transport.verify();
  } catch (err) {
    throw loginCheckError(err, method === 'none' ? 'connect' : 'login', steps);
  } finally {
    transport.close();
  }
  const how =
    method === 'none' ? 'connected (no smtp.user: no login)' : `logged in as ${smtp.user} with ${method === 'xoauth2' ? 'the access token' : 'the password'}`;
  steps.push({ step: method === 'none' ? 'connect' : 'login', detail: `${how} at ${smtp.host}:${smtp.port}` });
  return report;
}

/**
 * Without `secure` (TLS from the first byte), `starttls` decides: required -> `requireTLS` (no
 * mail over a relay that does not offer STARTTLS), refused -> `ignoreTLS`, allowed -> neither
 * (upgrade when offered, nodemailer's default). `ca_file` trusts a private or self-signed CA.
 */
export function smtpTlsOptions(
  smtp: Pick<SmtpConfig, 'secure' | 'starttls' | 'ca_file'>,
  readCa: (file: string) => Buffer,
): Pick<SMTPPool.Options, 'requireTLS' | 'ignoreTLS' | 'tls'> {
  const policy = smtp.secure ? {} : smtp.starttls === 'required' ? { requireTLS: true } : smtp.starttls === 'refused' ? { ignoreTLS: true } : {};
  return { ...policy, ...(smtp.ca_file ? { tls: { ca: readCa(smtp.ca_file) } } : {}) };
}

/**
 * 5xx from the server (nodemailer's `permanent`) fails the row for good, except authentication
 * trouble, which is the admin's to fix and must not throw away mail. Everything else (4xx,
 * refused or dropped connections, timeouts, TLS) is worth another try.
 */
function classify(err: NodemailerError): SendFailure {
  const response = err.response ?? null;
  const code = err.code ?? '';
  const permanent = err.permanent === true && code !== 'EAUTH' && code !== 'ENOAUTH';
  const what = response ?? `${code ? code + ': ' : ''}${err.message}`;
  return new SendFailure(what.replace(/\s+/g, ' ').trim(), permanent, response);
}

// The file appears under its final name only when complete (write, fsync, rename), so a reader
// watching the directory never sees half a message.
function fileSender(dir: string): Sender {
  return {
    async send(mail) {
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const final = path.join(dir, `${mail.id}-${mail.kind.replace(/[^a-z0-9_-]/gi, '_')}.eml`);
        const tmp = path.join(dir, `.tmp-${mail.id}-${crypto.randomBytes(6).toString('hex')}`);
        const fd = fs.openSync(tmp, 'w', 0o600);
        try {
          fs.writeSync(fd, mail.mime);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmp, final);
        return `written to ${final}`;
      } catch (err) {
        throw new SendFailure(`cannot write the .eml file: ${(err as Error).message}`, false);
      }
    },
    close() {},
  };
}
