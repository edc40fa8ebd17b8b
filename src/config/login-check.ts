// What `mailwarden auth test` reports about one login, step by step (the password read or the
// access token fetched, the login, the folder), shared by the IMAP check (src/ingest) and the
// SMTP check (src/outbound), and how each kind of failure becomes an error code. The steps name
// endpoints, clients, users and `${…}` references, never a secret or a token.
import { MailwardenError, type ErrorCode } from '../errors.js';
import { OAuth2Error } from './oauth2.js';

export interface LoginStep {
  step: 'password' | 'token' | 'connect' | 'login' | 'folder';
  detail: string;
}

export interface LoginReport {
  /** The mailbox id, or `smtp`. */
  target: string;
  protocol: 'imap' | 'smtp';
  host: string;
  port: number;
  user: string | null;
  method: 'password' | 'xoauth2' | 'none';
  steps: LoginStep[];
}

/** The error for a check that failed at `step`, carrying the steps done before it as details. */
export function loginCheckError(err: unknown, step: LoginStep['step'], done: LoginStep[]): MailwardenError {
  const e = err as Error & { authenticationFailed?: boolean; code?: string; responseText?: string; response?: string };
  const [kind, code, what]: ['config' | 'unavailable', ErrorCode, string] =
    e instanceof OAuth2Error
      ? e.kind === 'secret' || e.kind === 'config'
        ? ['config', 'ESECRET', 'no access token']
        : ['unavailable', 'ETOKEN', 'no access token']
      : step === 'password'
        ? ['config', 'ESECRET', 'no password']
        : step === 'folder'
          ? ['unavailable', 'EFOLDER', 'cannot open the folder']
          : e.authenticationFailed || e.code === 'EAUTH'
            ? ['unavailable', 'ELOGIN', 'login refused']
            : ['unavailable', 'ECONNECT', 'cannot connect'];
  // imapflow's message is just "Command failed": the server's own words say more.
  const server = e.responseText ?? (code === 'ELOGIN' ? e.response : undefined);
  const message = `${what}: ${server ? `the server says "${server}"` : e.message}`;
  const details = [...done.map((s) => `${s.step}: ${s.detail}`), `${step}: failed`];
  return new MailwardenError(kind, code, message, details);
}
