// Helpers shared by the ingest tests: reading the daemon's database, waiting for cases through
// the real CLI, delivering by LMTP as an MTA does, holding the database's write lock from another
// process, and building MIME mail (attachments, bounces) with CRLF line endings.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import nodemailer from 'nodemailer';
import { openDatabase, type Opened } from '../../src/db/connection';
import { openTestDatabase } from '../support/backend';
import { REPO_ROOT, cliJson } from '../support/cli';
import type { TestConfig } from '../support/config';
import { spawnOwned } from '../support/processes';
import { StopWaiting, waitFor } from '../support/wait';

export async function openDb(cfg: TestConfig): Promise<Opened> {
  const url = (cfg.doc.database as { url?: string } | undefined)?.url;
  return url ? openDatabase({ dataDir: cfg.dataDir, url }) : openTestDatabase(cfg.dataDir);
}

async function casesJson(cfg: TestConfig): Promise<any[]> {
  return cliJson(['cases', '--config', cfg.configPath]);
}

export async function showJson(cfg: TestConfig, id: string): Promise<any> {
  return cliJson(['show', id, '--config', cfg.configPath]);
}

/** Waits until a case matches (read through `mailwarden cases --json`). */
export async function waitForCase(cfg: TestConfig, pred: (c: any) => boolean, what: string, timeoutMs = 15_000): Promise<any> {
  return waitFor(async () => (await casesJson(cfg)).find(pred), { what, timeoutMs, intervalMs: 200 });
}

/** Waits until the inbound table holds a row for this Message-ID (faster than the CLI for loops). */
export async function waitForInbound(db: Opened, messageId: string, what: string, timeoutMs = 15_000) {
  return waitFor(() => db.db.selectFrom('inbound').selectAll().where('message_id', '=', messageId).executeTakeFirst(), { what, timeoutMs, intervalMs: 100 });
}

/** One LMTP delivery to one recipient, as an MTA makes it: the reply code and text for that recipient. */
export async function deliverLmtp(port: number, from: string, to: string, raw: string | Buffer): Promise<{ code: number; text: string }> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true, secure: false } as any);
  try {
    const info = await transport.sendMail({ envelope: { from, to: [to] }, raw });
    // LMTP answers each recipient on its own: nodemailer reports a 451 as a rejected recipient.
    const refused = (info as { rejectedErrors?: Array<{ responseCode?: number; response?: string }> }).rejectedErrors?.[0];
    return refused ? { code: refused.responseCode ?? 0, text: String(refused.response) } : { code: 250, text: String(info.response) };
  } catch (err) {
    // A refusal of the whole message (DATA) rejects the send.
    const e = err as { responseCode?: number; response?: string };
    if (!e.responseCode) throw err;
    return { code: e.responseCode, text: String(e.response) };
  } finally {
    transport.close();
  }
}

/** Holds SQLite's write lock from a process of its own, as a long `sqlite3` session or a stuck command would. */
const LOCK_HOLDER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1], { timeout: 5000 });
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\\n');
process.stdin.once('data', () => {
  db.exec('ROLLBACK');
  db.close();
  process.stdout.write('released\\n');
  process.exit(0);
});
`;

export interface HeldLock {
  /** True while the other process still runs (and so holds the lock). */
  held(): boolean;
  /** Rolls back, lets the process end, and waits until it is gone; again: the same wait. */
  release(): Promise<void>;
}

/** Starts a node process that takes the write lock (BEGIN IMMEDIATE) on the database file and keeps it until release(). */
export async function holdWriteLock(dbFile: string): Promise<HeldLock> {
  const proc = spawnOwned(process.execPath, ['-e', LOCK_HOLDER, dbFile], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(
    () => {
      if (proc.child.exitCode !== null) throw new StopWaiting(`the lock holder exited with ${proc.child.exitCode}: ${err}`);
      return out.includes('locked');
    },
    { what: 'another process to take the write lock' },
  );
  let released: Promise<void> | null = null;
  const release = async () => {
    proc.child.stdin!.end('release\n');
    await waitFor(() => out.includes('released') || proc.child.exitCode !== null, { what: 'the lock holder to roll back' });
    await proc.stop();
  };
  return {
    held: () => proc.child.exitCode === null && !out.includes('released'),
    release: () => (released ??= release()),
  };
}

export function newMessageId(): string {
  return `<${randomUUID()}@customer.test>`;
}

export interface Part {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** multipart/mixed: a text part plus base64 attachments, CRLF line endings. */
export function buildMultipart(opts: {
  from: string;
  to: string;
  subject: string;
  text: string;
  attachments: Part[];
  messageId?: string;
  headers?: Record<string, string>;
}): Buffer {
  const boundary = `b-${randomUUID()}`;
  const head = [
    `From: ${opts.from}`,
    `To: ${opts.to}`,
    `Subject: ${opts.subject}`,
    `Date: ${new Date().toUTCString().replace(/GMT$/, '+0000')}`,
    `Message-ID: ${opts.messageId ?? newMessageId()}`,
    'MIME-Version: 1.0',
    ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
  ];
  const chunks: Buffer[] = [Buffer.from(head.join('\r\n') + '\r\n\r\n')];
  chunks.push(
    Buffer.from(
      `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${opts.text.replace(/\r?\n/g, '\r\n')}\r\n`,
    ),
  );
  for (const a of opts.attachments) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Type: ${a.contentType}; name="${a.filename}"\r\nContent-Disposition: attachment; filename="${a.filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n`,
      ),
    );
    const b64 = a.content.toString('base64');
    const lines: string[] = [];
    for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
    chunks.push(Buffer.from(lines.join('\r\n') + '\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** An RFC 3464 delivery status notification about the message with `originalId`. */
export function buildDsn(opts: { to: string; originalId: string; originalTo: string; messageId?: string }): string {
  const b = `dsn-${randomUUID()}`;
  return [
    'From: Mail Delivery System <MAILER-DAEMON@mx.customer.test>',
    `To: ${opts.to}`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${new Date().toUTCString().replace(/GMT$/, '+0000')}`,
    `Message-ID: ${opts.messageId ?? newMessageId()}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain',
    '',
    `I'm sorry to have to inform you that your message could not be delivered to <${opts.originalTo}>.`,
    '',
    `--${b}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.customer.test',
    '',
    `Final-Recipient: rfc822; ${opts.originalTo}`,
    'Action: failed',
    'Status: 5.1.1',
    'Diagnostic-Code: smtp; 550 5.1.1 user unknown',
    '',
    `--${b}`,
    'Content-Type: text/rfc822-headers',
    '',
    `From: support <alice@example.test>`,
    `To: ${opts.originalTo}`,
    `Message-ID: ${opts.originalId}`,
    'Subject: [TEST-000001] We have received your message',
    '',
    `--${b}--`,
    '',
  ].join('\r\n');
}

/** Every message of a corpus file: mbox files are split on their "From " lines. */
export function splitMbox(buf: Buffer): Buffer[] {
  const text = buf.toString('latin1');
  const starts: number[] = [];
  const re = /(^|\n)From [^\n]*\n/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const at = m.index + m[1]!.length;
    // A "From " line starts a message at the top or after a blank line (mboxrd).
    if (at === 0 || text.slice(Math.max(0, at - 2), at) === '\n\n' || text.slice(Math.max(0, at - 4), at) === '\r\n\r\n') starts.push(at);
  }
  if (starts.length <= 1) return [buf];
  return starts.map((s, i) => buf.subarray(s, starts[i + 1] ?? buf.length));
}

export function corpusFiles(dir: string): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, d);
    if (!fs.statSync(p).isDirectory()) continue;
    for (const f of fs.readdirSync(p).sort()) out.push(path.join(p, f));
  }
  return out;
}

/** Peak and current resident memory of a process, from /proc (kB -> MB). */
export function memoryOf(pid: number): { peakMb: number; rssMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+)`, 'm'))?.[1] ?? 0);
  return { peakMb: Math.round(kb('VmHWM') / 1024), rssMb: Math.round(kb('VmRSS') / 1024) };
}

/**
 * The parser thread the daemon runs: the bundle beside dist/bundle/main.cjs (scripts/bundle-parser.mjs),
 * spoken to as src/ingest/parse.ts speaks to it, one job at a time, scoring `languages` (default:
 * every language eld knows).
 */
export async function bundledParserThread(languages: string[] | null = null): Promise<{ parse(job: object): Promise<any>; close(): Promise<number> }> {
  const worker = new Worker(path.join(REPO_ROOT, 'dist', 'bundle', 'parse-worker.js'), { workerData: { languages } });
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', function onReady(msg: { ready?: boolean }) {
      if (!msg.ready) return;
      worker.off('message', onReady);
      resolve();
    });
  });
  let nextId = 1;
  return {
    parse(job) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        worker.on('message', function onAnswer(msg: { id: number; result?: unknown; error?: string }) {
          if (msg.id !== id) return;
          worker.off('message', onAnswer);
          if (msg.error !== undefined) reject(new Error(msg.error));
          else resolve(msg.result);
        });
        worker.postMessage({ id, job });
      });
    },
    close: () => worker.terminate(),
  };
}
