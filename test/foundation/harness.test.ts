// Proves the real-server harness works: Dovecot (IMAP) and the SMTP sink, via real clients.
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startDovecot, type DovecotInstance } from '../support/dovecot';
import { appendMail, buildMail, createFolder, fetchFlags, listUids } from '../support/imap';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { freePort } from '../support/ports';

describe('dovecot harness', () => {
  let dovecot: DovecotInstance;

  beforeAll(async () => {
    dovecot = await startDovecot();
  });
  afterAll(async () => {
    await dovecot?.stop();
  });

  async function fetchBySubject(user: string, folder: string) {
    const client = dovecot.imapClient(user);
    await client.connect();
    try {
      const lock = await client.getMailboxLock(folder);
      try {
        const msgs = await client.fetchAll('1:*', { uid: true, envelope: true, source: true });
        const uidValidity = client.mailbox ? client.mailbox.uidValidity : undefined;
        return { msgs, uidValidity };
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  }

  it('APPENDs to INBOX and fetches the message back in a new session', async () => {
    const raw = buildMail({
      from: 'customer@example.org',
      to: 'alice@example.test',
      subject: 'Printer on fire',
      text: 'Hello,\nthe printer is on fire.\n',
    });
    const appended = await appendMail(dovecot, 'alice@example.test', 'INBOX', raw, ['$Custom']);
    expect(typeof appended.uid).toBe('number');
    expect(typeof appended.uidValidity).toBe('number');
    expect(appended.uid).toBeGreaterThan(0);

    const { msgs, uidValidity } = await fetchBySubject('alice@example.test', 'INBOX');
    expect(Number(uidValidity)).toBe(appended.uidValidity);
    const msg = msgs.find((m) => m.uid === appended.uid);
    expect(msg?.envelope?.subject).toBe('Printer on fire');
    // CRLF fixtures come back byte-identical (Dovecot returns CRLF from FETCH).
    expect(msg?.source?.toString()).toBe(raw);
    expect(msg?.source?.toString()).toContain('the printer is on fire.\r\n');

    expect(await listUids(dovecot, 'alice@example.test', 'INBOX')).toEqual([appended.uid]);
    const flags = await fetchFlags(dovecot, 'alice@example.test', 'INBOX');
    expect(flags.get(appended.uid)).toContain('$Custom');
  });

  it('keeps mail across restart() on the same port', async () => {
    const before = await listUids(dovecot, 'alice@example.test', 'INBOX');
    expect(before.length).toBeGreaterThan(0);
    const { port, pid } = dovecot;
    await dovecot.restart();
    expect(dovecot.port).toBe(port);
    expect(dovecot.pid).not.toBe(pid);
    expect(await listUids(dovecot, 'alice@example.test', 'INBOX')).toEqual(before);
  });

  it('creates a folder and appends there', async () => {
    await createFolder(dovecot, 'bob@example.test', 'Support');
    const raw = buildMail({ from: 'x@example.org', to: 'bob@example.test', subject: 'In a folder' });
    const { uid } = await appendMail(dovecot, 'bob@example.test', 'Support', raw);
    const { msgs } = await fetchBySubject('bob@example.test', 'Support');
    expect(msgs.map((m) => [m.uid, m.envelope?.subject])).toEqual([[uid, 'In a folder']]);
    expect(await listUids(dovecot, 'bob@example.test', 'INBOX')).toEqual([]);
  });

  it('adds users at runtime and runs doveadm', async () => {
    await dovecot.addUser('dave@example.test', 'pw2');
    const raw = buildMail({ from: 'x@example.org', to: 'dave@example.test', subject: 'Hi Dave' });
    await appendMail(dovecot, 'dave@example.test', 'INBOX', raw);
    const res = await dovecot.doveadm(['mailbox', 'status', '-u', 'dave@example.test', 'messages', 'INBOX']);
    expect(res).toMatchObject({ code: 0, stdout: 'INBOX messages=1\n' });
    const saved = await dovecot.doveadm(['save', '-u', 'dave@example.test', '-m', 'INBOX'], raw);
    expect(saved.code).toBe(0);
    expect(await listUids(dovecot, 'dave@example.test', 'INBOX')).toHaveLength(2);
  });
});

describe('dovecot harness: port retry and stop', () => {
  it('retries on new ports when the IMAP port is taken', async () => {
    const blocker = net.createServer((socket) => socket.destroy());
    const taken = await freePort();
    await new Promise<void>((r) => blocker.listen(taken, '127.0.0.1', r));
    let instance: DovecotInstance | undefined;
    try {
      instance = await startDovecot({ ports: { imap: taken, lmtp: await freePort() } });
      expect(instance.port).not.toBe(taken);
      const raw = buildMail({ from: 'x@example.org', to: 'carol@example.test', subject: 'retry' });
      expect((await appendMail(instance, 'carol@example.test', 'INBOX', raw)).uid).toBe(1);
    } finally {
      await instance?.stop();
      await new Promise((r) => blocker.close(r));
    }
  });

  it('stop() kills the whole process group', async () => {
    const instance = await startDovecot();
    const client = instance.imapClient('alice@example.test');
    client.on('error', () => {});
    await client.connect(); // a logged-in imap process outlives a master-only kill (gotcha 7)
    const pid = instance.pid;
    await instance.stop();
    expect(() => process.kill(-pid, 0)).toThrow();
    client.close();
  });
});

describe('smtp sink', () => {
  const sinks: SmtpSink[] = [];
  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
  });

  async function sink(script?: Parameters<typeof startSmtpSink>[0]) {
    const s = await startSmtpSink(script);
    sinks.push(s);
    return s;
  }

  function transport(s: SmtpSink) {
    return nodemailer.createTransport({ host: s.host, port: s.port, secure: false, ignoreTLS: true });
  }

  const mail = {
    from: 'Helpdesk <help@example.test>',
    to: 'customer@example.org',
    subject: 'Re: Printer on fire',
    text: 'We are on it.',
    messageId: '<case-1@mailwarden.test>',
  };

  it('records and parses an accepted message', async () => {
    const s = await sink();
    await transport(s).sendMail(mail);
    await s.waitFor((m) => m.length === 1, 5_000, 'one message');
    const [rec] = s.messages;
    expect(rec?.envelope).toEqual({ from: 'help@example.test', to: ['customer@example.org'] });
    expect(rec?.parsed.subject).toBe('Re: Printer on fire');
    expect(rec?.parsed.from?.value[0]?.address).toBe('help@example.test');
    expect(rec?.parsed.text?.trim()).toBe('We are on it.');
    expect(rec?.messageId).toBe('<case-1@mailwarden.test>');
    expect(rec?.raw.toString()).toContain('Subject: Re: Printer on fire');
    expect(s.byMessageId()).toEqual(new Map([['<case-1@mailwarden.test>', 1]]));
    expect(s.attempts).toBe(1);
    s.reset();
    expect(s.messages).toHaveLength(0);
    expect(s.attempts).toBe(0);
  });

  it('answers 421 once, then accepts', async () => {
    const s = await sink({
      script: ({ attempt }) => (attempt === 1 ? { code: 421, message: 'Try again later' } : null),
    });
    const t = transport(s);
    await expect(t.sendMail(mail)).rejects.toMatchObject({ responseCode: 421 });
    expect(s.messages).toHaveLength(0);
    await t.sendMail(mail);
    expect(s.messages).toHaveLength(1);
    expect(s.attempts).toBe(2);
  });

  it('answers 550 permanently', async () => {
    const s = await sink({ script: () => ({ code: 550, message: 'No such user' }) });
    await expect(transport(s).sendMail(mail)).rejects.toMatchObject({ responseCode: 550 });
    expect(s.messages).toHaveLength(0);
    expect(s.attempts).toBe(1);
  });
});
