// The OAuth2 token client (issue 17) against the test identity provider on loopback, in-process:
// what it sends for each grant, how long it keeps a token (its clock is moved, never waited for),
// that one fetch serves concurrent callers and each user has their own token, that a refused token
// is dropped, and that its errors say what is wrong without a token or a secret in them. Then the
// config side: the fields xoauth2 needs, all listed in one pass.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { formatIssue, loadConfig } from '../../src/config/load';
import { OAuth2Error, TokenCache } from '../../src/config/oauth2';
import { secretRef } from '../../src/config/secrets';
import type { LoginAuth } from '../../src/config/types';
import { writeTestConfig } from '../support/config';
import { freePort } from '../support/ports';
import { startOAuth2Server, type OAuth2TestServer } from '../support/oauth2-server';
import { makeTempDir, removeTempDir } from '../support/tmp';

const CLIENT = { id: 'mw-client', secret: 'cs-0123456789abcdef', appUser: 'desk@example.test' };
const dirs: string[] = [];
let idp: OAuth2TestServer;

beforeAll(async () => {
  idp = await startOAuth2Server({ clients: [CLIENT] });
});
afterAll(async () => {
  await idp?.stop();
  for (const d of dirs) await removeTempDir(d);
});

/** A clock the test moves: ms since the start. */
function manualClock() {
  const clock = { t: 1_000_000, now: () => clock.t };
  return clock;
}

function refreshAuth(refreshToken: string, extra: Partial<LoginAuth> = {}): LoginAuth {
  return {
    method: 'xoauth2',
    token_url: idp.tokenUrl,
    client_id: CLIENT.id,
    client_secret: secretRef(CLIENT.secret),
    grant: 'refresh_token',
    refresh_token: secretRef(refreshToken),
    scope: 'https://outlook.office.com/IMAP.AccessAsUser.All offline_access',
    ...extra,
  };
}

/** Fails with the value found when any secret the server knows occurs in `text`. */
function expectNoSecret(text: string, server: OAuth2TestServer = idp): void {
  const leaked = server.secrets().filter((s) => text.includes(s));
  expect(leaked, 'a token or secret appears in the text').toEqual([]);
}

async function refusal(promise: Promise<unknown>): Promise<OAuth2Error> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OAuth2Error);
  return err as OAuth2Error;
}

describe('OAuth2 access tokens', () => {
  it('are fetched with the refresh_token grant, kept until a minute before they expire, then fetched again', async () => {
    const clock = manualClock();
    const tokens = new TokenCache({ now: clock.now });
    const rt = idp.grantRefreshToken('u1@example.test', CLIENT.id);
    const before = idp.requests.length;
    const first = await tokens.get(refreshAuth(rt));
    expect(first).toMatchObject({ fresh: true, expiresInS: 3600 });
    expect(idp.validFor('u1@example.test', first.value)).toBe(true);
    expect(idp.requests.slice(before).map((r) => r.form)).toEqual([
      {
        grant_type: 'refresh_token',
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        refresh_token: rt,
        scope: 'https://outlook.office.com/IMAP.AccessAsUser.All offline_access',
      },
    ]);
    clock.t += 3540_000 - 1;
    expect(await tokens.get(refreshAuth(rt))).toMatchObject({ value: first.value, fresh: false });
    clock.t += 1;
    const second = await tokens.get(refreshAuth(rt));
    expect(second).toMatchObject({ fresh: true });
    expect(second.value).not.toBe(first.value);
    expect(idp.requests.length - before).toBe(2);
  });

  it('of a short life are used for half of it', async () => {
    const short = await startOAuth2Server({ clients: [CLIENT], lifetimeS: 10 });
    try {
      const clock = manualClock();
      const tokens = new TokenCache({ now: clock.now });
      const auth = refreshAuth(short.grantRefreshToken('u2@example.test', CLIENT.id), { token_url: short.tokenUrl });
      const first = await tokens.get(auth);
      clock.t += 4_999;
      expect((await tokens.get(auth)).value).toBe(first.value);
      clock.t += 1;
      expect((await tokens.get(auth)).value).not.toBe(first.value);
    } finally {
      await short.stop();
    }
  });

  it('are fetched once for callers asking at the same time, and never shared between two users of one app', async () => {
    const tokens = new TokenCache();
    const a = refreshAuth(idp.grantRefreshToken('u3@example.test', CLIENT.id));
    const b = refreshAuth(idp.grantRefreshToken('u4@example.test', CLIENT.id));
    const before = idp.requests.length;
    const got = await Promise.all([tokens.get(a), tokens.get(a), tokens.get(b), tokens.get(a), tokens.get(b)]);
    expect(idp.requests.length - before).toBe(2);
    expect(new Set(got.map((t) => t.value)).size).toBe(2);
    expect(idp.validFor('u3@example.test', got[0].value)).toBe(true);
    expect(idp.validFor('u4@example.test', got[2].value)).toBe(true);
  });

  it('with client credentials send the scope, and a token the server refused is dropped for a new one', async () => {
    const tokens = new TokenCache();
    const auth: LoginAuth = {
      method: 'xoauth2',
      token_url: idp.tokenUrl,
      client_id: CLIENT.id,
      client_secret: secretRef('${CS}'),
      grant: 'client_credentials',
      scope: 'https://outlook.office365.com/.default',
    };
    const env = { CS: CLIENT.secret };
    const before = idp.requests.length;
    const first = await tokens.get(auth, { env });
    expect(idp.requests.slice(before).map((r) => r.form)).toEqual([
      { grant_type: 'client_credentials', client_id: CLIENT.id, client_secret: CLIENT.secret, scope: 'https://outlook.office365.com/.default' },
    ]);
    expect(idp.validFor('desk@example.test', first.value)).toBe(true);
    tokens.invalidate({ ...first, value: 'some-older-token' }); // not the cached one: kept
    expect((await tokens.get(auth, { env })).value).toBe(first.value);
    tokens.invalidate(first);
    const second = await tokens.get(auth, { env });
    expect(second).toMatchObject({ fresh: true });
    expect(second.value).not.toBe(first.value);
  });

  it('refresh with the rotated refresh token when the endpoint sends one', async () => {
    const rotating = await startOAuth2Server({ clients: [CLIENT], rotate: true });
    try {
      const clock = manualClock();
      const tokens = new TokenCache({ now: clock.now });
      const auth = refreshAuth(rotating.grantRefreshToken('u5@example.test', CLIENT.id), { token_url: rotating.tokenUrl });
      await tokens.get(auth);
      clock.t += 3600_000;
      await tokens.get(auth); // the configured refresh token is revoked by now: only the rotated one works
      expect(rotating.requests.map((r) => r.status)).toEqual([200, 200]);
      expect(rotating.requests[1]!.form.refresh_token).not.toBe(rotating.requests[0]!.form.refresh_token);
    } finally {
      await rotating.stop();
    }
  });

  it('refused for a revoked refresh token is one clear sentence, with neither the token nor the secret, even when the server quotes them', async () => {
    const careless = await startOAuth2Server({ clients: [CLIENT], echoSecrets: true });
    try {
      const rt = careless.grantRefreshToken('u6@example.test', CLIENT.id);
      careless.revokeRefreshToken(rt);
      const err = await refusal(new TokenCache().get(refreshAuth(rt, { token_url: careless.tokenUrl })));
      expect(err).toMatchObject({ kind: 'refused', oauthError: 'invalid_grant' });
      expect(err.message).toBe(
        `the token endpoint ${careless.tokenUrl} refused client mw-client (refresh_token grant): invalid_grant: ` +
          'AADSTS70008: The refresh token has expired or is revoked. Token: [redacted] ' +
          '(the refresh token was revoked or has expired: sign in again to get a new one)',
      );
      expectNoSecret(err.message, careless);
      const wrongSecret = await refusal(new TokenCache().get(refreshAuth(rt, { token_url: careless.tokenUrl, client_secret: secretRef('cs-wrong-secret') })));
      expect(wrongSecret.message).toMatch(/invalid_client: AADSTS7000215: Invalid client secret provided\. \(check auth\.client_id and auth\.client_secret\)$/);
      expect(wrongSecret.message).not.toContain('cs-wrong-secret');
    } finally {
      await careless.stop();
    }
  });

  it('from an endpoint that cannot be reached, or that fails, is a transient failure', async () => {
    const closed = `http://127.0.0.1:${await freePort()}/token`;
    const err = await refusal(new TokenCache().get(refreshAuth('rt-x', { token_url: closed })));
    expect(err).toMatchObject({ kind: 'unreachable', message: `the token endpoint ${closed} cannot be reached (ECONNREFUSED)` });
    const notFound = await refusal(new TokenCache().get(refreshAuth('rt-x', { token_url: idp.tokenUrl.replace('/token', '/nothing') })));
    expect(notFound).toMatchObject({ kind: 'refused', oauthError: 'not_found' });
  });

  it('need their secrets now: an unset variable is named, its value is not needed to load the config', async () => {
    const err = await refusal(new TokenCache().get(refreshAuth('rt-x', { client_secret: secretRef('${M365_SECRET}') }), { env: {} }));
    expect(err).toMatchObject({ kind: 'secret', message: 'the OAuth2 client secret uses ${M365_SECRET}, which is not set in the environment' });
  });
});

describe('xoauth2 in the config', () => {
  async function configWith(change: (doc: Record<string, any>) => void) {
    const dir = await makeTempDir('mw-oauth2-');
    dirs.push(dir);
    const cfg = await writeTestConfig({ dir, imap: { host: '127.0.0.1', port: 1143 }, smtp: { host: '127.0.0.1', port: 2525 } });
    change(cfg.doc);
    fs.writeFileSync(cfg.configPath, YAML.stringify(cfg.doc));
    return cfg.configPath;
  }

  it('lists every field the method and grant need, in one pass', async () => {
    const file = await configWith((doc) => {
      doc.mailboxes[0].imap.auth = { method: 'xoauth2' }; // password still set
      doc.mailboxes[1].imap.auth = { method: 'xoauth2', grant: 'client_credentials', token_url: 'http://login.example/token', refresh_token: 'x' };
      delete doc.mailboxes[1].imap.password;
      doc.smtp.auth = { method: 'xoauth2', token_url: 'https://login.example/token', client_id: 'app', refresh_token: '${SMTP_RT}' };
    });
    const { config, issues } = loadConfig(file, {});
    expect(config).toBeNull();
    expect(issues.map(formatIssue)).toEqual([
      'mailboxes[1].imap.auth.token_url: must be an https:// URL (http:// only on this machine: 127.0.0.1, [::1], localhost) (got "http://login.example/token")',
      'mailboxes[0].imap.password: is not used with auth.method xoauth2; remove it',
      'mailboxes[0].imap.auth.token_url: is required with auth.method xoauth2',
      'mailboxes[0].imap.auth.client_id: is required with auth.method xoauth2',
      'mailboxes[0].imap.auth.refresh_token: is required with the refresh_token grant',
      'mailboxes[1].imap.auth.client_id: is required with auth.method xoauth2',
      'mailboxes[1].imap.auth.client_secret: is required with the client_credentials grant',
      'mailboxes[1].imap.auth.scope: is required with the client_credentials grant (Microsoft 365: https://outlook.office365.com/.default)',
      'mailboxes[1].imap.auth.refresh_token: is not used with the client_credentials grant; remove it',
      'smtp.user: is required with auth.method xoauth2 (the address of the mailbox that sends)',
    ]);
  });

  it('a password box still needs its password', async () => {
    const file = await configWith((doc) => delete doc.mailboxes[0].imap.password);
    expect(loadConfig(file, {}).issues.map(formatIssue)).toEqual(['mailboxes[0].imap.password: is required (auth.method is password)']);
  });

  it('a valid xoauth2 box loads without its secrets; config check names the unset ones by field', async () => {
    const file = await configWith((doc) => {
      delete doc.mailboxes[0].imap.password;
      doc.mailboxes[0].imap.auth = {
        method: 'xoauth2',
        token_url: 'https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token',
        client_id: '00000000-1111-2222-3333-444444444444',
        client_secret: '${M365_CLIENT_SECRET}',
        refresh_token: '${file:/nonexistent/mw-refresh-token}',
        scope: 'https://outlook.office.com/IMAP.AccessAsUser.All offline_access',
      };
    });
    const loaded = loadConfig(file, {});
    expect(loaded.issues).toEqual([]);
    expect(loaded.config!.mailboxes[0]!.imap!.auth).toMatchObject({
      method: 'xoauth2',
      grant: 'refresh_token',
      client_secret: secretRef('${M365_CLIENT_SECRET}'),
    });
    expect(loadConfig(file, {}, { checkSecrets: true }).issues.map(formatIssue)).toEqual([
      'mailboxes[0].imap.auth.client_secret: uses ${M365_CLIENT_SECRET}, which is not set in the environment',
      'mailboxes[0].imap.auth.refresh_token: uses ${file:/nonexistent/mw-refresh-token}, which cannot be read (ENOENT)',
    ]);
  });
});
