// The outbox's connections to the relay (src/outbound/relay-connections.ts): the frozen bytes go
// out as they are, several mails ride one connection, a connection the relay closed while it sat
// idle is never handed out again, and with STARTTLS required nothing goes out in clear. Against a
// real SMTP server (the test sink, which offers no STARTTLS).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relayConnections } from '../../src/outbound/relay-connections';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { waitFor } from '../support/wait';

const mail = (n: number) =>
  Buffer.from(
    `From: Help <help@desk.test>\r\nTo: <c${n}@customer.test>\r\nSubject: Case ${n}\r\nMessage-ID: <mw.${n}.relay@desk.test>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnswer ${n}.\r\n`,
  );

/** Connections to a test sink in plain text, with no login. */
const plainRelay = (to: SmtpSink) => relayConnections({ connection: { host: to.host, port: to.port, ignoreTLS: true }, auth: null });

describe('relay connections', () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink?.stop();
  });

  it('sends the bytes as they are over one kept connection, with the null sender for an empty one', async () => {
    const relay = plainRelay(sink);
    try {
      for (let n = 1; n <= 3; n++) {
        const reply = await relay.send({ from: n === 1 ? '' : 'help@desk.test', to: [`c${n}@customer.test`] }, mail(n));
        expect(reply.response).toMatch(/^250 /);
      }
    } finally {
      relay.close();
    }
    expect(sink.opened).toBe(1);
    expect(sink.messages.map((m) => m.raw.toString())).toEqual([1, 2, 3].map((n) => mail(n).toString()));
    expect(sink.messages.map((m) => m.envelope.from)).toEqual(['', 'help@desk.test', 'help@desk.test']);
  });

  it('opens a new connection once the relay closed the idle one (fails if a closed connection is handed out again)', async () => {
    sink.reset();
    const before = sink.opened;
    const relay = plainRelay(sink);
    try {
      await relay.send({ from: 'help@desk.test', to: ['c4@customer.test'] }, mail(4));
      expect(relay.idle).toBe(1);
      sink.dropConnections();
      await waitFor(() => relay.idle === 0, { what: 'the client to see the relay close its idle connection' });
      const reply = await relay.send({ from: 'help@desk.test', to: ['c5@customer.test'] }, mail(5));
      expect(reply.response).toMatch(/^250 /);
    } finally {
      relay.close();
    }
    expect(sink.opened - before).toBe(2);
    expect(sink.messages.map((m) => m.envelope.to)).toEqual([['c4@customer.test'], ['c5@customer.test']]);
  });

  it('with STARTTLS required, sends nothing to a relay that does not offer it (fails if the mail goes out in clear)', async () => {
    sink.reset();
    const relay = relayConnections({ connection: { host: sink.host, port: sink.port, requireTLS: true }, auth: null });
    try {
      const refused = await relay.send({ from: 'help@desk.test', to: ['c7@customer.test'] }, mail(7)).catch((err: unknown) => err);
      expect(refused).toMatchObject({ code: 'ETLS' });
      expect(relay.idle).toBe(0);
    } finally {
      relay.close();
    }
    expect(sink.attempts).toBe(0);
    expect(sink.messages).toHaveLength(0);
  });

  it('fails a mail with the relay’s refusal and keeps no connection it failed on', async () => {
    const refusing = await startSmtpSink({ script: () => ({ code: 550, message: 'No such user here' }) });
    const relay = plainRelay(refusing);
    try {
      const refused = await relay.send({ from: 'help@desk.test', to: ['nobody@customer.test'] }, mail(6)).catch((err: unknown) => err);
      expect(refused).toMatchObject({ responseCode: 550 });
      expect(relay.idle).toBe(0);
    } finally {
      relay.close();
      await refusing.stop();
    }
  });
});
