// The listener's server greets a new connection at once (src/daemon/prompt-greeting.ts), where
// smtp-server alone holds the greeting back on a 100 ms timer. Proved without timing anything:
// with setTimeout frozen (fake timers), the listener's server greets, and smtp-server alone only
// greets once its timer is run by hand. Then a whole LMTP delivery over the greeted connection,
// so the early greeting leaves the session as it would be after the library's own.
import net from 'node:net';
import { setTimeout as realDelay } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import nodemailer from 'nodemailer';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { PromptGreetingServer } from '../../src/daemon/prompt-greeting.js';

const OPTIONS: SMTPServerOptions = {
  lmtp: true,
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  disableReverseLookup: true,
  logger: false,
};

const servers: SMTPServer[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function listening(server: SMTPServer): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.server.address() as net.AddressInfo).port;
}

/** A raw connection and its first line from the server (the greeting), whenever that comes. */
function connect(port: number): { socket: net.Socket; greeting: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  const greeting = new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString('latin1'))));
  return { socket, greeting };
}

/** Real time, unaffected by fake timers: only a bound for a failure to be reported, never a measure. */
const orFailAfter = <T>(p: Promise<T>, what: string) =>
  Promise.race([p, realDelay(5000).then(() => Promise.reject(new Error(`no ${what} within 5 s (real time)`)))]);

/** Turns of the event loop (setImmediate is not faked) until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) await new Promise((r) => setImmediate(r));
  if (!done()) throw new Error('condition not reached');
}

describe("the listener's greeting", () => {
  it('comes with setTimeout frozen: no timer stands before it', async () => {
    const port = await listening(new PromptGreetingServer(OPTIONS));
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const { greeting } = connect(port);
    expect(await orFailAfter(greeting, 'greeting')).toMatch(/^220 /);
  });

  it('is what smtp-server alone keeps behind its timer (so the test above can fail)', async () => {
    const server = new SMTPServer(OPTIONS);
    const port = await listening(server);
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const { greeting } = connect(port);
    let greeted = false;
    void greeting.then(() => (greeted = true));
    await until(() => server.connections.size === 1);
    // The connection is made and nothing was written: its greeting waits for the timer.
    expect(greeted).toBe(false);
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    vi.advanceTimersByTime(100);
    expect(await orFailAfter(greeting, 'greeting after the timer')).toMatch(/^220 /);
  });

  it('greets once only, when the library timer fires later, and the session delivers', async () => {
    const delivered: string[] = [];
    const server = new PromptGreetingServer({
      ...OPTIONS,
      onData(stream, session, callback) {
        stream.on('data', () => undefined);
        stream.on('end', () => {
          delivered.push(session.envelope.rcptTo.map((r) => r.address).join(','));
          callback(
            null,
            session.envelope.rcptTo.map(() => 'accepted'),
          );
        });
      },
    });
    const port = await listening(server);
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const { socket, greeting } = connect(port);
    expect(await orFailAfter(greeting, 'greeting')).toMatch(/^220 /);
    // The library's own timer fires now; a second greeting would reach the client before the
    // answer to a command sent after it (one TCP stream, in order).
    vi.advanceTimersByTime(100);
    const next = new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString('latin1'))));
    socket.write('LHLO client.test\r\n');
    expect(await orFailAfter(next, 'answer to LHLO')).toMatch(/^250[- ]/);
    socket.destroy();
    vi.useRealTimers();
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true });
    const info = await orFailAfter(
      transport.sendMail({ envelope: { from: 'a@customer.test', to: ['help@desk.test'] }, raw: 'Subject: hi\r\n\r\nhello\r\n' }),
      'delivery',
    );
    transport.close();
    expect(info.accepted).toEqual(['help@desk.test']);
    expect(delivered).toEqual(['help@desk.test']);
  });
});
