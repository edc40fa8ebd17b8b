// The daemon's drainer sends an auto-response within milliseconds of its commit (outbox-wake.ts),
// a few rows at once; a new SMTP connection per row would cost more than everything else (the
// greeting alone is ~100 ms on smtp-server, more with TLS). So the service keeps one sender across
// rounds, as Postfix's connection cache does, and closes it once it has been idle for a short
// linger, well inside any relay's idle timeout, so no idle connection is left for the relay to
// drop under us. A sender made for one config is never used for another: after a reload the next
// row gets a new one with the new smtp settings.
import type { Config } from '../config/types.js';
import { createSender, type Outgoing, type Sender } from './sender.js';

/** How long an idle connection is kept for the next row (Postfix keeps its cache 2 s by default). */
const LINGER_MS = 2_000;

/** A sender for the config in force at each send; close() drops the connection now (stop), the next send opens a new one. */
export function lingeringSender(currentConfig: () => Config, lingerMs = LINGER_MS): Sender {
  let held: { sender: Sender; config: Config } | null = null;
  let timer: NodeJS.Timeout | null = null;
  let inFlight = 0;

  const drop = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    held?.sender.close();
    held = null;
  };

  return {
    async send(mail: Outgoing) {
      const config = currentConfig();
      if (held && held.config !== config) drop();
      if (timer) clearTimeout(timer);
      timer = null;
      const sender = (held ??= { sender: createSender(config), config }).sender;
      inFlight++;
      try {
        return await sender.send(mail);
      } finally {
        inFlight--;
        if (inFlight === 0 && held?.sender === sender) {
          timer = setTimeout(drop, lingerMs);
          timer.unref();
        }
      }
    },
    close: drop,
  };
}
