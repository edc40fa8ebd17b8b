// `mailwarden demo`: the whole product on one machine with no outside server (SPEC §8). It writes
// a demo config and data dir, starts the real daemon (`mailwarden run`) as a child process with
// the LMTP listener for inbound and the `file` transport for outbound, delivers a handful of
// customer mails over LMTP, waits until every case is committed and every outgoing mail is
// written, and returns an account of what happened for the CLI to print.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { usageError, unavailableError } from '../errors.js';
import { openDatabase } from '../db/connection.js';
import { demoConfigYaml, demoMails } from './demo-content.js';

const BIN = fileURLToPath(new URL('../../bin/mailwarden', import.meta.url));
const MARKER = '.mailwarden-demo';

export interface DemoCase {
  id: string;
  pool: string;
  language: string | null;
  priority: string;
  subject: string;
  customer: string;
  messages: number;
}

export interface DemoAccount {
  dir: string;
  configPath: string;
  dataDir: string;
  outboxDir: string;
  logPath: string;
  listener: string;
  delivered: Array<{ about: string; from: string; caseId: string | null; outcome: string }>;
  cases: DemoCase[];
  autoResponses: Array<{ caseId: string; to: string; file: string }>;
  suppressed: Array<{ caseId: string; reason: string }>;
}

export interface DemoHandle {
  account: DemoAccount;
  /** The daemon, still running (unless stopped). */
  daemon: ChildProcess;
  stop(): Promise<void>;
}

/** Prepares the directory: a previous demo is replaced, anything else is refused. */
function prepareDemoDir(dir: string): void {
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    if (!fs.existsSync(path.join(dir, MARKER))) {
      throw usageError('EDEMODIR', `${dir} exists and was not made by mailwarden demo.`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, MARKER), 'Written by mailwarden demo; the whole directory is replaced by the next demo run.\n');
}

export async function startDemo(opts: { dir: string; timeoutMs?: number }): Promise<DemoHandle> {
  const dir = path.resolve(opts.dir);
  prepareDemoDir(dir);
  const port = await freePort();
  const configPath = path.join(dir, 'mailwarden.yaml');
  fs.writeFileSync(configPath, demoConfigYaml({ dir, listenerPort: port }));
  const logPath = path.join(dir, 'daemon.log');
  const daemon = await spawnDaemon(configPath, logPath, opts.timeoutMs ?? 30_000);
  const stop = () => stopDaemon(daemon);
  try {
    const mails = demoMails(new Date());
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true });
    const accepted: string[] = [];
    for (const m of mails) {
      await transport.sendMail({ envelope: { from: m.from, to: [m.to] }, raw: m.raw });
      accepted.push(/^Message-ID: (.*)$/im.exec(m.raw)![1]!.trim());
    }
    transport.close();
    const account = await collectAccount({ dir, configPath, logPath, port, mails, messageIds: accepted, timeoutMs: opts.timeoutMs ?? 30_000 });
    return { account, daemon, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function collectAccount(input: {
  dir: string;
  configPath: string;
  logPath: string;
  port: number;
  mails: ReturnType<typeof demoMails>;
  messageIds: string[];
  timeoutMs: number;
}): Promise<DemoAccount> {
  const dataDir = path.join(input.dir, 'data');
  const outboxDir = path.join(input.dir, 'outbox');
  const opened = await openDatabase({ dataDir });
  const db = opened.db;
  try {
    // The listener answered 250 after each commit; what remains is the drainer writing files.
    const deadline = Date.now() + input.timeoutMs;
    for (;;) {
      const pending = await db
        .selectFrom('outbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('state', 'in', ['queued', 'sending'])
        .executeTakeFirstOrThrow();
      if (Number(pending.n) === 0) break;
      if (Date.now() > deadline) throw unavailableError('ETIMEDOUT', `the demo daemon did not write its outgoing mail in time; see ${input.logPath}.`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const inbound = await db.selectFrom('inbound').select(['message_id', 'case_id', 'outcome']).execute();
    const delivered = input.mails.map((m, i) => {
      const row = inbound.find((r) => r.message_id === input.messageIds[i]);
      return { about: m.about, from: m.from, caseId: row?.case_id ?? null, outcome: row?.outcome ?? 'missing' };
    });
    const caseRows = await db
      .selectFrom('cases')
      .leftJoin('messages', 'messages.case_id', 'cases.id')
      .select(['cases.id', 'cases.pool_id', 'cases.language', 'cases.priority', 'cases.subject', 'cases.customer_address'])
      .select((eb) => eb.fn.count<number>('messages.id').as('n'))
      .where((eb) => eb.or([eb('messages.kind', '=', 'inbound'), eb('messages.id', 'is', null)]))
      .groupBy('cases.id')
      .orderBy('cases.id')
      .execute();
    const sent = await db
      .selectFrom('outbox')
      .select(['id', 'case_id', 'kind', 'to_addresses', 'smtp_response'])
      .where('kind', '=', 'auto_response')
      .orderBy('id')
      .execute();
    const events = await db
      .selectFrom('case_events')
      .select(['case_id', 'data'])
      .where('kind', '=', 'auto_response')
      .where('to_value', '=', 'suppressed')
      .execute();
    return {
      dir: input.dir,
      configPath: input.configPath,
      dataDir,
      outboxDir,
      logPath: input.logPath,
      listener: `lmtp://127.0.0.1:${input.port}`,
      delivered,
      cases: caseRows.map((c) => ({
        id: c.id,
        pool: c.pool_id,
        language: c.language,
        priority: c.priority,
        subject: c.subject,
        customer: c.customer_address,
        messages: Number(c.n),
      })),
      autoResponses: sent.map((r) => ({
        caseId: r.case_id ?? '',
        to: (JSON.parse(r.to_addresses) as string[]).join(', '),
        file: (r.smtp_response ?? '').replace(/^written to /, ''),
      })),
      suppressed: events.map((e) => ({ caseId: e.case_id, reason: String((JSON.parse(e.data ?? '{}') as { reason?: string }).reason ?? 'suppressed') })),
    };
  } finally {
    await opened.close();
  }
}

function spawnDaemon(configPath: string, logPath: string, timeoutMs: number): Promise<ChildProcess> {
  const log = fs.openSync(logPath, 'a', 0o600);
  const child = spawn(process.execPath, [BIN, 'run', '--config', configPath], { stdio: ['ignore', log, 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  fs.closeSync(log);
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(unavailableError('ETIMEDOUT', `the demo daemon did not start in time; see ${logPath}.`));
    }, timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      fs.appendFileSync(logPath, d);
      seen += d.toString();
      if (seen.includes('"daemon ready"') || seen.includes('daemon ready')) {
        clearTimeout(timer);
        seen = '';
        resolve(child);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(unavailableError('EDAEMON', `the demo daemon exited (${code}) before it was ready; see ${logPath}.`));
    });
  });
}

function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
