// Throw-away Dovecot 2.3 instances for tests, following /work/shared/notes/dovecot-for-tests.md.
// Each instance has its own dir (config, users, run/, state/, mail/, log) and its own ports.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { freePort } from './ports';
import { runOwned, spawnOwned, type OwnedProcess } from './processes';
import { makeTempDir } from './tmp';
import { bound, sleep, waitFor } from './wait';

const DOVECOT = '/usr/sbin/dovecot';
const DOVEADM = '/usr/bin/doveadm';
// Copied from /work/shared/notes next to this file: the shared dir may not exist elsewhere.
const TEMPLATE_URL = new URL('./dovecot-test.conf.template', import.meta.url);
const MAX_START_ATTEMPTS = 4; // first try + 3 retries with new ports when the port is taken
const GREETING_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 3_000;

export type DovecotUser = { user: string; password: string };
export type DoveadmResult = { stdout: string; stderr: string; code: number };

export interface DovecotInstance {
  host: '127.0.0.1';
  port: number;
  lmtpPort: number;
  baseDir: string;
  confPath: string;
  /** pid of the master (= process group id); changes on restart(). */
  readonly pid: number;
  users: DovecotUser[];
  /** Appends to the passwd-file; Dovecot re-reads it on change, so the user can log in at once. */
  addUser(user: string, password: string): Promise<void>;
  stop(): Promise<void>;
  /** stop() then start again on the same ports and dirs, so mail persists. */
  restart(): Promise<void>;
  /** `doveadm -c CONF ...args`; -u commands need the server running. Never throws on exit code. */
  doveadm(args: string[], input?: Buffer | string): Promise<DoveadmResult>;
  /** A not yet connected ImapFlow logged in as `user` (password from `users` unless given). */
  imapClient(user: string, password?: string): ImapFlow;
}

export interface StartDovecotOptions {
  users?: DovecotUser[];
  /**
   * Also log in with OAuth2 access tokens (SASL XOAUTH2, and OAUTHBEARER when listed), validated
   * by Dovecot's oauth2 passdb against this RFC 7662 introspection endpoint (POST token=…), which
   * must answer {active, username}. Passwords keep working for the same users.
   */
  oauth2?: { introspectionUrl: string; mechanisms?: Array<'xoauth2' | 'oauthbearer'> };
  /** Ports for the first start attempt (tests of the retry path); default: free ports. */
  ports?: { imap: number; lmtp: number };
}

const DEFAULT_USERS: readonly DovecotUser[] = [
  { user: 'alice@example.test', password: 'secret' },
  { user: 'bob@example.test', password: 'secret' },
  { user: 'carol@example.test', password: 'secret' },
];

// Masters are started through test/support/processes.ts, which kills and reaps their process
// groups when the test file ends, whatever happened to the test.
type Running = OwnedProcess;
const baseDirs = new Set<string>();

function removeBaseDirs(): void {
  // Instance dirs live until the test process ends, so restart() after stop() and log reading
  // keep working; MAILWARDEN_KEEP_DOVECOT=1 keeps them for debugging.
  if (process.env.MAILWARDEN_KEEP_DOVECOT) return;
  for (const dir of baseDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort: never turn a passing run into a crash at exit
    }
  }
  baseDirs.clear();
}
process.on('exit', removeBaseDirs);

/** uid/gid that own mail files plus Dovecot's internal/login users (gotchas 1, 5 in the notes). */
function accountSettings(): { uid: number; gid: number; vars: Record<string, string> } {
  const uid = process.getuid?.() ?? 0;
  // As root: Dovecot refuses mail uid 0, so Debian's `mail` (8:8) owns the mail files.
  // Non-root: everything runs as the current user (the template's chroots are already empty).
  const [mailUid, mailGid] = uid === 0 ? [8, 8] : [uid, process.getgid?.() ?? uid];
  const me = uid === 0 ? '' : os.userInfo().username;
  const group = uid === 0 ? '' : execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
  const vars = {
    MAIL_UID: String(mailUid),
    MAIL_GID: String(mailGid),
    INTERNAL_USER: uid === 0 ? 'dovecot' : me,
    INTERNAL_GROUP: uid === 0 ? 'dovecot' : group,
    LOGIN_USER: uid === 0 ? 'dovenull' : me,
  };
  return { uid: mailUid, gid: mailGid, vars };
}

/** The template's OAuth2 placeholders, and the passdb's own settings file (empty without `oauth2`). */
function oauth2Settings(baseDir: string, oauth2: StartDovecotOptions['oauth2']): { vars: Record<string, string>; file: { path: string; text: string } | null } {
  if (!oauth2) return { vars: { OAUTH_MECHANISMS: '', OAUTH_PASSDB: '', PASSWD_FILE_MECHANISMS: '' }, file: null };
  const mechanisms = (oauth2.mechanisms ?? ['xoauth2']).join(' ');
  const extPath = path.join(baseDir, 'dovecot-oauth2.conf.ext');
  const passdb = `passdb {\n  driver = oauth2\n  mechanisms = ${mechanisms}\n  args = ${extPath}\n}`;
  // Dovecot 2.3: introspection alone (no tokeninfo_url) validates the token; the username it
  // returns must equal the login name, and `active` must be true.
  const text = [
    `introspection_url = ${oauth2.introspectionUrl}`,
    'introspection_mode = post',
    'force_introspection = yes',
    'username_attribute = username',
    'active_attribute = active',
    'active_value = true',
    '',
  ].join('\n');
  return {
    vars: { OAUTH_MECHANISMS: ` ${mechanisms}`, OAUTH_PASSDB: passdb, PASSWD_FILE_MECHANISMS: '  mechanisms = plain login none' },
    file: { path: extPath, text },
  };
}

function renderConfig(vars: Record<string, string>): string {
  const template = readFileSync(TEMPLATE_URL, 'utf8');
  const out = template.replace(/@([A-Z_]+)@/g, (m, key: string) => vars[key] ?? m);
  const left = out.match(/@[A-Z_]+@/);
  if (left) throw new Error(`dovecot template placeholder ${left[0]} has no value`);
  return out;
}

async function twoFreePorts(): Promise<{ imap: number; lmtp: number }> {
  const imap = await freePort();
  let lmtp = await freePort();
  while (lmtp === imap) lmtp = await freePort();
  return { imap, lmtp };
}

async function logTail(baseDir: string, lines = 30): Promise<string> {
  try {
    const log = await fs.readFile(path.join(baseDir, 'dovecot.log'), 'utf8');
    return log.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log file)';
  }
}

/** One connection attempt: true when the server sent a line starting with `* OK`. */
function tryGreeting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    // The master binds the port before imap-login works: a connect alone proves nothing (notes).
    socket.on('close', () => done(false));
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.startsWith('* OK'));
    });
  });
}

class EarlyExit extends Error {
  constructor(
    message: string,
    readonly portInUse: boolean,
  ) {
    super(message);
  }
}

/** Spawns the master for an already written config and waits for the IMAP greeting. */
async function launch(confPath: string, baseDir: string, port: number): Promise<Running> {
  // Own process group (the master keeps it for all its children), SIGTERM from the kernel if
  // this worker dies: the master then stops its children itself.
  const running = spawnOwned(DOVECOT, ['-F', '-c', confPath], { deathSignal: 'TERM', stdio: ['ignore', 'pipe', 'pipe'] });
  const { child } = running;
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let alive = true;
  let exitInfo = '';
  child.once('exit', (code, signal) => {
    alive = false;
    exitInfo = signal ? `signal ${signal}` : `code ${code}`;
  });
  const exited = running.exited;
  // Don't let a forgotten instance keep the test process alive; the root afterAll kills it.
  child.unref();
  (child.stdout as net.Socket | null)?.unref?.();
  (child.stderr as net.Socket | null)?.unref?.();

  const deadline = Date.now() + bound(GREETING_TIMEOUT_MS);
  while (alive) {
    // Race the exit: a foreign listener on a taken port may accept and stay silent for 1 s.
    if (await Promise.race([tryGreeting(port), exited.then(() => false)])) return running;
    if (Date.now() > deadline) {
      await running.kill();
      throw new Error(
        `dovecot on port ${port} sent no greeting within ${bound(GREETING_TIMEOUT_MS)}ms\n` + `output:\n${output}\nlog tail:\n${await logTail(baseDir)}`,
      );
    }
    await sleep(20);
  }
  await exited;
  // Errors before logging is set up only reach stderr, later ones only the log: show both.
  const tail = await logTail(baseDir);
  const inUse = /Address already in use/.test(output + tail);
  await running.kill(); // stragglers, if any
  throw new EarlyExit(`dovecot exited early (${exitInfo}) using ${confPath}\nstderr:\n${output.trim()}\nlog tail:\n${tail}`, inUse);
}

async function stopRunning(running: Running): Promise<void> {
  running.child.ref(); // keep the event loop alive while we wait for the exit
  // imap/log/stats children can outlive the master (gotcha 7) and would hold the port on
  // restart: stop() kills what is left of the group and returns only once it is empty.
  await running.stop({ signal: 'SIGTERM', graceMs: STOP_GRACE_MS });
}

export async function startDovecot(opts: StartDovecotOptions = {}): Promise<DovecotInstance> {
  if (!existsSync(DOVECOT)) {
    throw new Error('Dovecot is not installed: run `npm test` as root (it installs dovecot-imapd) ' + 'or apt-get install dovecot-imapd dovecot-lmtpd');
  }
  const users = (opts.users ?? DEFAULT_USERS).map((u) => ({ ...u }));
  const account = accountSettings();

  const baseDir = await makeTempDir('mailwarden-dovecot-');
  baseDirs.add(baseDir);
  // mkdtemp makes 0700; the internal user `dovecot` must traverse it to read `users` (gotcha 3).
  await fs.chmod(baseDir, 0o755);
  const mailDir = path.join(baseDir, 'mail');
  await fs.mkdir(mailDir);
  // The mail uid must be able to create Maildirs (gotcha 2); as non-root it already is the owner.
  if (process.getuid?.() === 0) await fs.chown(mailDir, account.uid, account.gid);
  const usersPath = path.join(baseDir, 'users');
  await fs.writeFile(usersPath, users.map((u) => `${u.user}:{PLAIN}${u.password}\n`).join(''));
  const confPath = path.join(baseDir, 'dovecot.conf');
  const oauth2 = oauth2Settings(baseDir, opts.oauth2);
  if (oauth2.file) await fs.writeFile(oauth2.file.path, oauth2.file.text);

  let ports = opts.ports ?? (await twoFreePorts());
  let running: Running | undefined;
  for (let attempt = 1; !running; attempt++) {
    await fs.writeFile(confPath, renderConfig({ ...account.vars, ...oauth2.vars, BASE: baseDir, PORT: `${ports.imap}`, LMTP_PORT: `${ports.lmtp}` }));
    try {
      running = await launch(confPath, baseDir, ports.imap);
    } catch (err) {
      // freePort() is racy (another worker may bind the port first): retry on new ports.
      if (!(err instanceof EarlyExit && err.portInUse) || attempt >= MAX_START_ATTEMPTS) throw err;
      ports = await twoFreePorts();
    }
  }

  let current: Running = running;
  let currentPid = current.child.pid as number;
  let stopped = false;

  const instance: DovecotInstance = {
    host: '127.0.0.1',
    port: ports.imap,
    lmtpPort: ports.lmtp,
    baseDir,
    confPath,
    get pid() {
      return currentPid;
    },
    users,
    async addUser(user, password) {
      users.push({ user, password });
      await fs.appendFile(usersPath, `${user}:{PLAIN}${password}\n`);
      if (stopped) return; // read at the next start
      // passwd-file is re-stat()ed at most once per second (at the first lookup in that second),
      // so a login right after another one can miss the new line: wait until auth sees it.
      await waitFor(async () => (await instance.doveadm(['auth', 'test', user, password])).code === 0, {
        timeoutMs: 5_000,
        intervalMs: 50,
        what: `dovecot to accept the new user ${user}`,
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopRunning(current);
    },
    async restart() {
      await instance.stop();
      // Same config file, hence same ports and dirs: mail and UIDVALIDITY survive.
      current = await launch(confPath, baseDir, instance.port);
      currentPid = current.child.pid as number;
      stopped = false;
    },
    doveadm(args, input) {
      return runDoveadm(['-c', confPath, ...args], input);
    },
    imapClient(user, password) {
      const pass = password ?? users.find((u) => u.user === user)?.password;
      if (pass === undefined) throw new Error(`imapClient: unknown user ${user} (and no password given)`);
      const auth = { user, pass };
      return new ImapFlow({ host: '127.0.0.1', port: instance.port, secure: false, auth, logger: false });
    },
  };
  return instance;
}

function runDoveadm(args: string[], input?: Buffer | string): Promise<DoveadmResult> {
  return runOwned(DOVEADM, args, { input: input ?? '', timeoutMs: bound(30_000), what: `doveadm ${args.join(' ')}` });
}
