// A small OAuth2 identity provider on loopback, standing in for Microsoft Entra or Google in
// tests: a token endpoint (refresh_token and client_credentials grants, short-lived access tokens
// with expires_in, refresh tokens that can be revoked or rotated) and the RFC 7662 introspection
// endpoint Dovecot's oauth2 passdb asks whether a token is good. It runs inside the test process
// (a node:http server closed by stop()), records every request, and lists every secret and token
// it knows, so a test can prove none of them reached a log or an error message.
import { randomBytes } from 'node:crypto';
import http from 'node:http';

export interface TestOAuth2Client {
  id: string;
  secret: string;
  /** The mailbox a client_credentials token of this app may open (Exchange's mailbox permission). */
  appUser?: string;
}

export interface TokenRequestRecord {
  grant: string;
  clientId: string;
  /** The form as sent (secrets included: for assertions only, never printed). */
  form: Record<string, string>;
  status: number;
  /** The user the token was issued for, when one was. */
  user: string | null;
}

interface Issued {
  value: string;
  user: string;
  clientId: string;
  expiresAt: number;
  revoked: boolean;
}

export interface StartOAuth2ServerOptions {
  clients: TestOAuth2Client[];
  /** Seconds an access token lives (expires_in); default 3600. Changeable later through `lifetimeS`. */
  lifetimeS?: number;
  /** Each refresh returns a new refresh token and revokes the one used (as a strict provider may). */
  rotate?: boolean;
  /** Error descriptions quote the refresh token sent (a careless provider), to prove redaction. */
  echoSecrets?: boolean;
}

export interface OAuth2TestServer {
  tokenUrl: string;
  introspectionUrl: string;
  lifetimeS: number;
  /** Token requests in arrival order. */
  requests: TokenRequestRecord[];
  /** A refresh token for `user` at `clientId`, as a consent flow would have given the admin. */
  grantRefreshToken(user: string, clientId: string): string;
  revokeRefreshToken(token: string): void;
  /** Server-side: every access token issued so far (for `user`, if given) stops being accepted. */
  expireAccessTokens(user?: string): void;
  /** Access tokens issued for `user`, oldest first. */
  accessTokens(user: string): string[];
  /** Whether the introspection endpoint would call this token active now. */
  isActive(token: string): boolean;
  /** For the SMTP sink and the like: the token is active and issued for `user`. */
  validFor(user: string, token: string): boolean;
  /** Every client secret, refresh token and access token this server knows. */
  secrets(): string[];
  stop(): Promise<void>;
}

const random = (prefix: string) => `${prefix}-${randomBytes(18).toString('base64url')}`;

export async function startOAuth2Server(opts: StartOAuth2ServerOptions): Promise<OAuth2TestServer> {
  const clients = new Map(opts.clients.map((c) => [c.id, c]));
  const refreshTokens = new Map<string, { user: string; clientId: string; revoked: boolean }>();
  const issued = new Map<string, Issued>();
  const requests: TokenRequestRecord[] = [];

  const issue = (user: string, clientId: string, scope: string | undefined) => {
    const value = random('at');
    issued.set(value, { value, user, clientId, expiresAt: Date.now() + server.lifetimeS * 1000, revoked: false });
    return { access_token: value, token_type: 'Bearer', expires_in: server.lifetimeS, ...(scope ? { scope } : {}) };
  };

  const token = (form: Record<string, string>): [number, Record<string, unknown>, string | null] => {
    const client = clients.get(form.client_id ?? '');
    if (!client || client.secret !== form.client_secret) {
      return [401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' }, null];
    }
    if (form.grant_type === 'client_credentials') {
      if (!form.scope) return [400, { error: 'invalid_scope', error_description: "AADSTS90014: The required field 'scope' is missing." }, null];
      if (!client.appUser) return [400, { error: 'unauthorized_client', error_description: 'The app may not use client credentials.' }, null];
      return [200, issue(client.appUser, client.id, form.scope), client.appUser];
    }
    if (form.grant_type !== 'refresh_token') return [400, { error: 'unsupported_grant_type' }, null];
    const rt = refreshTokens.get(form.refresh_token ?? '');
    if (!rt || rt.revoked || rt.clientId !== client.id) {
      const quoted = opts.echoSecrets ? ` Token: ${form.refresh_token}` : '';
      return [400, { error: 'invalid_grant', error_description: `AADSTS70008: The refresh token has expired or is revoked.${quoted}\nTrace ID: 1234` }, null];
    }
    const body: Record<string, unknown> = issue(rt.user, client.id, form.scope);
    if (opts.rotate) {
      rt.revoked = true;
      body.refresh_token = server.grantRefreshToken(rt.user, client.id);
    }
    return [200, body, rt.user];
  };

  const active = (value: string) => {
    const t = issued.get(value);
    return t !== undefined && !t.revoked && Date.now() < t.expiresAt ? t : null;
  };

  const handle = (req: http.IncomingMessage, body: string): [number, Record<string, unknown>] => {
    const form = Object.fromEntries(new URLSearchParams(body));
    if (req.method === 'POST' && req.url === '/token') {
      const [status, answer, user] = token(form);
      requests.push({ grant: form.grant_type ?? '', clientId: form.client_id ?? '', form, status, user });
      return [status, answer];
    }
    if (req.method === 'POST' && req.url === '/introspect') {
      // RFC 7662: an unknown, expired or revoked token is just {active: false}.
      const t = active(form.token ?? '');
      return [200, t ? { active: true, username: t.user, client_id: t.clientId, exp: Math.floor(t.expiresAt / 1000) } : { active: false }];
    }
    return [404, { error: 'not_found' }];
  };

  const http_ = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const [status, answer] = handle(req, body);
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(answer));
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    http_.once('error', reject);
    http_.listen(0, '127.0.0.1', () => {
      const addr = http_.address();
      if (addr === null || typeof addr === 'string') reject(new Error('oauth2 test server: no TCP address'));
      else resolve(addr.port);
    });
  });

  const server: OAuth2TestServer = {
    tokenUrl: `http://127.0.0.1:${port}/token`,
    introspectionUrl: `http://127.0.0.1:${port}/introspect`,
    lifetimeS: opts.lifetimeS ?? 3600,
    requests,
    grantRefreshToken(user, clientId) {
      const value = random('rt');
      refreshTokens.set(value, { user, clientId, revoked: false });
      return value;
    },
    revokeRefreshToken(value) {
      const rt = refreshTokens.get(value);
      if (!rt) throw new Error('revokeRefreshToken: unknown refresh token');
      rt.revoked = true;
    },
    expireAccessTokens(user) {
      for (const t of issued.values()) if (user === undefined || t.user === user) t.revoked = true;
    },
    accessTokens(user) {
      return [...issued.values()].filter((t) => t.user === user).map((t) => t.value);
    },
    isActive: (value) => active(value) !== null,
    validFor: (user, value) => active(value)?.user === user,
    secrets: () => [...opts.clients.map((c) => c.secret), ...refreshTokens.keys(), ...issued.keys()],
    stop: () =>
      new Promise<void>((resolve) => {
        http_.closeAllConnections(); // Dovecot keeps its connection alive
        http_.close(() => resolve());
      }),
  };
  return server;
}
