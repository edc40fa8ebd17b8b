// The listener's server greets each new connection at once. smtp-server holds every greeting back
// 100 ms to catch spam software that talks before it (an "early talker"), which is worth its wait
// on a public port 25. The listener's client is the MTA handing mail over (Postfix's `lmtp:`
// transport), and Postfix opens a new connection for each delivery unless mail for the
// destination is backing up (lmtp_connection_cache_on_demand): on a quiet desk every message
// waited those 100 ms before its first command. Measured with bench/side-by-side, one mail on a
// new connection a second after the last: start → 250 117 ms, Dovecot's own LMTP 10 ms.
// smtp-server (3.21) has no option for it; its declared interface does have the hook used here:
// connect() makes the connection and starts its timer, connectionReady() greets. Only on a plain
// socket and with no client limit, as the listener's: on a TLS socket the timer starts after the
// handshake, and a connection over the limit gets a 421 instead of the timer.
import { SMTPServer } from 'smtp-server';

type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;

export class PromptGreetingServer extends SMTPServer {
  override connect(...args: Parameters<SMTPServer['connect']>): void {
    super.connect(...args);
    if (this.options.secure || this.options.maxClients) return;
    const made = newest(this.connections);
    if (made) greetNow(made);
  }
}

/** The connection made last (a Set keeps the order things were added in). */
function newest(connections: Set<Connection>): Connection | undefined {
  let last: Connection | undefined;
  for (const c of connections) last = c;
  return last;
}

/** Greets now; the library's timer, when it fires, calls connectionReady again, which then does nothing. */
function greetNow(connection: Connection): void {
  const ready = connection.connectionReady.bind(connection);
  let greeted = false;
  connection.connectionReady = (next?: () => void) => {
    if (greeted) return;
    greeted = true;
    ready(next);
  };
  connection.connectionReady();
}
