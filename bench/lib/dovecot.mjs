// bench/lib/dovecot: one throw-away Dovecot for a benchmark, started the way the test harness
// starts it (test/support/dovecot.ts and ../shared/notes/dovecot-for-tests.md): the tests' own
// config template, free loopback ports for IMAP and LMTP, `dovecot -F` under setpriv --pdeathsig
// in its own process group, ready when the IMAP greeting arrives. Unlike the tests it says the
// durability out loud (`mail_fsync = optimized`, Dovecot's default: every delivered or APPENDed
// message file is fsynced before the reply), because it is the floor mailwarden is measured on.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../pg.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function greeting(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.once('data', (d) => (s.destroy(), resolve(d.toString().startsWith('* OK'))));
    s.once('error', () => resolve(false));
    s.once('close', () => resolve(false));
  });
}

/** Starts Dovecot under `base` (an empty dir) with these users (password `secret`). */
export async function startDovecot(base, users) {
  const root = process.getuid() === 0;
  const me = os.userInfo().username;
  const vars = {
    BASE: base,
    PORT: String(await freePort()),
    LMTP_PORT: String(await freePort()),
    MAIL_UID: root ? '8' : String(process.getuid()),
    MAIL_GID: root ? '8' : String(process.getgid()),
    INTERNAL_USER: root ? 'dovecot' : me,
    INTERNAL_GROUP: root ? 'dovecot' : execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim(),
    LOGIN_USER: root ? 'dovenull' : me,
    OAUTH_MECHANISMS: '',
    OAUTH_PASSDB: '',
    PASSWD_FILE_MECHANISMS: '',
  };
  fs.chmodSync(base, 0o755);
  fs.mkdirSync(path.join(base, 'mail'));
  if (root) fs.chownSync(path.join(base, 'mail'), 8, 8);
  fs.writeFileSync(path.join(base, 'users'), users.map((u) => `${u}:{PLAIN}secret\n`).join(''));
  const template = fs.readFileSync(path.join(ROOT, 'test/support/dovecot-test.conf.template'), 'utf8');
  const conf = path.join(base, 'dovecot.conf');
  const text = template.replace(/@([A-Z_]+)@/g, (m, k) => vars[k] ?? m);
  fs.writeFileSync(conf, `${text}\n# The floor is durable delivery: each new message file fsynced before the reply (the default).\nmail_fsync = optimized\n`);
  const child = spawn('setpriv', ['--pdeathsig', 'TERM', '/usr/sbin/dovecot', '-F', '-c', conf], { detached: true, stdio: 'ignore' });
  const port = Number(vars.PORT);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  };
  for (let i = 0; i < 500; i++) {
    if (await greeting(port)) return { port, lmtpPort: Number(vars.LMTP_PORT), base, pid: child.pid, stop };
    if (child.exitCode !== null) break;
    await sleep(20);
  }
  await stop();
  throw new Error(`dovecot did not start; see ${path.join(base, 'dovecot.log')}`);
}
