// OAuth2 access tokens for SASL XOAUTH2 logins to IMAP and SMTP (Microsoft 365 and Google
// Workspace boxes where passwords are switched off, SPEC §11). A token is fetched from the
// configured token endpoint (refresh_token or client_credentials grant) when a connection needs
// one, kept until shortly before it expires, and shared by every connection with the same
// settings, so ten boxes of one app ask once. A server that refuses a token makes its caller drop
// it (invalidate) and ask again, which fetches a new one. Secrets are resolved at each fetch, so a
// replaced secret file counts without a restart. No token or secret ever leaves this module in a
// message: errors name the endpoint, the client and the server's error code, and a server's text
// that echoes a secret has it blanked.
import { createHash } from 'node:crypto';
import { resolveSecret } from './secrets.js';
import type { LoginAuth } from './types.js';

/** A token is not handed out in its last minute (or last half, for a short-lived one). */
const EXPIRY_MARGIN_MS = 60_000;
/** RFC 6749 makes expires_in optional; both Microsoft and Google send it. */
const DEFAULT_LIFETIME_S = 3600;
const REQUEST_TIMEOUT_MS = 30_000;
/** Shortest secret blanked in a server's text: shorter ones would blank ordinary words. */
const MIN_REDACTED = 6;

export interface AccessToken {
  readonly value: string;
  /** Epoch ms after which the cache does not hand it out again. */
  readonly usableUntil: number;
  /** What the endpoint said (seconds), for reports. */
  readonly expiresInS: number;
  /** Fetched for this call (or while it waited), not taken from the cache. */
  readonly fresh: boolean;
  /** The cache entry it belongs to (a hash; names no secret). */
  readonly key: string;
}

/**
 * `refused`: the endpoint said no (revoked refresh token, wrong secret): trying again will not
 * help until an admin acts. `unreachable`: network trouble or a 5xx: transient. `secret`: a
 * `${…}` reference cannot be resolved now. `config`: a field the method needs is missing.
 */
export type OAuth2FailureKind = 'refused' | 'unreachable' | 'secret' | 'config';

export class OAuth2Error extends Error {
  constructor(
    message: string,
    readonly kind: OAuth2FailureKind,
    /** The endpoint's `error` code (invalid_grant, invalid_client…), when it gave one. */
    readonly oauthError: string | null = null,
  ) {
    super(message);
    this.name = 'OAuth2Error';
  }
}

export interface TokenCacheOptions {
  /** Epoch ms; tests move it. Real time, not src/clock.ts: expiry is the endpoint's clock. */
  now?: () => number;
  timeoutMs?: number;
}

export interface GetTokenOptions {
  env?: NodeJS.ProcessEnv;
  /** A stopping daemon does not wait out a slow endpoint. */
  signal?: AbortSignal;
}

interface Cached {
  value: string;
  usableUntil: number;
  expiresInS: number;
}

interface Entry {
  token?: Cached | undefined;
  pending?: Promise<Cached> | undefined;
  /** A refresh token the endpoint rotated in (Microsoft does): used for the next refresh. */
  rotated?: string | undefined;
}

/** One token request, its secrets resolved. */
interface TokenRequest {
  key: string;
  url: string;
  auth: LoginAuth & { token_url: string; client_id: string };
  clientSecret: string | null;
  refreshToken: string | null;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly timeoutMs: number;

  constructor(opts: TokenCacheOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  /** A usable access token: the cached one, or a new one from the endpoint (one request at a time per entry). */
  async get(auth: LoginAuth, opts: GetTokenOptions = {}): Promise<AccessToken> {
    const request = tokenRequest(auth, opts.env ?? process.env);
    let entry = this.entries.get(request.key);
    if (!entry) this.entries.set(request.key, (entry = {}));
    const cached = entry.token;
    if (cached && this.now() < cached.usableUntil) return { ...cached, fresh: false, key: request.key };
    const current = entry;
    current.pending ??= this.fetchToken(request, current, opts.signal).finally(() => (current.pending = undefined));
    const token = await current.pending;
    return { ...token, fresh: true, key: request.key };
  }

  /** The server refused this token: drop it, unless a newer one already replaced it. */
  invalidate(token: AccessToken): void {
    const entry = this.entries.get(token.key);
    if (entry?.token?.value === token.value) entry.token = undefined;
  }

  private async fetchToken(request: TokenRequest, entry: Entry, signal: AbortSignal | undefined): Promise<Cached> {
    const refreshToken = entry.rotated ?? request.refreshToken;
    const secrets = [request.clientSecret, request.refreshToken, entry.rotated];
    const body = await postForm(request, formFields(request, refreshToken), this.timeoutMs, signal, secrets);
    const token = readToken(body, request, secrets);
    const lifetimeMs = token.expiresInS * 1000;
    const cached = { value: token.value, expiresInS: token.expiresInS, usableUntil: this.now() + lifetimeMs - Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 2) };
    if (token.refreshToken) entry.rotated = token.refreshToken;
    entry.token = cached;
    return cached;
  }
}

/** The daemon's one cache: every box and the SMTP sender share its tokens. */
export const sharedTokens = new TokenCache();

/** One sentence on how a token was obtained, for `mailwarden auth test`; names no secret. */
export function describeToken(auth: LoginAuth, token: AccessToken): string {
  const how = token.fresh ? 'fetched' : 'taken from the cache';
  const scope = auth.scope ? `, scope "${auth.scope}"` : '';
  return `access token ${how}: ${endpointName(auth.token_url ?? '')}, client ${auth.client_id}, ${auth.grant} grant${scope}; expires in ${token.expiresInS} s`;
}

/** Resolves the secrets and checks the fields the grant needs (config check lists them too). */
function tokenRequest(auth: LoginAuth, env: NodeJS.ProcessEnv): TokenRequest {
  const { token_url: url, client_id: clientId } = auth;
  if (!url || !clientId) throw new OAuth2Error('auth.token_url and auth.client_id are required with auth.method xoauth2', 'config');
  if (auth.grant === 'refresh_token' && !auth.refresh_token) throw new OAuth2Error('auth.refresh_token is required with the refresh_token grant', 'config');
  const resolve = (ref: LoginAuth['client_secret'], what: string) => {
    if (!ref) return null;
    try {
      return resolveSecret(ref, env, what);
    } catch (err) {
      throw new OAuth2Error((err as Error).message, 'secret');
    }
  };
  const clientSecret = resolve(auth.client_secret, 'the OAuth2 client secret');
  const refreshToken = auth.grant === 'refresh_token' ? resolve(auth.refresh_token, 'the OAuth2 refresh token') : null;
  // Hashed: the key sits in memory beside the token, but names no secret even there. The refresh
  // token belongs in it: two users' boxes on one app must never share a token.
  const key = createHash('sha256')
    .update(JSON.stringify([url, clientId, auth.grant, auth.scope ?? '', refreshToken ?? '']))
    .digest('hex');
  return { key, url, auth: { ...auth, token_url: url, client_id: clientId }, clientSecret, refreshToken };
}

function formFields(request: TokenRequest, refreshToken: string | null): URLSearchParams {
  const form = new URLSearchParams({ grant_type: request.auth.grant, client_id: request.auth.client_id });
  if (request.clientSecret !== null) form.set('client_secret', request.clientSecret);
  if (request.auth.grant === 'refresh_token' && refreshToken !== null) form.set('refresh_token', refreshToken);
  if (request.auth.scope) form.set('scope', request.auth.scope);
  return form;
}

/** POSTs the form and returns the parsed JSON body of a 2xx answer; throws an OAuth2Error otherwise. */
async function postForm(
  request: TokenRequest,
  form: URLSearchParams,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  secrets: Array<string | null | undefined>,
): Promise<Record<string, unknown>> {
  const where = `the token endpoint ${endpointName(request.url)}`;
  let res: Response;
  try {
    const timeout = AbortSignal.timeout(timeoutMs);
    res = await fetch(request.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
      redirect: 'error', // a redirect would resend the secret to wherever it points
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (err) {
    throw new OAuth2Error(`${where} cannot be reached (${networkCause(err)})`, 'unreachable');
  }
  const text = await res.text().catch(() => '');
  const body = parseJson(text);
  if (res.ok && body) return body;
  if (res.ok) throw new OAuth2Error(`${where} answered something that is not JSON`, 'unreachable');
  if (res.status >= 500 || res.status === 429) throw new OAuth2Error(`${where} answered HTTP ${res.status}`, 'unreachable');
  const code = typeof body?.error === 'string' ? body.error : null;
  const description = typeof body?.error_description === 'string' ? redact(firstLine(body.error_description), secrets) : '';
  const said = code ? `${code}${description ? `: ${description}` : ''}` : `HTTP ${res.status}`;
  const whose = `client ${request.auth.client_id} (${request.auth.grant} grant)`;
  throw new OAuth2Error(`${where} refused ${whose}: ${said}${hint(code, request.auth.grant)}`, 'refused', code);
}

function readToken(body: Record<string, unknown>, request: TokenRequest, secrets: Array<string | null | undefined>) {
  const where = `the token endpoint ${endpointName(request.url)}`;
  const value = body.access_token;
  if (typeof value !== 'string' || value === '') throw new OAuth2Error(`${where} answered without an access_token`, 'refused');
  const type = body.token_type;
  if (typeof type === 'string' && type.toLowerCase() !== 'bearer') {
    throw new OAuth2Error(`${where} issued a token of type "${redact(type, [...secrets, value])}", not Bearer`, 'refused');
  }
  const seconds = Number(body.expires_in);
  const expiresInS = Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : DEFAULT_LIFETIME_S;
  const rotated = typeof body.refresh_token === 'string' && body.refresh_token !== '' ? body.refresh_token : null;
  return { value, expiresInS, refreshToken: rotated };
}

/** What the admin does next, for the refusals that have one answer. */
function hint(code: string | null, grant: LoginAuth['grant']): string {
  if (code === 'invalid_grant' && grant === 'refresh_token') return ' (the refresh token was revoked or has expired: sign in again to get a new one)';
  if (code === 'invalid_client' || code === 'unauthorized_client') return ' (check auth.client_id and auth.client_secret)';
  if (code === 'invalid_scope') return ' (check auth.scope)';
  return '';
}

/** The endpoint without any user:password@ or query a URL could carry. */
function endpointName(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function networkCause(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'no answer in time';
  if (e.name === 'AbortError') return 'stopped';
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/)[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** Blanks every secret the text contains (a server echoing what it was sent). */
function redact(text: string, secrets: Array<string | null | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= MIN_REDACTED) out = out.split(s).join('[redacted]');
  return out;
}
