// OAuth2 boxes end to end (issue 17): a Dovecot whose oauth2 passdb asks the test identity
// provider (test/support/oauth2-server.ts) whether a token is good, the daemon ingesting over
// SASL XOAUTH2 and answering through an SMTP sink that takes only XOAUTH2, an access token that
// expires or that the server stops accepting being replaced without losing mail, a revoked refresh
// token stopping only its own box (one clear error, then backoff) until the admin puts a new one
// in the secret file, and `mailwarden auth test`. No token or secret may appear in any log line,
// error message, database error field or CLI output.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, type CliResult } from '../support/cli';
import { rewriteTestConfig, writeTestConfig, type TestConfig } from '../support/config';
import { startDovecot, type DovecotInstance } from '../support/dovecot';
import { appendMail, buildMail } from '../support/imap';
import { startOAuth2Server, type OAuth2TestServer } from '../support/oauth2-server';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { makeTempDir, removeTempDir } from '../support/tmp';
import { waitFor } from '../support/wait';
import { newMessageId, openDb, waitForInbound } from './helpers';

const IMAP_APP = { id: 'mw-imap', secret: 'cs-imap-6f1c0e9b2d' };
const SMTP_APP = { id: 'mw-smtp', secret: 'cs-smtp-93ab71c4e0', appUser: 'desk@example.test' };
const IMAP_SCOPE = 'https://outlook.office.com/IMAP.AccessAsUser.All offline_access';
const APP_ENV = { MW_IMAP_SECRET: IMAP_APP.secret, MW_SMTP_SECRET: SMTP_APP.secret };

let idp: OAuth2TestServer;
let dovecot: DovecotInstance;
let sink: SmtpSink;

beforeAll(async () => {
  idp = await startOAuth2Server({ clients: [IMAP_APP, SMTP_APP] });
  // XOAUTH2 only, as Microsoft 365 offers it (imapflow would take OAUTHBEARER where offered).
  dovecot = await startDovecot({ oauth2: { introspectionUrl: idp.introspectionUrl, mechanisms: ['xoauth2'] } });
  for (const u of ['o1', 'o2', 'o3', 'o4', 'p5']) await dovecot.addUser(`${u}@example.test`, 'secret');
  sink = await startSmtpSink({ xoauth2: (user, token) => idp.validFor(user, token) });
});
afterAll(async () => {
  await sink?.stop();
  await dovecot?.stop();
  await idp?.stop();
});

interface BoxSpec {
  id: string;
  user: string;
  /** `${…}` reference of the refresh token; a password box without it. */
  refreshToken?: string;
}

/** A config whose boxes log in with OAuth2 (refresh tokens) unless told otherwise; SMTP through the sink by client credentials. */
async function oauthConfig(boxes: BoxSpec[], opts: { smtp?: boolean } = {}): Promise<TestConfig> {
  const cfg = await writeTestConfig({
    imap: { host: dovecot.host, port: dovecot.port },
    ...(opts.smtp ? { smtp: { host: sink.host, port: sink.port } } : {}),
    mailboxes: boxes.map((b) => ({ id: b.id, address: b.user, pool: 'general' })),
  });
  rewriteTestConfig(cfg, (doc) => {
    boxes.forEach((b, i) => {
      if (!b.refreshToken) return;
      const imap = doc.mailboxes[i].imap;
      delete imap.password;
      imap.auth = {
        method: 'xoauth2',
        token_url: idp.tokenUrl,
        client_id: IMAP_APP.id,
        client_secret: '${MW_IMAP_SECRET}',
        refresh_token: b.refreshToken,
        scope: IMAP_SCOPE,
      };
    });
    if (opts.smtp) {
      doc.smtp.user = SMTP_APP.appUser;
      doc.smtp.auth = {
        method: 'xoauth2',
        grant: 'client_credentials',
        token_url: idp.tokenUrl,
        client_id: SMTP_APP.id,
        client_secret: '${MW_SMTP_SECRET}',
        scope: 'https://outlook.office365.com/.default',
      };
    }
  });
  return cfg;
}

const send = async (user: string, subject: string, from = 'customer@customer.test') => {
  const messageId = newMessageId();
  await appendMail(dovecot, user, 'INBOX', buildMail({ from, to: user, subject, text: 'hello', messageId }));
  return messageId;
};

/** Mail delivered while Dovecot is down, as an MTA writing the Maildir would (the box must exist). */
function deliverToMaildir(user: string, subject: string): string {
  const messageId = newMessageId();
  const file = path.join(dovecot.baseDir, 'mail', user, 'Maildir', 'new', `${Date.now()}.M${Math.random().toString().slice(2)}P1.mailwarden-test`);
  fs.writeFileSync(file, buildMail({ from: 'meanwhile@customer.test', to: user, subject, text: 'x', messageId }).replace(/\r\n/g, '\n'));
  if (process.getuid?.() === 0) fs.chownSync(file, 8, 8);
  return messageId;
}

/** Fails naming the kind of value when any secret or token the identity provider knows occurs in the texts. */
function expectNoSecret(texts: string[]): void {
  const all = texts.join('\n');
  const leaked = idp.secrets().filter((s) => all.includes(s));
  expect(
    leaked.map((s) => `${s.slice(0, 3)}… (${s.length} chars)`),
    'a token or secret leaked',
  ).toEqual([]);
}

const cliText = (r: CliResult) => `${r.stdout}\n${r.stderr}`;

describe('OAuth2 boxes', () => {
  it('ingest over XOAUTH2 and answer over SMTP XOAUTH2 with client credentials; a token the relay stops accepting is renewed (fails on a password login, a lost auto-response or a token in a log)', async () => {
    const cfg = await oauthConfig([{ id: 'o1', user: 'o1@example.test', refreshToken: '${O1_RT}' }], { smtp: true });
    const env = { ...APP_ENV, O1_RT: idp.grantRefreshToken('o1@example.test', IMAP_APP.id) };
    const db = await openDb(cfg);
    const daemon = await startDaemon(cfg.configPath, { env });
    try {
      const first = await send('o1@example.test', 'First over XOAUTH2', 'c1@customer.test');
      expect((await waitForInbound(db, first, 'mail in the OAuth2 box')).mailbox_id).toBe('o1');
      expect(fs.readFileSync(path.join(dovecot.baseDir, 'dovecot.log'), 'utf8')).toMatch(/Login: user=<o1@example\.test>, method=XOAUTH2,/);
      await sink.waitFor((m) => m.some((x) => x.envelope.to.includes('c1@customer.test')), 15_000, 'the first auto-response');
      expect(sink.logins).toEqual([{ user: 'desk@example.test', ok: true }]);
      // The drainer keeps its relay connection a moment for the next mail (issue 18); the token is
      // asked for again only by a new login, so the next mail must come after that connection closed.
      await waitFor(() => sink.connections === 0, { what: 'the daemon to close its idle relay connection' });

      // The relay stops taking the token the daemon holds (revoked or expired early on its side).
      idp.expireAccessTokens('desk@example.test');
      await send('o1@example.test', 'Second over XOAUTH2', 'c2@customer.test');
      await sink.waitFor((m) => m.some((x) => x.envelope.to.includes('c2@customer.test')), 15_000, 'the second auto-response, with a new token');
      expect(sink.logins.slice(1)).toEqual([
        { user: 'desk@example.test', ok: false },
        { user: 'desk@example.test', ok: true },
      ]);
      const appTokens = idp.requests.filter((r) => r.clientId === SMTP_APP.id);
      expect(appTokens.map((r) => [r.grant, r.form.scope, r.status])).toEqual([
        ['client_credentials', 'https://outlook.office365.com/.default', 200],
        ['client_credentials', 'https://outlook.office365.com/.default', 200],
      ]);
      expect(daemon.logs.filter((l) => l.event === 'outbox.deferred' || l.event === 'outbox.failed' || l.level >= 50)).toEqual([]);
      expect(await daemon.stop()).toBe(0);
      expectNoSecret(daemon.logs.map((l) => JSON.stringify(l)));
    } finally {
      await daemon.kill();
      await db.close();
    }
  });

  it('replace an expired access token before connecting, and one the server stopped accepting after its refusal; mail that came meanwhile is taken (fails on a lost message or a backoff)', async () => {
    idp.lifetimeS = 4; // the daemon uses it for 2 s
    const cfg = await oauthConfig([{ id: 'o2', user: 'o2@example.test', refreshToken: '${O2_RT}' }]);
    const env = { ...APP_ENV, O2_RT: idp.grantRefreshToken('o2@example.test', IMAP_APP.id) };
    const db = await openDb(cfg);
    const daemon = await startDaemon(cfg.configPath, { env });
    const boxLines = (event: string) => daemon.logs.filter((l) => l.mailbox === 'o2' && l.event === event);
    try {
      const first = await waitForInbound(db, await send('o2@example.test', 'Before'), 'the first mail');
      await daemon.waitForLog((l) => l.event === 'mailbox.synced' && l.mailbox === 'o2' && l.last_uid >= first.uid!, 'the pass that took it');
      const [t1] = idp.accessTokens('o2@example.test');
      idp.lifetimeS = 3600;
      await waitFor(() => !idp.isActive(t1!), { what: 'the first access token to expire at the provider', timeoutMs: 10_000 });

      // Expired: the daemon knows it from expires_in and fetches a new token before logging in.
      await dovecot.stop();
      const meanwhile = deliverToMaildir('o2@example.test', 'While the token expired');
      await dovecot.restart();
      expect((await waitForInbound(db, meanwhile, 'the mail that came while the token expired', 30_000)).outcome).toBe('case');
      expect(idp.accessTokens('o2@example.test')).toHaveLength(2);
      expect([...boxLines('mailbox.token_rejected'), ...boxLines('mailbox.login_failed')]).toEqual([]);

      // Refused early (revoked at the provider, a clock that disagrees): dropped, replaced, logged in again at once.
      idp.expireAccessTokens('o2@example.test');
      await dovecot.stop();
      const refused = deliverToMaildir('o2@example.test', 'While the token was refused');
      await dovecot.restart();
      expect((await waitForInbound(db, refused, 'the mail that came while the token was refused', 30_000)).outcome).toBe('case');
      expect(idp.accessTokens('o2@example.test')).toHaveLength(3);
      expect(boxLines('mailbox.token_rejected')).toHaveLength(1);
      expect(boxLines('mailbox.login_failed')).toEqual([]);
      expect(await db.db.selectFrom('inbound').select('id').where('mailbox_id', '=', 'o2').execute()).toHaveLength(3);
      expect(await daemon.stop()).toBe(0);
      expectNoSecret(daemon.logs.map((l) => JSON.stringify(l)));
    } finally {
      idp.lifetimeS = 3600;
      await daemon.kill();
      await db.close();
    }
  });

  it('with a revoked refresh token back off and log one clear error while the other boxes go on, until a new token is in the secret file (fails if one box stops the rest)', async () => {
    const secrets = await makeTempDir('mw-secrets-');
    const rtFile = path.join(secrets, 'o3-refresh-token');
    const rt3 = idp.grantRefreshToken('o3@example.test', IMAP_APP.id);
    fs.writeFileSync(rtFile, `${rt3}\n`);
    const cfg = await oauthConfig([
      { id: 'o3', user: 'o3@example.test', refreshToken: `\${file:${rtFile}}` },
      { id: 'o4', user: 'o4@example.test', refreshToken: '${O4_RT}' },
      { id: 'p5', user: 'p5@example.test' },
    ]);
    const env = { ...APP_ENV, O4_RT: idp.grantRefreshToken('o4@example.test', IMAP_APP.id) };
    const db = await openDb(cfg);
    const daemon = await startDaemon(cfg.configPath, { env });
    const o3 = (pred: (l: Record<string, any>) => boolean) => daemon.logs.filter((l) => l.mailbox === 'o3' && pred(l));
    try {
      for (const box of ['o3', 'o4', 'p5']) await daemon.waitForLog((l) => l.event === 'mailbox.connected' && l.mailbox === box, `box ${box} to connect`);

      // The user withdrew consent: the refresh token is revoked and so is the token in use.
      idp.revokeRefreshToken(rt3);
      idp.expireAccessTokens('o3@example.test');
      const kick = await dovecot.doveadm(['kick', 'o3@example.test']);
      expect(kick.code, kick.stderr).toBe(0);
      await waitFor(() => o3((l) => l.event === 'mailbox.token_failed').length >= 3, { what: 'three refused refreshes of box o3', timeoutMs: 30_000 });

      const toO4 = await send('o4@example.test', 'The other OAuth2 box goes on');
      const toP5 = await send('p5@example.test', 'The password box goes on');
      await waitForInbound(db, toO4, 'mail in o4');
      await waitForInbound(db, toP5, 'mail in p5');
      const waiting = await send('o3@example.test', 'Waits for the new refresh token');

      const failures = o3((l) => l.event === 'mailbox.token_failed');
      expect(o3((l) => l.level >= 50)).toEqual([failures[0]]);
      expect(failures[0]!.err).toBe(
        `the token endpoint ${idp.tokenUrl} refused client mw-imap (refresh_token grant): invalid_grant: ` +
          'AADSTS70008: The refresh token has expired or is revoked. (the refresh token was revoked or has expired: sign in again to get a new one)',
      );
      expect(failures.slice(1).map((l) => l.level)).toEqual(failures.slice(1).map(() => 40));
      expect(failures[2]!.retry_in_ms).toBeGreaterThan(failures[0]!.retry_in_ms / 2); // backoff, with jitter
      expect(daemon.logs.filter((l) => l.mailbox !== 'o3' && l.level >= 50)).toEqual([]);
      const state = await db.db.selectFrom('mailbox_state').select('last_error').where('mailbox_id', '=', 'o3').executeTakeFirst();
      expect(state?.last_error).toContain('invalid_grant');

      // What an admin sees when checking the box by hand, in words and in JSON.
      const check = await runCli(['auth', 'test', 'o3', '--config', cfg.configPath], { env });
      expect(check.code).toBe(69);
      expect(check.stderr).toContain('mailwarden: no access token: the token endpoint');
      expect(check.stderr).toContain('sign in again to get a new one');
      const checkJson = await runCli(['auth', 'test', 'o3', '--config', cfg.configPath, '--json'], { env });
      expect(checkJson.stdout).toBe('');
      expect(JSON.parse(checkJson.stderr).error).toMatchObject({ code: 'ETOKEN', exit: 69 });

      // A new consent: the admin replaces the secret file, and the next try takes it up without a restart.
      fs.writeFileSync(rtFile, `${idp.grantRefreshToken('o3@example.test', IMAP_APP.id)}\n`);
      expect((await waitForInbound(db, waiting, 'the mail that waited in o3', 60_000)).mailbox_id).toBe('o3');
      expect(await daemon.stop()).toBe(0);
      const lastErrors = await db.db.selectFrom('mailbox_state').select('last_error').execute();
      expectNoSecret([...daemon.logs.map((l) => JSON.stringify(l)), cliText(check), cliText(checkJson), JSON.stringify(lastErrors)]);
    } finally {
      await daemon.kill();
      await db.close();
      await removeTempDir(secrets);
    }
  });

  it('`mailwarden auth test` fetches a token and logs in once, saying what it did, for a box and for SMTP (fails on a token in its output)', async () => {
    const cfg = await oauthConfig(
      [
        { id: 'o1', user: 'o1@example.test', refreshToken: '${O1_RT}' },
        { id: 'p5', user: 'p5@example.test' },
        { id: 'other', user: 'o4@example.test', refreshToken: '${O1_RT}' }, // o1's consent, o4's box
      ],
      { smtp: true },
    );
    const env = { ...APP_ENV, O1_RT: idp.grantRefreshToken('o1@example.test', IMAP_APP.id) };
    const box = await runCli(['auth', 'test', 'o1', '--config', cfg.configPath], { env });
    expect(box.stderr).toBe('');
    expect(box.code).toBe(0);
    expect(box.stdout.split('\n')).toEqual([
      `o1: IMAP 127.0.0.1:${dovecot.port}, auth.method xoauth2`,
      `  token: access token fetched: ${idp.tokenUrl}, client mw-imap, refresh_token grant, scope "${IMAP_SCOPE}"; expires in 3600 s`,
      `  login: logged in to 127.0.0.1:${dovecot.port} as o1@example.test with the access token`,
      expect.stringMatching(/^ {2}folder: INBOX holds \d+ messages$/),
      'ok',
      '',
    ]);

    const logins = sink.logins.length;
    const smtp = await runCli(['auth', 'test', 'smtp', '--config', cfg.configPath, '--json'], { env });
    expect(smtp.code, smtp.stderr).toBe(0);
    expect(JSON.parse(smtp.stdout)).toEqual({
      target: 'smtp',
      protocol: 'smtp',
      host: '127.0.0.1',
      port: sink.port,
      user: 'desk@example.test',
      method: 'xoauth2',
      steps: [
        {
          step: 'token',
          detail: `access token fetched: ${idp.tokenUrl}, client mw-smtp, client_credentials grant, scope "https://outlook.office365.com/.default"; expires in 3600 s`,
        },
        { step: 'login', detail: `logged in as desk@example.test with the access token at 127.0.0.1:${sink.port}` },
      ],
    });
    expect(sink.logins.slice(logins)).toEqual([{ user: 'desk@example.test', ok: true }]);

    const password = await runCli(['auth', 'test', 'p5', '--config', cfg.configPath], { env });
    expect(password.code, password.stderr).toBe(0);
    expect(password.stdout).toContain('  password: read from the configuration file\n');

    // The server says no: a token for o1 does not open o4's box.
    const refused = await runCli(['auth', 'test', 'other', '--config', cfg.configPath], { env });
    expect(refused.code).toBe(69);
    expect(refused.stderr.split('\n')).toEqual([
      'mailwarden: login refused: the server says "Authentication failed."',
      expect.stringMatching(/^ {2}token: access token fetched: /),
      '  login: failed',
      '',
    ]);
    const unset = await runCli(['auth', 'test', 'o1', '--config', cfg.configPath, '--json'], { env: { ...env, MW_IMAP_SECRET: undefined } });
    expect(unset.code).toBe(78);
    expect(JSON.parse(unset.stderr).error).toEqual({
      code: 'ESECRET',
      message: 'no access token: the OAuth2 client secret uses ${MW_IMAP_SECRET}, which is not set in the environment',
      details: ['token: failed'],
      exit: 78,
    });

    const unknown = await runCli(['auth', 'test', 'nope', '--config', cfg.configPath], { env });
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toBe('mailwarden: No mailbox "nope" (known: o1, p5, other, or smtp).\n');
    expectNoSecret([box, smtp, password, refused, unset, unknown].map(cliText));
  });
});
