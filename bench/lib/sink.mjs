// bench/lib/sink: a local SMTP server (smtp-server) that accepts everything and remembers when
// each recipient's mail arrived, so a bench can time "sent → auto-response at the SMTP server".
import { SMTPServer } from 'smtp-server';

export async function startSink() {
  const arrivals = new Map();
  const waiters = new Map();
  let received = 0;
  const counters = new Set();
  const server = new SMTPServer({
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
