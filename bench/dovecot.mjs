// A throwaway Dovecot for the benches, started from the test harness's config template (IMAP and
// LMTP on free ports, one user), killed by stop(). Shared by bench/ingest.mjs and bench/flow.mjs.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './pg.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startDovecot(base, user) {
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
    // No OAuth2 passdb here (test/support/dovecot.ts fills these for its OAuth2 tests).
    OAUTH_MECHANISMS: '',
    OAUTH_PASSDB: '',
    PASSWD_FILE_MECHANISMS: '',
  };
  fs.chmodSync(base, 0o755);
  fs.mkdirSync(path.join(base, 'mail'));
  if (root) fs.chownSync(path.join(base, 'mail'), 8, 8);
  fs.writeFileSync(path.join(base, 'users'), `${user}:{PLAIN}secret\n`);
  const template = fs.readFileSync(path.join(ROOT, 'test/support/dovecot-test.conf.template'), 'utf8');
  const conf = path.join(base, 'dovecot.conf');
  fs.writeFileSync(
    conf,
    template.replace(/@([A-Z_]+)@/g, (m, k) => vars[k] ?? m),
  );
  const child = spawn('setpriv', ['--pdeathsig', 'TERM', '/usr/sbin/dovecot', '-F', '-c', conf], { detached: true, stdio: 'ignore' });
  const port = Number(vars.PORT);
  for (let i = 0; i < 500; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('data', (d) => (s.destroy(), resolve(d.toString().startsWith('* OK'))));
      s.once('error', () => resolve(false));
    });
    if (ok) return { port, lmtpPort: Number(vars.LMTP_PORT), stop: () => process.kill(-child.pid, 'SIGKILL') };
    await sleep(20);
  }
  throw new Error('dovecot did not start');
}
