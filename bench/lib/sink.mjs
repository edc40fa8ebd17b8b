// bench/lib/sink: a local SMTP server (smtp-server) that accepts everything and remembers when
// each recipient's mail arrived, so a bench can time "sent → auto-response at the SMTP server".
// It greets a new connection at once, as the relay it stands for does (Postfix's smtpd), with the
// listener's own server class (src/daemon/prompt-greeting.ts): smtp-server's own waits 100 ms
// first, and the daemon opens a new connection to its relay after 2 s without mail
// (src/outbound/lingering-sender.ts), so an auto-response after a quiet spell was timed 100 ms late.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function startSink() {
  const arrivals = new Map();
  const waiters = new Map();
  let received = 0;
  const counters = new Set();
  const { PromptGreetingServer } = await import(path.join(ROOT, 'dist/daemon/prompt-greeting.js'));
  const server = new PromptGreetingServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onData(stream, session, cb) {
      stream.on('data', () => {});
      stream.on('end', () => {
        const at = Date.now();
        received++;
        for (const r of session.envelope.rcptTo) {
          const to = r.address.toLowerCase();
          if (!arrivals.has(to)) arrivals.set(to, at);
          waiters.get(to)?.(at);
          waiters.delete(to);
        }
        for (const check of counters) check();
        cb(null, 'OK');
      });
    },
  });
  const port = await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.server.address().port)));
  return {
    port,
    arrivals,
    get received() {
      return received;
    },
    /** Resolves with the arrival time (ms) of the first mail to `address`. */
    arrival(address) {
      const to = address.toLowerCase();
      if (arrivals.has(to)) return Promise.resolve(arrivals.get(to));
      return new Promise((resolve) => waiters.set(to, resolve));
    },
    /** Resolves once `n` mails have arrived in all. */
    untilReceived(n) {
      return new Promise((resolve) => {
        const check = () => received >= n && (counters.delete(check), resolve());
        counters.add(check);
        check();
      });
    },
    stop: () => new Promise((r) => server.close(r)),
  };
}
