// The imapflow options for one box, built when the worker connects: the password is resolved and
// the CA file read at that moment, so a secret or certificate replaced on disk is used at the next
// connection without a restart, and a command that never connects never needs them.
import fs from 'node:fs';
import type { ImapFlowOptions } from 'imapflow';
import { resolveSecret } from '../config/secrets.js';
import type { ImapConfig } from '../config/types.js';

export function imapClientOptions(imap: ImapConfig, env: NodeJS.ProcessEnv = process.env): ImapFlowOptions {
  return {
    host: imap.host,
    port: imap.port,
    ...imapTlsOptions(imap, (file) => fs.readFileSync(file)),
    auth: { user: imap.user, pass: resolveSecret(imap.password, env) },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: 30_000,
    clientInfo: { name: 'mailwarden' },
  };
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
