// The imapflow options and login for one box, built when the worker connects: the password is
// resolved, the access token fetched (or taken from the cache) and the CA file read at that
// moment, so a secret or certificate replaced on disk is used at the next connection without a
// restart, and a command that never connects never needs them.
import fs from 'node:fs';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { loginCheckError, type LoginReport, type LoginStep } from '../config/login-check.js';
import { describeToken, sharedTokens, type AccessToken, type TokenCache } from '../config/oauth2.js';
import { describeSecretSource, resolveSecret } from '../config/secrets.js';
import type { ImapConfig } from '../config/types.js';

/** What imapflow logs in with: a password, or an OAuth2 access token (SASL XOAUTH2/OAUTHBEARER). */
export type ImapLogin = { user: string; pass: string } | { user: string; accessToken: string };

export interface ImapCredential {
  login: ImapLogin;
  /** The access token used, so a server refusing it can have it dropped; null for a password. */
  token: AccessToken | null;
}

export interface CredentialOptions {
  tokens?: TokenCache;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** The login for one connection, by `imap.auth.method`. */
export async function imapCredential(imap: ImapConfig, opts: CredentialOptions = {}): Promise<ImapCredential> {
  const env = opts.env ?? process.env;
  if (imap.auth.method === 'xoauth2') {
    const token = await (opts.tokens ?? sharedTokens).get(imap.auth, { env, ...(opts.signal ? { signal: opts.signal } : {}) });
    return { login: { user: imap.user, accessToken: token.value }, token };
  }
  // config check refuses a password box without one; an empty password is refused by the server.
  return { login: { user: imap.user, pass: imap.password ? resolveSecret(imap.password, env) : '' }, token: null };
}

export function imapClientOptions(imap: ImapConfig, login: ImapLogin): ImapFlowOptions {
  return {
    host: imap.host,
    port: imap.port,
    ...imapTlsOptions(imap, (file) => fs.readFileSync(file)),
    auth: login,
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: 30_000,
    clientInfo: { name: 'mailwarden' },
  };
}

/** `mailwarden auth test <mailbox>`: gets the login, logs in once, looks at the folder, logs out. */
export async function testImapLogin(target: string, imap: ImapConfig, opts: CredentialOptions = {}): Promise<LoginReport> {
  const steps: LoginStep[] = [];
  const report: LoginReport = { target, protocol: 'imap', host: imap.host, port: imap.port, user: imap.user, method: imap.auth.method, steps };
  let credential: ImapCredential;
  try {
    credential = await imapCredential(imap, opts);
  } catch (err) {
    throw loginCheckError(err, imap.auth.method === 'xoauth2' ? 'token' : 'password', steps);
  }
  steps.push(
    credential.token
      ? { step: 'token', detail: describeToken(imap.auth, credential.token) }
      : { step: 'password', detail: `read from ${imap.password ? describeSecretSource(imap.password) : '(none configured)'}` },
  );
  const client = new ImapFlow(imapClientOptions(imap, credential.login));
  client.on('error', () => undefined); // the awaited calls below report it
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw loginCheckError(err, 'login', steps);
  }
  try {
    steps.push({
      step: 'login',
      detail: `logged in to ${imap.host}:${imap.port} as ${imap.user} with ${credential.token ? 'the access token' : 'the password'}`,
    });
    const status = await client.status(imap.folder, { messages: true }).catch((err: unknown) => {
      throw loginCheckError(err, 'folder', steps);
    });
    steps.push({ step: 'folder', detail: `${imap.folder} holds ${status ? (status.messages ?? 0) : 'an unknown number of'} messages` });
  } finally {
    await client.logout().catch(() => client.close());
  }
  return report;
}

/**
 * `tls` is TLS from the first byte (imapflow `secure`); otherwise `starttls` decides: required ->
 * `doSTARTTLS: true` (fail when the server does not offer it), refused -> `false`, allowed ->
 * unset (upgrade when offered). imapflow refuses `secure` together with `doSTARTTLS: true`.
 */
export function imapTlsOptions(
  imap: Pick<ImapConfig, 'tls' | 'starttls' | 'ca_file'>,
  readCa: (file: string) => Buffer,
): Pick<ImapFlowOptions, 'secure' | 'doSTARTTLS' | 'tls'> {
  const doSTARTTLS = imap.tls ? undefined : STARTTLS_POLICY[imap.starttls];
  return {
    secure: imap.tls,
    ...(doSTARTTLS === undefined ? {} : { doSTARTTLS }),
    ...(imap.ca_file ? { tls: { ca: readCa(imap.ca_file) } } : {}),
  };
}

const STARTTLS_POLICY: Record<ImapConfig['starttls'], boolean | undefined> = { required: true, refused: false, allowed: undefined };
