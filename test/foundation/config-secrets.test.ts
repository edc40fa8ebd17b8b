// Secrets are resolved only by the part that uses them (issue 10): a command that never connects
// loads a config whose passwords are unset; `config check` still names them; `${file:/path}` is
// read at each resolution, so a replaced file counts without a restart. And the TLS settings map
// onto imapflow's and nodemailer's options. In-process, except one `config check` run.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { formatIssue, loadConfig } from '../../src/config/load';
import { referenceRows } from '../../src/config/reference';
import { isSecretPath, resolveSecret, secretRef } from '../../src/config/secrets';
import { imapClientOptions, imapCredential, imapTlsOptions } from '../../src/ingest/imap-connect';
import { relayOptions, smtpTlsOptions } from '../../src/outbound/sender';
import { runCli } from '../support/cli';
import { writeTestConfig, type TestConfig } from '../support/config';
import { makeTempDir, removeTempDir } from '../support/tmp';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeTempDir(d);
});

async function boxesWithPassword(password: string, extra: Record<string, unknown> = {}): Promise<TestConfig> {
  const dir = await makeTempDir('mw-secret-');
  dirs.push(dir);
  return writeTestConfig({
    dir,
    imap: { host: '127.0.0.1', port: 1143 },
    mailboxes: [{ id: 'support', address: 'alice@example.test', pool: 'general', password }],
    overrides: extra,
  });
}

describe('passwords are resolved by the part that connects', () => {
  it('a config whose ${IMAP_PW} is unset loads for a command that does not connect', async () => {
    const cfg = await boxesWithPassword('${IMAP_PW}');
    const { config, issues } = loadConfig(cfg.configPath, {});
    expect(issues).toEqual([]);
    expect(config!.mailboxes[0]!.imap!.password).toEqual(secretRef('${IMAP_PW}'));
  });

  it('is reported by the field that uses it when secrets are checked', async () => {
    const cfg = await boxesWithPassword('${IMAP_PW}');
    const { config, issues } = loadConfig(cfg.configPath, {}, { checkSecrets: true });
    expect(config).toBeNull();
    expect(issues.map(formatIssue)).toEqual(['mailboxes[0].imap.password: uses ${IMAP_PW}, which is not set in the environment']);
    expect(loadConfig(cfg.configPath, { IMAP_PW: 'pw' }, { checkSecrets: true }).issues).toEqual([]);
  });

  it('config check reports the unset variable and exits 1', async () => {
    const cfg = await boxesWithPassword('${IMAP_PW}');
    const r = await runCli(['config', 'check', '--config', cfg.configPath], { env: { IMAP_PW: undefined } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('mailboxes[0].imap.password: uses ${IMAP_PW}, which is not set in the environment');
  });

  it('reads ${file:/path} when resolving, trailing newline trimmed, and again after the file changes', async () => {
    const dir = await makeTempDir('mw-secret-');
    dirs.push(dir);
    const file = path.join(dir, 'imap-password');
    fs.writeFileSync(file, 'first\n');
    const ref = secretRef(`\${file:${file}}`);
    expect(resolveSecret(ref, {})).toBe('first');
    fs.writeFileSync(file, 'second\n');
    expect(resolveSecret(ref, {})).toBe('second');
    expect(() => resolveSecret(secretRef(`\${file:${dir}/missing}`), {})).toThrow(/cannot be read \(ENOENT\)/);
    expect(() => resolveSecret(secretRef('${NOPE}'), {})).toThrow('the password uses ${NOPE}, which is not set in the environment');
  });

  it('an unreadable secret file is reported by config check; non-secret fields may use ${file:} too', async () => {
    const cfg = await boxesWithPassword('${file:/nonexistent/mw-secret}');
    const keyFile = path.join(cfg.dir, 'signing-key');
    fs.writeFileSync(keyFile, 'a-signing-key-of-32-characters!!\n');
    cfg.doc.instance.secret = `\${file:${keyFile}}`;
    fs.writeFileSync(cfg.configPath, YAML.stringify(cfg.doc));
    const { issues } = loadConfig(cfg.configPath, {}, { checkSecrets: true });
    expect(issues.map(formatIssue)).toEqual(['mailboxes[0].imap.password: uses ${file:/nonexistent/mw-secret}, which cannot be read (ENOENT)']);
    expect(loadConfig(cfg.configPath, {}).config!.instance.secret).toBe('a-signing-key-of-32-characters!!');
  });

  it("the fields left unexpanded at load are exactly the schema's secret fields", () => {
    const secretKeys = referenceRows()
      .filter((r) => r.type === 'secret')
      .map((r) => r.key);
    expect(secretKeys).toEqual([
      'smtp.password',
      'smtp.auth.client_secret',
      'smtp.auth.refresh_token',
      'mailboxes[].imap.password',
      'mailboxes[].imap.auth.client_secret',
      'mailboxes[].imap.auth.refresh_token',
    ]);
    for (const key of secretKeys) expect(isSecretPath(key.replace('[]', '[3]'))).toBe(true);
    expect(isSecretPath('instance.secret')).toBe(false);
  });

  it('the IMAP and SMTP options carry the password resolved at that moment', async () => {
    const cfg = await boxesWithPassword('${IMAP_PW}', { smtp: { transport: 'smtp', user: 'relay', password: '${SMTP_PW}' } });
    const config = loadConfig(cfg.configPath, {}).config!;
    const imap = config.mailboxes[0]!.imap!;
    const credential = await imapCredential(imap, { env: { IMAP_PW: 'imap-pw' } });
    expect(credential).toEqual({ login: { user: 'alice@example.test', pass: 'imap-pw' }, token: null });
    expect(imapClientOptions(imap, credential.login).auth).toEqual({ user: 'alice@example.test', pass: 'imap-pw' });
    expect(relayOptions(config.smtp, { env: { SMTP_PW: 'smtp-pw' } }).auth).toEqual({ user: 'relay', pass: 'smtp-pw' });
  });
});

describe('TLS settings', () => {
  const ca = Buffer.from('-----BEGIN CERTIFICATE-----\n');
  const readCa = (file: string) => {
    expect(file).toBe('/etc/mailwarden/ca.pem');
    return ca;
  };

  it('map onto imapflow: secure, doSTARTTLS, tls.ca', () => {
    expect(imapTlsOptions({ tls: true, starttls: 'required' }, readCa)).toEqual({ secure: true });
    expect(imapTlsOptions({ tls: false, starttls: 'required' }, readCa)).toEqual({ secure: false, doSTARTTLS: true });
    expect(imapTlsOptions({ tls: false, starttls: 'refused' }, readCa)).toEqual({ secure: false, doSTARTTLS: false });
    expect(imapTlsOptions({ tls: false, starttls: 'allowed' }, readCa)).toEqual({ secure: false });
    expect(imapTlsOptions({ tls: true, starttls: 'allowed', ca_file: '/etc/mailwarden/ca.pem' }, readCa)).toEqual({ secure: true, tls: { ca } });
  });

  it('map onto nodemailer: requireTLS, ignoreTLS, tls.ca', () => {
    expect(smtpTlsOptions({ secure: false, starttls: 'required' }, readCa)).toEqual({ requireTLS: true });
    expect(smtpTlsOptions({ secure: false, starttls: 'refused' }, readCa)).toEqual({ ignoreTLS: true });
    expect(smtpTlsOptions({ secure: false, starttls: 'allowed' }, readCa)).toEqual({});
    expect(smtpTlsOptions({ secure: true, starttls: 'refused', ca_file: '/etc/mailwarden/ca.pem' }, readCa)).toEqual({ tls: { ca } });
  });

  it('default to allowed, and refuse a CA file that cannot be read or a policy that does not exist', async () => {
    const cfg = await boxesWithPassword('pw', { smtp: { transport: 'smtp', starttls: 'maybe', ca_file: 'missing-ca.pem' } });
    const { issues, config } = loadConfig(cfg.configPath, {});
    expect(config).toBeNull();
    expect(issues.map(formatIssue)).toEqual([
      'smtp.starttls: must be one of required, allowed, refused (got "maybe")',
      `smtp.ca_file: cannot be read (${path.join(cfg.dir, 'missing-ca.pem')}: ENOENT)`,
    ]);
    const plain = await boxesWithPassword('pw');
    expect(loadConfig(plain.configPath, {}).config!.mailboxes[0]!.imap!.starttls).toBe('allowed');
  });
});
