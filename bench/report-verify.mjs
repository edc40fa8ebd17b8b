#!/usr/bin/env node
// bench/report-verify: do the rows bench/report-data.mjs writes look like the application's own?
//   npx tsc -p . && node bench/report-verify.mjs
// Why: the report bench is only worth its figure if the history it aggregates has the shapes the
// domain functions write. So four cases are made twice, once through the real code (ingest's
// accept transaction from raw mail, takeNext, replyToCase, consultCase, the department's answer
// as mail, the scheduler's overdue jobs, withdrawConsultation, assignCase,
// changeStatusWithoutMail, the customer's rating and feedback as mail, the drainer) and once
// through the generator's writer with the same steps, and each table's rows are compared after
// normalising what differs by nature (times, random ids, hashes, texts). Prints every
// difference; exits 1 when there is one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeWriter, newCase, writeBenchConfig } from './report-data.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const load = (p) => import(path.join(dist, p));
const { openDatabase, writeTx } = await load('db/connection.js');
const { requireConfig } = await load('config/load.js');
const { setClockOffset, nowIso } = await load('clock.js');
const { ingestMessage } = await load('ingest/pipeline.js');
const { ParserPool } = await load('ingest/parse.js');
const { silentLogger } = await load('log.js');
const { takeNext } = await load('cases/next.js');
const { replyToCase, changeStatusWithoutMail } = await load('cases/reply.js');
const { consultCase, withdrawConsultation } = await load('cases/consult.js');
const { assignCase } = await load('cases/edit.js');
const { notifyOverdueCases } = await load('cases/schedule-jobs.js');
const { notifyOverdueConsultations } = await load('cases/consult-overdue.js');
const { drainOnce } = await load('outbound/drainer.js');
const { buildReport } = await load('reports/build.js');

const HOUR = 3600_000;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-bench-verify-'));

// ---------------------------------------------------------------------------------------------
// The real application.

async function realDesk() {
  const configPath = writeBenchConfig(path.join(root, 'real'));
  const config = requireConfig(configPath);
  const opened = await openDatabase({ dataDir: config.instance.data_dir });
  const { db } = opened;
  const parsers = new ParserPool({ size: 1 });
  const ctx = { getConfig: () => config, db, log: silentLogger(), parsers };
  const who = (id) => config.consultants.find((c) => c.id === id);
  const box = (id) => config.mailboxes.find((m) => m.id === id);
  let uid = 0;
  let offset = 0;
  const later = (ms) => setClockOffset((offset += ms));
  let n = 0;

  async function mailIn(mailbox, { from, subject, inReplyTo, references, text }) {
    const id = `<verify-${++n}@mail.example.org>`;
    const raw =
      `From: ${from}\r\nTo: ${box(mailbox).address}\r\nSubject: ${subject}\r\nMessage-ID: ${id}\r\nDate: ${new Date(Date.parse(nowIso())).toUTCString()}\r\n` +
      (inReplyTo ? `In-Reply-To: ${inReplyTo}\r\nReferences: ${references ?? inReplyTo}\r\n` : '') +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n`;
    const r = await ingestMessage(ctx, {
      mailbox: box(mailbox),
      source: { kind: 'imap', uidvalidity: 1, uid: ++uid },
      bytes: Buffer.from(raw),
      receivedAt: nowIso(),
    });
    return r;
  }
  const customer = (k) => `Customer ${k} <customer${k}@example${k % 50}.org>`;
  const newMail = (pool, k) => mailIn(pool, { from: customer(k), subject: `Question ${k}`, text: `Hello, question ${k}.` });
  const lastOut = (caseId, kind) =>
    db.selectFrom('messages').selectAll().where('case_id', '=', caseId).where('kind', '=', kind).orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
  const tx = (fn) => writeTx(db, fn);
  const reply = (c, caseId, status) =>
    tx((t) => replyToCase(t, config, who(c), { caseId, text: 'Here is the answer.', attachments: [], force: true, ...(status ? { status } : {}) }));
  const drain = () => drainOnce({ config, db, log: silentLogger() });
  /** The customer answers our last mail (reopens a closed case: feedback). */
  const writesAgain = async (pool, k, caseId) => {
    const last = await db
      .selectFrom('messages')
      .select('message_id')
      .where('case_id', '=', caseId)
      .where('kind', 'in', ['outbound', 'auto_response'])
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    const thread = await db
      .selectFrom('messages')
      .select('message_id')
      .where('case_id', '=', caseId)
      .where('kind', 'in', ['inbound', 'outbound', 'auto_response'])
      .orderBy('id')
      .execute();
    const references = thread.map((m) => m.message_id).join(' ');
    return mailIn(pool, { from: customer(k), subject: `Re: [${caseId}] Question ${k}`, inReplyTo: last.message_id, references, text: 'Any news?' });
  };
  /** The customer clicks "good" in the reply's rating line and sends the mail it opens. */
  const rates = async (pool, k, caseId) => {
    const replyRow = await lastOut(caseId, 'outbound');
    const link = /good <mailto:([^?]+)\?subject=([^&]+)&body=([^>]+)>/.exec(replyRow.text);
    return mailIn(pool, { from: customer(k), subject: decodeURIComponent(link[2]), text: decodeURIComponent(link[3]) });
  };

  // Case 1: two customer mails, taken, answered and solved in one reply, rated good.
  const c1 = (await newMail('cards', 1)).caseId;
  later(HOUR);
  await writesAgain('cards', 1, c1);
  later(HOUR);
  await takeNext(db, who('c01'), 'Europe/Warsaw');
  later(HOUR);
  await reply('c01', c1, 'solved');
  await drain();
  later(HOUR);
  await rates('cards', 1, c1);

  // Case 2: taken, consulted (legal), the consultation overdue, answered late; the case overdue;
  // a reply, then closed without mail.
  const c2 = (await newMail('cards', 2)).caseId;
  later(HOUR);
  await takeNext(db, who('c01'), 'Europe/Warsaw');
  later(HOUR);
  await tx((t) => consultCase(t, config, who('c01'), { caseId: c2, departments: ['legal'], text: 'May we?', attachments: [] }));
  await drain();
  later(49 * HOUR);
  await notifyOverdueConsultations(db, config);
  await notifyOverdueCases(db, config);
  later(HOUR);
  const ask = await lastOut(c2, 'consult_out');
  await mailIn('cards', { from: 'Legal <legal@dept.bank.test>', subject: `Re: ${ask.subject}`, inReplyTo: ask.message_id, text: 'Yes.' });
  later(HOUR);
  await reply('c01', c2);
  later(HOUR);
  await tx((t) => changeStatusWithoutMail(t, config, who('c01'), { caseId: c2, status: 'closed', force: true }));
  await drain();

  // Case 3: solved, reopened by the customer's feedback, handed to another consultant, solved again.
  const c3 = (await newMail('cards', 3)).caseId;
  later(HOUR);
  await takeNext(db, who('c06'), 'Europe/Warsaw');
  later(HOUR);
  await reply('c06', c3, 'solved');
  await drain();
  later(5 * HOUR);
  await writesAgain('cards', 3, c3);
  later(HOUR);
  await tx((t) => assignCase(t, config, who('c01'), c3, 'c11'));
  later(HOUR);
  await reply('c11', c3, 'solved');
  await drain();

  // Case 4: consulted (risk), never answered: overdue notice, withdrawn, then solved.
  const c4 = (await newMail('cards', 4)).caseId;
  later(HOUR);
  await takeNext(db, who('c06'), 'Europe/Warsaw');
  later(HOUR);
  await tx((t) => consultCase(t, config, who('c06'), { caseId: c4, departments: ['risk'], text: 'Risky?', attachments: [] }));
  await drain();
  later(25 * HOUR);
  await notifyOverdueConsultations(db, config);
  later(HOUR);
  await tx((t) => withdrawConsultation(t, config, who('c06'), { caseId: c4, dept: 'risk' }));
  later(HOUR);
  await reply('c06', c4, 'solved');
  await drain();

  await parsers.close();
  // The clock stays where the story ended, so the report below sees every deadline passed.
  return opened;
}

// ---------------------------------------------------------------------------------------------
// The generator, same steps.

async function generatedDesk() {
  const configPath = writeBenchConfig(path.join(root, 'generated'));
  const config = requireConfig(configPath);
  const opened = await openDatabase({ dataDir: config.instance.data_dir });
  const w = makeWriter(opened.sqlite);
  let t = Date.parse('2026-03-02T08:00:00Z');
  const at = (ms = 0) => new Date((t += ms)).toISOString();
  const mk = (k) => newCase('cards', t, { address: `customer${k}@example${k % 50}.org`, name: `Customer ${k}`, seq: k, subject: `Question ${k}` });
  opened.sqlite.transaction(() => {
    const c1 = mk(1);
    w.open(c1, at());
    w.customerWrites(c1, at(HOUR));
    w.take(c1, 'c01', at(HOUR));
    w.reply(c1, 'c01', at(HOUR), 'solved');
    w.rate(c1, 'good', '', at(HOUR));
    w.finish(c1);

    const c2 = mk(2);
    w.open(c2, at());
    w.take(c2, 'c01', at(HOUR));
    const k2 = w.consult(c2, 'c01', 'legal', at(HOUR));
    w.consultOverdue(c2, k2, at(49 * HOUR));
    w.caseOverdue(c2, at());
    w.deptAnswer(c2, k2, at(HOUR));
    w.reply(c2, 'c01', at(HOUR));
    w.statusOnly(c2, 'c01', at(HOUR), 'closed');
    w.finish(c2);

    const c3 = mk(3);
    w.open(c3, at());
    w.take(c3, 'c06', at(HOUR));
    w.reply(c3, 'c06', at(HOUR), 'solved');
    w.customerWrites(c3, at(5 * HOUR));
    w.assign(c3, 'c01', 'c11', at(HOUR));
    w.reply(c3, 'c11', at(HOUR), 'solved');
    w.finish(c3);

    const c4 = mk(4);
    w.open(c4, at());
    w.take(c4, 'c06', at(HOUR));
    const k4 = w.consult(c4, 'c06', 'risk', at(HOUR));
    w.consultOverdue(c4, k4, at(25 * HOUR));
    w.withdraw(c4, 'c06', k4, at(HOUR));
    w.reply(c4, 'c06', at(HOUR), 'solved');
    w.finish(c4);
    w.close();
  })();
  return opened;
}

// ---------------------------------------------------------------------------------------------
// Comparison: every row of the tables a report may read, with what differs by nature replaced.

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HASH = /^[0-9a-f]{64}$/;

function norm(value, key = '') {
  if (value === null || value === undefined) return value === null ? null : 'undefined';
  if (Buffer.isBuffer(value)) return 'BYTES';
  if (typeof value === 'number') return /(^|_)id$|row_id|outbox|rating|consultation|uid|_ms$/.test(key) ? 'N' : value;
  if (typeof value !== 'string') return value;
  if (ISO.test(value)) return 'TIME';
  if (HASH.test(value)) return 'SHA';
  if (/^<[^>]+>$/.test(value)) return 'MSGID';
  if (/^(\[|\{)/.test(value)) {
    try {
      return normJson(JSON.parse(value));
    } catch {
      /* not JSON */
    }
  }
  if (/^<[^>]+>( <[^>]+>)*$/.test(value)) return `MSGIDS x${value.split(' ').length}`;
  // A notice key names the deadline it is about.
  return value.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/g, 'TIME');
}

function normJson(v, key = '') {
  if (Array.isArray(v)) return v.map((x) => normJson(x, key));
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, normJson(v[k], k)]),
    );
  return norm(v, key);
}

/** Columns whose value is free text or a count that differs by nature: compared as present/absent only. */
const TEXT = new Set(['text', 'subject', 'mime', 'size', 'smtp_response', 'customer_name', 'from_name', 'comment', 'claim_token', 'claimed_by']);

function shape(row) {
  const out = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === 'id' || k === 'case_id') continue;
    out[k] = TEXT.has(k) ? (v === null ? null : v === '' ? '' : 'TEXT') : normJson(v, k);
  }
  return JSON.stringify(out);
}

const TABLES = [
  ['cases', 'id'],
  ['case_events', 'id'],
  ['messages', 'id'],
  ['outbox', 'id'],
  ['inbound', 'id'],
  ['consultations', 'id'],
  ['ratings', 'id'],
  ['case_participants', 'case_id'],
  ['report_received', 'id'],
  ['report_closings', 'id'],
  ['report_first_responses', 'case_id'],
];

function compare(real, generated) {
  let differences = 0;
  for (const [table, order] of TABLES) {
    const caseCol = table === 'cases' ? 'id' : 'case_id';
    const ids = real.sqlite
      .prepare(`select distinct ${caseCol} c from ${table} order by 1`)
      .all()
      .map((r) => r.c);
    const gids = generated.sqlite
      .prepare(`select distinct ${caseCol} c from ${table} order by 1`)
      .all()
      .map((r) => r.c);
    let rows = 0;
    for (const id of [...new Set([...ids, ...gids])]) {
      const a = real.sqlite.prepare(`select * from ${table} where ${caseCol} = ? order by ${order}`).all(id).map(shape);
      const b = generated.sqlite.prepare(`select * from ${table} where ${caseCol} = ? order by ${order}`).all(id).map(shape);
      rows += a.length;
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        if (a[i] === b[i]) continue;
        differences++;
        console.log(`DIFF ${table} case ${id} row ${i + 1}:\n  app:       ${a[i] ?? '(none)'}\n  generator: ${b[i] ?? '(none)'}`);
      }
    }
    console.log(`${table}: ${rows} rows from the application compared`);
  }
  for (const table of ['raw_messages', 'mailbox_state', 'case_sequences']) {
    const a = real.sqlite.prepare(`select count(*) n from ${table}`).get().n;
    const b = generated.sqlite.prepare(`select count(*) n from ${table}`).get().n;
    if (a !== b) {
      differences++;
      console.log(`DIFF ${table}: ${a} rows from the application, ${b} from the generator`);
    }
  }
  return differences;
}

/** The report itself over both: the same counts (durations differ by nature, so are left out). */
async function compareReports(real, generated, config) {
  const counts = async (db) => {
    const report = await buildReport(db, config, { from: '2026-01-01', to: '2026-12-31', by: 'consultant' });
    return report.rows.map((r) => JSON.stringify({ ...r, first_response: r.first_response.count, resolution: r.resolution.count }));
  };
  const a = await counts(real.db);
  const b = await counts(generated.db);
  let differences = 0;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    differences++;
    console.log(`DIFF report row ${i + 1}:\n  app:       ${a[i]}\n  generator: ${b[i]}`);
  }
  console.log(`report: ${a.length} rows compared (${a[0]})`);
  return differences;
}

try {
  const real = await realDesk();
  const generated = await generatedDesk();
  const config = requireConfig(path.join(root, 'real', 'mailwarden.yaml'));
  const differences = compare(real, generated) + (await compareReports(real, generated, config));
  setClockOffset(0);
  await real.close();
  await generated.close();
  console.log(differences === 0 ? 'report-verify: the generator writes the same rows as the application' : `report-verify: ${differences} differences`);
  process.exitCode = differences === 0 ? 0 : 1;
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
