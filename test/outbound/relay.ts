// A small mail relay for loop tests: accepts SMTP (what mailwarden's drainer speaks), records the
// message, and delivers it by LMTP into the test Dovecot, which adds Return-Path from the
// envelope as a real MDA does. Optional vacation responders answer mail delivered to their
// address the way a naive autoresponder would: every message, no Auto-Submitted, no threading.
import nodemailer from 'nodemailer';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { simpleParser } from 'mailparser';
import type { DovecotInstance } from '../support/dovecot';
import { listenOnFreePort, readAll } from '../support/smtp-sink';

export interface RelayedMail {
  from: string;
  to: string[];
  raw: Buffer;
  subject: string;
  messageId: string;
  /** true for mail the vacation responder wrote (never went through SMTP). */
  vacation: boolean;
}

export interface Relay {
  host: '127.0.0.1';
  port: number;
  log: RelayedMail[];
  /** Makes `address` answer every message delivered to it, naively. */
  addVacationResponder(address: string): void;
  stop(): Promise<void>;
}

export async function startRelay(dovecot: DovecotInstance): Promise<Relay> {
  const log: RelayedMail[] = [];
  const vacation = new Set<string>();
  const lmtp = nodemailer.createTransport({ host: '127.0.0.1', port: dovecot.lmtpPort, lmtp: true } as nodemailer.TransportOptions);

  async function deliver(from: string, to: string[], raw: Buffer, isVacation: boolean): Promise<void> {
    const parsed = await simpleParser(raw);
    log.push({ from, to, raw, subject: parsed.subject ?? '', messageId: parsed.messageId ?? '', vacation: isVacation });
    await lmtp.sendMail({ envelope: { from, to }, raw });
    for (const rcpt of to.filter((r) => vacation.has(r.toLowerCase()))) {
      const replyTo = parsed.from?.value[0]?.address;
      if (!replyTo) continue;
      const answer = [
        `From: Carol <${rcpt}>`,
        `To: ${replyTo}`,
        `Subject: Away from the office`,
        `Date: ${new Date().toUTCString()}`,
        `Message-ID: <vacation.${Date.now()}.${Math.random().toString(36).slice(2)}@example.test>`,
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'I am away until Monday and will read your message then.',
        '',
      ].join('\r\n');
      // A naive responder: answers from its own address as envelope sender, every time.
      await deliver(rcpt, [replyTo], Buffer.from(answer), true);
    }
  }

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    disableReverseLookup: true,
    closeTimeout: 1_000,
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      readAll(stream)
        .then((raw) => {
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          return deliver(
            from,
            session.envelope.rcptTo.map((a) => a.address),
            raw,
            false,
          );
        })
        .then(
          () => callback(null, 'OK: relayed'),
          (err: Error) => callback(Object.assign(new Error(`relay failed: ${err.message}`), { responseCode: 451 })),
        );
    },
  });
  server.on('error', () => {});
  const port = await listenOnFreePort(server, 'relay');
  return {
    host: '127.0.0.1',
    port,
    log,
    addVacationResponder(address) {
      vacation.add(address.toLowerCase());
    },
    stop() {
      lmtp.close();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
