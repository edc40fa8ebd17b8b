// References to values kept outside the config file: `${NAME}` (an environment variable) and
// `${file:/path}` (a file's contents, trailing newline trimmed, as systemd credentials and Docker
// secrets are written). Ordinary fields are expanded when the file is loaded. Passwords are not:
// the config keeps a SecretRef and the IMAP worker or SMTP sender resolves it when it connects,
// so a command that never connects never needs them, and a secret file changed on disk is read
// again at the next connection (SIGHUP included) without restarting.
import fs from 'node:fs';

const REFERENCE = /\$\{(?:file:([^}]+)|([A-Za-z_][A-Za-z0-9_]*))\}/g;

/** A secret as written in the config, resolved only where it is used (see resolveSecret). */
export interface SecretRef {
  readonly secret: string;
}

export function secretRef(written: string): SecretRef {
  return { secret: written };
}

/** Config paths whose values are secrets: left unexpanded at load time. */
export function isSecretPath(at: string): boolean {
  return /^(smtp|mailboxes\[\d+\]\.imap)\.(password|auth\.client_secret|auth\.refresh_token)$/.test(at);
}

/**
 * Replaces every reference in `text`. Each reference that cannot be resolved is passed to
 * `report` (one sentence) and replaced by ''.
 */
export function expandReferences(text: string, env: NodeJS.ProcessEnv, report: (message: string) => void): string {
  return text.replace(REFERENCE, (_all, file: string | undefined, name: string | undefined) => {
    if (file !== undefined) {
      try {
        return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        report(`uses \${file:${file}}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        return '';
      }
    }
    const value = env[name!];
    if (value === undefined) {
      report(`uses \${${name}}, which is not set in the environment`);
      return '';
    }
    return value;
  });
}

/** The problems resolving a secret would meet now, one sentence each (for `config check`). */
export function secretProblems(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  expandReferences(ref.secret, env, (m) => problems.push(m));
  return problems;
}

/**
 * The secret's value now; throws when an environment variable is unset or a file unreadable. The
 * message names the secret by `what` (the password, the OAuth2 client secret…), never its value.
 */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env, what = 'the password'): string {
  const problems: string[] = [];
  const value = expandReferences(ref.secret, env, (m) => problems.push(m));
  if (problems.length > 0) throw new Error(`${what} ${problems.join('; ')}`);
  return value;
}

/** Where a secret comes from, for reports: its `${…}` references, never a value written in the file. */
export function describeSecretSource(ref: SecretRef): string {
  const refs = ref.secret.match(REFERENCE);
  return refs ? refs.join(' ') : 'the configuration file';
}
