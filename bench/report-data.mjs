// bench/report-data: a year of a busy desk, written straight into a real mailwarden database, for
// bench/report.mjs. Why not through the domain functions: a million cases through replyToCase and
// friends (render, compose, one transaction each) would take hours; the report only needs the
// rows. So this module writes the SAME rows those functions write (cases, case_events with one row
// per changed field, messages, outbox, inbound, raw_messages, participants, consultations,
// ratings), in the same order and shapes, but through prepared statements in large transactions.
// bench/report-verify.mjs checks the shapes against cases made by the real functions.
// Each case is a list of timed steps (open, follow-up, take, consult, answer, reply, close, rate,
// feedback…); steps of all cases run in time order through one heap, so row ids grow with time
// as they do on a live desk. Only the mail bytes (outbox.mime) are short stand-ins.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

export const PREFIX = 'ACME';
export const YEAR_START = Date.parse('2025-12-31T23:00:00Z'); // 2026-01-01 00:00 Europe/Warsaw
export const YEAR_END = Date.parse('2026-12-31T23:00:00Z'); // 2027-01-01 00:00 Europe/Warsaw

export const POOLS = [
  { id: 'cards', name: 'Payment cards', response_deadline: '8h', ms: 8 * HOUR, weight: 30 },
  { id: 'accounts', name: 'Accounts', response_deadline: '1d', ms: DAY, weight: 25 },
  { id: 'loans', name: 'Loans', response_deadline: '2d', ms: 2 * DAY, weight: 15 },
  { id: 'api', name: 'API and integrations', response_deadline: '2d', ms: 2 * DAY, weight: 10 },
  { id: 'general', name: 'General questions', response_deadline: '1d', ms: DAY, weight: 20 },
];
export const DEPARTMENTS = [
  { id: 'legal', name: 'Legal', email: 'legal@dept.bank.test', deadline: '2d', ms: 2 * DAY },
  { id: 'risk', name: 'Risk', email: 'risk@dept.bank.test', deadline: '1d', ms: DAY },
];
export const CONSULTANTS = Array.from({ length: 40 }, (_, i) => `c${String(i + 1).padStart(2, '0')}`);
const SUPERVISORS = ['c01', 'c09', 'c17'];
const INSTANCE_NAME = 'Bench Bank';
const boxAddress = (pool) => `${pool}@bank.test`;
const staffEmail = (c) => `${c}@staff.bank.test`;
const staffName = (c) => `Consultant ${c.toUpperCase()}`;

/** The config the generated data belongs to: 5 pools (ratings on), 40 consultants, 2 departments. */
export function writeBenchConfig(dir) {
  const doc = {
    instance: {
      name: INSTANCE_NAME,
      case_prefix: PREFIX,
      data_dir: path.join(dir, 'data'),
      timezone: 'Europe/Warsaw',
      secret: 'bench-secret-0123456789-abcdefghijklmnop',
      log_level: 'warn',
    },
    smtp: { transport: 'file', outbox_dir: path.join(dir, 'outbox') },
    ingest: { listener: { enabled: false } },
    pools: POOLS.map((p) => ({ id: p.id, name: p.name, response_deadline: p.response_deadline, ratings: true, notify_overdue: [], languages: ['en'] })),
    mailboxes: POOLS.map((p) => ({ id: p.id, address: boxAddress(p.id), pool: p.id })),
    departments: DEPARTMENTS.map((d) => ({ id: d.id, name: d.name, email: d.email, deadline: d.deadline })),
    consultants: CONSULTANTS.map((id, i) => ({
      id,
      name: staffName(id),
      email: staffEmail(id),
      roles: SUPERVISORS.includes(id) ? ['consultant', 'supervisor'] : ['consultant'],
      pools: [
        { pool: POOLS[i % 5].id, priority: 1 },
        { pool: POOLS[(i + 1) % 5].id, priority: 2 },
      ],
    })),
  };
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'mailwarden.yaml');
  fs.writeFileSync(file, YAML.stringify(doc));
  return file;
}

// ---------------------------------------------------------------------------------------------
// Random numbers: a small seeded PRNG, so every run generates the same year.

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEX = '0123456789abcdef';
/** `n` random hex digits: a slice of a fixed random string at a random place (cheap, and random enough here). */
const hexPool = (() => {
  const rnd = mulberry32(7);
  let s = '';
  for (let i = 0; i < 1 << 16; i++) s += HEX[(rnd() * 16) | 0];
  return s;
})();
function hexOf(rnd, n) {
  const at = (rnd() * (hexPool.length - n)) | 0;
  return hexPool.slice(at, at + n);
}

// ---------------------------------------------------------------------------------------------
// When mail arrives: working days, 08:00-18:00 Warsaw mostly, a tail in the evening and at weekends.

/** Warsaw's UTC offset in ms on a day of 2026 (CEST from 29 March to 25 October, 01:00 UTC). */
function warsawOffset(ms) {
  return ms >= Date.parse('2026-03-29T01:00:00Z') && ms < Date.parse('2026-10-25T01:00:00Z') ? 2 * HOUR : HOUR;
}

const HOLIDAYS = new Set(['01-01', '01-06', '04-05', '04-06', '05-01', '05-03', '06-04', '08-15', '11-01', '11-11', '12-24', '12-25', '12-26']);

/** `n` arrival instants (ms, sorted) spread over the year like a bank's mail. */
export function arrivals(n, rnd) {
  const days = [];
  let total = 0;
  for (let d = 0; d < 365; d++) {
    const local = new Date(Date.UTC(2026, 0, 1 + d));
    const wd = local.getUTCDay();
    const md = `${String(local.getUTCMonth() + 1).padStart(2, '0')}-${String(local.getUTCDate()).padStart(2, '0')}`;
    const w = HOLIDAYS.has(md) ? 0.25 : wd === 0 ? 0.2 : wd === 6 ? 0.3 : wd === 1 ? 1.25 : 1;
    days.push({ start: local.getTime(), w });
    total += w;
  }
  const out = new Float64Array(n);
  let k = 0;
  for (let d = 0; d < days.length; d++) {
    const share = d === days.length - 1 ? n - k : Math.round((n * days[d].w) / total);
    for (let j = 0; j < share && k < n; j++) {
      const r = rnd();
      // 85% in 08:00-18:00 local, 15% in 06:00-24:00.
      const hour = r < 0.85 ? 8 + rnd() * 10 : 6 + rnd() * 18;
      const localMs = days[d].start + hour * HOUR;
      out[k++] = localMs - warsawOffset(localMs);
    }
  }
  while (k < n) out[k++] = days[0].start + 9 * HOUR - HOUR;
  out.sort();
  return out;
}

// ---------------------------------------------------------------------------------------------
// A min-heap of timed steps.

class Steps {
  constructor() {
    this.t = [];
    this.f = [];
    this.seq = 0;
    this.s = [];
  }
  get size() {
    return this.t.length;
  }
  push(at, fn) {
    const { t, f, s } = this;
    let i = t.length;
    const q = this.seq++;
    t.push(at);
    f.push(fn);
    s.push(q);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p] < at || (t[p] === at && s[p] < q)) break;
      t[i] = t[p];
      f[i] = f[p];
      s[i] = s[p];
      i = p;
    }
    t[i] = at;
    f[i] = fn;
    s[i] = q;
  }
  peek() {
    return this.t[0];
  }
  pop() {
    const { t, f, s } = this;
    const topF = f[0];
    const lastT = t.pop();
    const lastF = f.pop();
    const lastS = s.pop();
    const n = t.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (t[c + 1] < t[c] || (t[c + 1] === t[c] && s[c + 1] < s[c]))) c++;
        if (lastT < t[c] || (lastT === t[c] && lastS < s[c])) break;
        t[i] = t[c];
        f[i] = f[c];
        s[i] = s[c];
        i = c;
      }
      t[i] = lastT;
      f[i] = lastF;
      s[i] = lastS;
    }
    return topF;
  }
}

// ---------------------------------------------------------------------------------------------
// The row writer: the statements the domain functions' kysely queries amount to.

const iso = (ms) => new Date(ms).toISOString();
const CLOSING = new Set(['solved', 'closed']);
const RATING_LINE =
  '\nHow did we do? Choose one and send the e-mail it opens; a comment in it is welcome.\n' +
  ['good', 'okay', 'bad']
    .map((s) => `${s} <mailto:BOX?subject=Rating%3A%20${s}%20%5BCASE%5D%20r1.TOKENTOKENTOKENTOKENTOKENTOKENTOKENTOKENTOKEN&body=Ref%3A%20r1.TOKEN>`)
    .join('\n');

export function makeWriter(sqlite, seed = 1) {
  const rnd = mulberry32(seed ^ 0x5eed);
  const st = {
    raw: sqlite.prepare('insert into raw_messages (sha256, size, stored_at, erased_at) values (?, ?, ?, null) on conflict (sha256) do nothing'),
    inbound: sqlite.prepare(
      `insert into inbound (id, source, mailbox_id, uidvalidity, uid, queue_id, sha256, content_sha256, message_id, outcome, case_id, message_row_id, at)
       values (?, 'imap', ?, 1, ?, null, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    seq: sqlite.prepare(`insert into case_sequences (prefix, last_value) values (?, ?) on conflict (prefix) do update set last_value = excluded.last_value`),
    caseIns: sqlite.prepare(
      `insert into cases (id, pool_id, mailbox_id, status, priority, subject, customer_address, customer_name, language, assignee, received_at, deadline_at,
         first_response_at, closed_at, remind_at, overdue_notified_at, linked_case_id, flags, updated_at)
       values (?, ?, ?, 'received', 'normal', ?, ?, ?, 'en', null, ?, ?, null, null, null, null, null, '[]', ?)`,
    ),
    caseFinal: sqlite.prepare(
      `update cases set status = ?, assignee = ?, first_response_at = ?, closed_at = ?, overdue_notified_at = ?, updated_at = ?, version = ? where id = ?`,
    ),
    participant: sqlite.prepare(`insert into case_participants (case_id, address, role, added_at) values (?, ?, ?, ?)`),
    event: sqlite.prepare(`insert into case_events (case_id, at, actor, kind, field, from_value, to_value, data) values (?, ?, ?, ?, ?, ?, ?, ?)`),
    message: sqlite.prepare(
      `insert into messages (id, case_id, kind, at, author, from_address, from_name, to_addresses, cc_addresses, subject, message_id, in_reply_to, "references",
         text, raw_sha256, state, is_feedback, is_auto_reply, flags)
       values (?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]')`,
    ),
    outbox: sqlite.prepare(
      `insert into outbox (id, case_id, message_row_id, kind, message_id, from_address, to_addresses, subject, mime, state, attempts, next_attempt_at,
         lease_until, last_error, smtp_response, created_at, sent_at, notice_key, claim_token, claimed_by)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sent', 1, ?, null, null, '250 2.0.0 Ok: queued', ?, ?, ?, ?, '4242/1@bench/0f6c1d52-4a8e-4c51-9d1e-2b7f3c8a9e10/4026531836')`,
    ),
    consultation: sqlite.prepare(
      `insert into consultations (id, case_id, dept_id, consultant, outbox_id, sent_at, deadline_at, answered_at, overdue_notified_at)
       values (?, ?, ?, ?, null, ?, ?, null, null)`,
    ),
    consultMail: sqlite.prepare(`update consultations set outbox_id = ?, question_row_id = ? where id = ?`),
    consultNotified: sqlite.prepare(`update consultations set overdue_notified_at = ? where id = ? and overdue_notified_at is null`),
    consultAnswered: sqlite.prepare(`update consultations set state = 'answered', answered_at = ?, answer_row_id = ?, answered_via = 'token' where id = ?`),
    consultWithdrawn: sqlite.prepare(`update consultations set state = 'withdrawn', withdrawn_by = ?, withdrawn_at = ? where id = ?`),
    rating: sqlite.prepare(
      `insert into ratings (case_id, outbox_id, message_row_id, consultant, customer, score, comment, message_id, raw_sha256, at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // The report rows (migration 017, src/db/report-rows.ts). The app finds the rows to fill in
    // by case (partial indexes); the generator knows their ids, so it updates them by id.
    received: sqlite.prepare(`insert into report_received (id, case_id, at, consultant, pool_id) values (?, ?, ?, ?, ?)`),
    receivedTaken: sqlite.prepare(`update report_received set consultant = ? where id = ? and consultant is null`),
    closing: sqlite.prepare(
      `insert into report_closings (id, case_id, at, consultant, pool_id, on_time, consulted, resolution_ms, next_closing_at) values (?, ?, ?, ?, ?, ?, ?, ?, null)`,
    ),
    closingNext: sqlite.prepare(`update report_closings set next_closing_at = ? where id = ? and next_closing_at is null`),
    firstResponse: sqlite.prepare(
      `insert into report_first_responses (case_id, at, consultant, pool_id, response_ms) values (?, ?, ?, ?, ?) on conflict (case_id) do nothing`,
    ),
    mailboxState: sqlite.prepare(
      `insert into mailbox_state (mailbox_id, uidvalidity, last_uid, last_sync_at, last_error) values (?, 1, ?, ?, null)
       on conflict (mailbox_id) do update set last_uid = excluded.last_uid, last_sync_at = excluded.last_sync_at`,
    ),
  };
  const ids = { message: 0, outbox: 0, inbound: 0, consultation: 0, raw: 0, mid: 0, caseSeq: 0, received: 0, closing: 0 };
  const uids = new Map();
  const counts = { cases: 0, events: 0, messages: 0, outbox: 0, inbound: 0, consultations: 0, ratings: 0, report_rows: 0 };

  // Hash-looking values that grow (so their indexes fill in order, as time-ordered mail nearly does).
  const sha = () => (++ids.raw).toString(16).padStart(12, '0') + hexOf(rnd, 52);
  const ourMessageId = (domain) => `<mw.${(++ids.mid).toString(16).padStart(10, '0')}${hexOf(rnd, 22)}@${domain}>`;
  const tokenMessageId = (domain) => `<t1.${(++ids.mid).toString(36)}${hexOf(rnd, 40)}.${hexOf(rnd, 12)}@${domain}>`;

  function event(c, at, actor, kind, field, from, to, data) {
    st.event.run(c.id, at, actor, kind, field ?? null, from ?? null, to ?? null, data === undefined ? null : JSON.stringify(data));
    counts.events++;
  }

  /** changeCase: one row per field that really changed, then the case's version and updated_at. */
  function change(c, actor, fields, at, kind = 'change') {
    const changed = [];
    for (const [field, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const before = c[field] ?? null;
      if (before === value) continue;
      changed.push(field);
      event(c, at, actor, kind, field, before, value);
    }
    if (changed.length > 0) {
      for (const field of changed) c[field] = fields[field];
      c.updated_at = at;
      c.version++;
    }
    if (changed.includes('assignee') && fields.assignee) takenUp(c, fields.assignee);
    return changed;
  }

  // --- report rows (src/db/report-rows.ts) ---------------------------------------------------

  /** recordReceived: a customer's mail, for whoever holds the case now (null: filled in at take-up). */
  function received(c, at) {
    const id = ++ids.received;
    st.received.run(id, c.id, at, c.assignee, c.pool_id);
    counts.report_rows++;
    if (c.assignee === null) c.waiting.push(id);
  }

  /** recordTakenUp: the mails that came while nobody held the case count for who took it up. */
  function takenUp(c, consultant) {
    for (const id of c.waiting) st.receivedTaken.run(consultant, id);
    c.waiting = [];
  }

  /** recordClosing: one row per closing; the previous closing learns it was not the last. */
  function closing(c, actor, at) {
    if (c.lastClosing !== null) st.closingNext.run(at, c.lastClosing);
    const id = ++ids.closing;
    const consulted = c.consultedAt !== null && c.consultedAt <= at ? 1 : 0;
    st.closing.run(
      id,
      c.id,
      at,
      actor === 'system' ? null : actor,
      c.pool_id,
      at <= c.deadline_at ? 1 : 0,
      consulted,
      Date.parse(at) - Date.parse(c.received_at),
    );
    counts.report_rows++;
    c.lastClosing = id;
  }

  /** setFirstResponse: first_response_at and its report row, once. */
  function firstResponse(c, author, at) {
    if (c.first_response_at !== null) return;
    change(c, author, { first_response_at: at }, at);
    st.firstResponse.run(c.id, at, author === 'system' ? null : author, c.pool_id, Date.parse(at) - Date.parse(c.received_at));
    counts.report_rows++;
  }

  /** setStatus: the status with the fields that belong to it (assignee, closed_at). */
  function setStatus(c, actor, status, at, opts = {}) {
    const fields = { status };
    if (opts.assignee !== undefined) fields.assignee = opts.assignee;
    if (CLOSING.has(status) && !CLOSING.has(c.status)) fields.closed_at = at;
    else if (!CLOSING.has(status) && c.closed_at !== null) fields.closed_at = null;
    const changed = change(c, actor, fields, at, opts.kind);
    if (fields.closed_at) closing(c, actor, at);
    return changed;
  }

  function raw(at, size) {
    const h = sha();
    st.raw.run(h, size, at);
    return h;
  }

  function inboundRow(c, h, messageId, outcome, messageRowId, at) {
    const uid = (uids.get(c.mailbox_id) ?? 0) + 1;
    uids.set(c.mailbox_id, uid);
    st.inbound.run(++ids.inbound, c.mailbox_id, uid, h, sha(), messageId, outcome, c.id, messageRowId, at);
    counts.inbound++;
  }

  /** A message arriving (insertMessage): inbound from the customer, consult_in from a department. */
  function messageIn(c, kind, m, at) {
    const id = ++ids.message;
    st.message.run(
      id,
      c.id,
      kind,
      at,
      null,
      m.from,
      m.fromName,
      JSON.stringify(m.to),
      m.subject,
      m.messageId,
      m.inReplyTo,
      m.references,
      m.text,
      m.raw,
      null,
      m.feedback ? 1 : 0,
      0,
    );
    counts.messages++;
    if (kind === 'inbound') received(c, at);
    return id;
  }

  /** queueMail: the case's messages row (when one is asked for), then the outbox row; both later sent. */
  function mail(c, m, at) {
    const atMs = Date.parse(at);
    let rowId = null;
    const refs = [...new Set([...(m.references ?? []), ...(m.inReplyTo ? [m.inReplyTo] : [])])];
    const refText = refs.length > 0 ? refs.join(' ') : null;
    if (m.messageKind) {
      rowId = ++ids.message;
      st.message.run(
        rowId,
        c.id,
        m.messageKind,
        at,
        m.author ?? null,
        m.from,
        m.fromName,
        JSON.stringify([m.to]),
        m.subject,
        m.messageId,
        m.inReplyTo ?? null,
        refText,
        m.text,
        null,
        'sent',
        0,
        m.autoSubmitted ? 1 : 0,
      );
      counts.messages++;
    }
    const outboxId = ++ids.outbox;
    // A stand-in for the frozen message: its headers only (the report never reads the bytes).
    const mime = Buffer.from(`Message-ID: ${m.messageId}\r\nFrom: ${m.from}\r\nTo: ${m.to}\r\nSubject: ${m.subject}\r\n\r\n`);
    const claim = `${hexOf(rnd, 8)}-${hexOf(rnd, 4)}-4${hexOf(rnd, 3)}-a${hexOf(rnd, 3)}-${hexOf(rnd, 12)}`;
    st.outbox.run(
      outboxId,
      c.id,
      rowId,
      m.kind,
      m.messageId,
      m.from,
      JSON.stringify([m.to]),
      m.subject,
      mime,
      at,
      at,
      iso(atMs + 1500),
      m.noticeKey ?? null,
      claim,
    );
    counts.outbox++;
    if (m.messageKind === 'inbound' || m.messageKind === 'outbound' || m.messageKind === 'auto_response') c.thread.push(m.messageId);
    return { outboxId, rowId, messageId: m.messageId };
  }

  const box = (c) => ({ from: boxAddress(c.pool_id), fromName: INSTANCE_NAME, domain: 'bank.test' });
  const tag = (c) => `[${c.id}]`;

  function notifyConsultant(c, consultant, title, at) {
    const b = box(c);
    mail(
      c,
      {
        kind: 'notification',
        messageKind: 'notification',
        from: b.from,
        fromName: b.fromName,
        to: staffEmail(consultant),
        subject: `${tag(c)} ${title}`,
        messageId: tokenMessageId(b.domain),
        text: `${staffName(consultant)},\n\n${title}\n\nNew message on case ${c.id}.\n`,
        autoSubmitted: 'auto-generated',
      },
      at,
    );
  }

  // --- the domain actions -------------------------------------------------------------------

  /** A customer's first mail: the accept transaction's createCase, with the queued auto-response. */
  function open(c, at) {
    const h = raw(at, 2400 + ((rnd() * 4000) | 0));
    ids.caseSeq++;
    c.id = `${PREFIX}-${String(ids.caseSeq).padStart(6, '0')}`;
    st.seq.run(PREFIX, ids.caseSeq);
    st.caseIns.run(c.id, c.pool_id, c.mailbox_id, c.subject, c.customer_address, c.customer_name, c.received_at, c.deadline_at, at);
    c.updated_at = at;
    counts.cases++;
    st.participant.run(c.id, c.customer_address, 'customer', at);
    const messageId = `<${c.customerSeq}.${Date.parse(at).toString(36)}.${hexOf(rnd, 8)}@mail.example.org>`;
    event(c, at, 'system', 'created', null, null, null, { mailbox: c.mailbox_id, pool: c.pool_id, message_id: messageId, reason: 'new', linked_case_id: null });
    const rowId = messageIn(
      c,
      'inbound',
      {
        from: c.customer_address,
        fromName: c.customer_name,
        to: [boxAddress(c.pool_id)],
        subject: c.subject,
        messageId,
        inReplyTo: null,
        references: null,
        text: `Hello,\n\n${c.subject}. Could you please help me with this? My customer number is ${c.customerSeq}.\n\nRegards,\n${c.customer_name}\n`,
        raw: h,
      },
      at,
    );
    c.thread.push(messageId);
    c.lastCustomerId = messageId;
    event(c, at, 'system', 'message', null, null, null, { message_row_id: rowId, from: c.customer_address, mailbox: c.mailbox_id });
    const b = box(c);
    const auto = mail(
      c,
      {
        kind: 'auto_response',
        messageKind: 'auto_response',
        from: b.from,
        fromName: b.fromName,
        to: c.customer_address,
        subject: `${tag(c)} We have received your message: ${c.subject}`,
        messageId: ourMessageId(b.domain),
        inReplyTo: messageId,
        references: [],
        text: `Hello ${c.customer_name},\n\nthank you for your message. We have registered it as case ${c.id} and will answer as soon as we can.\n\n${INSTANCE_NAME}\n`,
        autoSubmitted: 'auto-replied',
      },
      at,
    );
    event(c, at, 'system', 'auto_response', null, null, 'queued', { outbox_id: auto.outboxId, message_id: auto.messageId, template: 'auto-response' });
    inboundRow(c, h, messageId, 'case', rowId, at);
  }

  /** The customer writes again on the open case (appendToCase; reopens when closed: feedback). */
  function customerWrites(c, at) {
    const reopen = CLOSING.has(c.status);
    const h = raw(at, 1800 + ((rnd() * 3000) | 0));
    const messageId = `<${c.customerSeq}.${Date.parse(at).toString(36)}.${hexOf(rnd, 8)}@mail.example.org>`;
    const inReplyTo = c.thread[c.thread.length - 1];
    const rowId = messageIn(
      c,
      'inbound',
      {
        from: c.customer_address,
        fromName: c.customer_name,
        to: [boxAddress(c.pool_id)],
        subject: `Re: ${tag(c)} ${c.subject}`,
        messageId,
        inReplyTo,
        references: c.thread.join(' '),
        text: reopen ? 'Thank you, but it still does not work. What now?\n' : 'Hello again, is there any news on my question?\n',
        raw: h,
        feedback: reopen,
      },
      at,
    );
    c.thread.push(messageId);
    c.lastCustomerId = messageId;
    event(c, at, 'system', 'message', null, null, null, {
      message_row_id: rowId,
      from: c.customer_address,
      via: 'header',
      feedback: reopen,
      auto_reply: false,
    });
    if (reopen) setStatus(c, 'system', 'in_progress', at, { kind: 'reopened' });
    if (c.assignee) {
      notifyConsultant(c, c.assignee, reopen ? 'The customer wrote again after closing (case reopened)' : 'The customer wrote again', at);
    }
    inboundRow(c, h, messageId, 'case', rowId, at);
  }

  /** `next`: the case is the consultant's, in progress. */
  function take(c, consultant, at) {
    setStatus(c, consultant, 'in_progress', at, { assignee: consultant });
    event(c, at, consultant, 'taken', null, null, consultant, { via: 'next' });
  }

  /** A supervisor hands the case on (`assign`). */
  function assign(c, supervisor, to, at) {
    change(c, supervisor, { assignee: to }, at);
  }

  /** `reply` (optionally with --status): the mail, its history row, the status, the first response. */
  function reply(c, consultant, at, status) {
    const b = box(c);
    const m = mail(
      c,
      {
        kind: 'reply',
        messageKind: 'outbound',
        author: consultant,
        from: b.from,
        fromName: b.fromName,
        to: c.customer_address,
        subject: `${tag(c)} Re: ${c.subject}`,
        messageId: ourMessageId(b.domain),
        inReplyTo: c.lastCustomerId,
        references: [...c.thread],
        text: `Dear ${c.customer_name},\n\nthank you for your patience. We have checked your case and the matter is now settled; please let us know if anything else comes up.\n\n--\n${staffName(consultant)}\n${RATING_LINE.replaceAll('BOX', boxAddress(c.pool_id)).replaceAll('CASE', c.id)}`,
      },
      at,
    );
    event(c, at, consultant, 'reply', null, null, 'queued', { outbox: m.outboxId, message_id: m.messageId });
    if (status && status !== c.status) setStatus(c, consultant, status, at);
    firstResponse(c, consultant, at);
    c.lastReply = { outboxId: m.outboxId, rowId: m.rowId, consultant };
  }

  /** `status <case> solved|closed` without mail. */
  function statusOnly(c, consultant, at, status) {
    setStatus(c, consultant, status, at);
  }

  /** `consult --dept`: the consultation row, its mail with a consult token, the case under consultation. */
  function consult(c, consultant, dept, at) {
    const d = DEPARTMENTS.find((x) => x.id === dept);
    const deadline = iso(Date.parse(at) + d.ms);
    const id = ++ids.consultation;
    st.consultation.run(id, c.id, d.id, consultant, at, deadline);
    c.consultedAt ??= at;
    counts.consultations++;
    const b = box(c);
    const m = mail(
      c,
      {
        kind: 'consultation',
        messageKind: 'consult_out',
        author: consultant,
        from: b.from,
        fromName: b.fromName,
        to: d.email,
        subject: `${tag(c)} Consultation from ${INSTANCE_NAME}: ${c.subject}`,
        messageId: tokenMessageId(b.domain),
        text: `Hello ${d.name},\n\nplease tell us whether the customer's request can be granted. Deadline: ${deadline}.\n\n${staffName(consultant)}\n`,
      },
      at,
    );
    st.consultMail.run(m.outboxId, m.rowId, id);
    event(c, at, consultant, 'consultation', 'consultation', null, 'open', { consultation: id, dept: d.id, deadline_at: deadline, outbox: m.outboxId });
    setStatus(c, consultant, 'under_consultation', at);
    return { id, dept: d.id, deadline, messageId: m.messageId, consultant };
  }

  /** The scheduler's notice of a consultation still open past its deadline. */
  function consultOverdue(c, k, at) {
    st.consultNotified.run(at, k.id);
    const b = box(c);
    const d = DEPARTMENTS.find((x) => x.id === k.dept);
    const sent = [];
    for (const r of [
      { key: `consultant:${k.consultant}`, to: staffEmail(k.consultant) },
      { key: `department:${d.id}`, to: d.email },
    ]) {
      const m = mail(
        c,
        {
          kind: 'consultation_overdue',
          messageKind: 'notification',
          from: b.from,
          fromName: b.fromName,
          to: r.to,
          subject: `${tag(c)} Consultation overdue: ${d.name}`,
          messageId: tokenMessageId(b.domain),
          text: `The consultation of ${d.name} on case ${c.id} ("${c.subject}") was due ${k.deadline}.\n`,
          autoSubmitted: 'auto-generated',
          noticeKey: `consultation_overdue:${k.id}:${k.deadline}:${r.key}`,
        },
        at,
      );
      sent.push({ to: r.key, outbox: m.outboxId });
    }
    event(c, at, 'daemon', 'overdue_notice', 'consultation', null, sent.map((s) => s.to).join(','), {
      consultation: k.id,
      dept: d.id,
      deadline_at: k.deadline,
      answered_late: false,
      outbox: sent.map((s) => s.outbox),
    });
  }

  /** The department's answer (token in its headers): consult_in, the consultation answered, the case back. */
  function deptAnswer(c, k, at) {
    const d = DEPARTMENTS.find((x) => x.id === k.dept);
    const h = raw(at, 3000);
    const messageId = `<${Date.parse(at).toString(36)}.${hexOf(rnd, 10)}@dept.bank.test>`;
    const rowId = messageIn(
      c,
      'consult_in',
      {
        from: d.email,
        fromName: d.name,
        to: [boxAddress(c.pool_id)],
        subject: `Re: ${tag(c)} Consultation from ${INSTANCE_NAME}: ${c.subject}`,
        messageId,
        inReplyTo: k.messageId,
        references: k.messageId,
        text: 'Yes, this can be granted under the usual terms.\n',
        raw: h,
      },
      at,
    );
    event(c, at, 'system', 'message', null, null, null, { message_row_id: rowId, from: d.email, via: 'token', consult: d.id });
    st.consultAnswered.run(at, rowId, k.id);
    const late = Date.parse(at) > Date.parse(k.deadline);
    const actor = `department:${d.id}`;
    event(c, at, actor, 'consultation', 'consultation', 'open', 'answered', {
      consultation: k.id,
      dept: d.id,
      message_row_id: rowId,
      via: 'token',
      late,
      follow_up: false,
    });
    if (c.status === 'under_consultation') setStatus(c, actor, 'in_progress', at);
    if (c.assignee) notifyConsultant(c, c.assignee, `${d.name} answered the consultation`, at);
    inboundRow(c, h, messageId, 'staff', rowId, at);
  }

  /** `consult --withdraw` of a consultation nobody answered. */
  function withdraw(c, consultant, k, at) {
    const d = DEPARTMENTS.find((x) => x.id === k.dept);
    st.consultWithdrawn.run(consultant, at, k.id);
    event(c, at, consultant, 'consultation', 'consultation', 'open', 'withdrawn', { consultation: k.id, dept: d.id });
    const b = box(c);
    mail(
      c,
      {
        kind: 'consultation',
        messageKind: 'consult_out',
        author: consultant,
        from: b.from,
        fromName: b.fromName,
        to: d.email,
        subject: `${tag(c)} Consultation withdrawn: ${c.subject}`,
        messageId: tokenMessageId(b.domain),
        text: `Hello ${d.name},\n\nwe no longer need your answer on case ${c.id}.\n`,
        autoSubmitted: 'auto-generated',
      },
      at,
    );
    if (c.status === 'under_consultation') setStatus(c, consultant, 'in_progress', at);
  }

  /** The scheduler's overdue notice of a case (to its assignee; the pools name nobody else). */
  function caseOverdue(c, at) {
    const outboxes = [];
    if (c.assignee) {
      const b = box(c);
      const m = mail(
        c,
        {
          kind: 'case_overdue',
          messageKind: 'notification',
          from: b.from,
          fromName: INSTANCE_NAME,
          to: staffEmail(c.assignee),
          subject: `${tag(c)} Case overdue: ${c.subject}`,
          messageId: tokenMessageId(b.domain),
          text: `Case ${c.id} from ${c.customer_address} ("${c.subject}") is past its deadline ${c.deadline_at}.\n`,
          autoSubmitted: 'auto-generated',
          noticeKey: `case_overdue:${c.id}:${c.deadline_at}:${c.assignee}`,
        },
        at,
      );
      outboxes.push(m.outboxId);
    }
    change(c, 'daemon', { overdue_notified_at: at }, at);
    event(c, at, 'daemon', 'overdue_notice', null, null, c.assignee ?? null, { outbox: outboxes });
  }

  /** A customer's rating mail of the last reply (acceptRatingMail + recordRating). */
  function rate(c, score, comment, at) {
    const h = raw(at, 1500);
    const messageId = `<${c.customerSeq}.${Date.parse(at).toString(36)}.${hexOf(rnd, 8)}@mail.example.org>`;
    const r = c.lastReply;
    st.rating.run(c.id, r.outboxId, r.rowId, r.consultant, c.customer_address.toLowerCase(), score, comment, messageId, h, at);
    counts.ratings++;
    event(c, at, 'system', 'rating', 'rating', null, score, {
      rating: counts.ratings,
      outbox: r.outboxId,
      consultant: r.consultant,
      customer: c.customer_address.toLowerCase(),
      comment,
      message_id: messageId,
    });
    inboundRow(c, h, messageId, 'rating', null, at);
  }

  /** The case row as the history left it (written once, at the end of its life). */
  function finish(c) {
    st.caseFinal.run(c.status, c.assignee, c.first_response_at, c.closed_at, c.overdue_notified_at, c.updated_at, c.version, c.id);
  }

  function close() {
    for (const [mailbox, uid] of uids) st.mailboxState.run(mailbox, uid, iso(YEAR_END));
  }

  return {
    open,
    customerWrites,
    take,
    assign,
    reply,
    statusOnly,
    consult,
    consultOverdue,
    deptAnswer,
    withdraw,
    caseOverdue,
    rate,
    finish,
    close,
    counts,
    setStatus,
  };
}

/** A new case's state in memory, as the `cases` row starts. */
export function newCase(pool, received, customer) {
  const p = POOLS.find((x) => x.id === pool);
  return {
    id: null,
    pool_id: pool,
    mailbox_id: pool,
    subject: customer.subject,
    customer_address: customer.address,
    customer_name: customer.name,
    customerSeq: customer.seq,
    received_at: iso(received),
    deadline_at: iso(received + p.ms),
    deadlineMs: received + p.ms,
    status: 'received',
    assignee: null,
    first_response_at: null,
    closed_at: null,
    overdue_notified_at: null,
    updated_at: null,
    version: 0,
    thread: [],
    lastCustomerId: null,
    lastReply: null,
    waiting: [],
    lastClosing: null,
    consultedAt: null,
  };
}

// ---------------------------------------------------------------------------------------------
// The year: who does what when, for each case.

const SUBJECTS = [
  'My card was blocked',
  'Transfer not received',
  'Question about the loan schedule',
  'Cannot log in to the app',
  'Statement for March',
  'API key expired',
  'Change of address',
  'Card payment declined abroad',
  'Interest rate question',
  'Standing order failed',
];

function pick(rnd, weights) {
  let r = rnd() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i];
    if (r < 0) return i;
  }
  return weights.length - 1;
}

function between(rnd, a, b) {
  return a + rnd() * (b - a);
}

/**
 * Plans one case received at `received` and schedules its steps. Fractions (of all cases): 3%
 * still open at the year's end, ~15% consulted, ~70% closed on time, ~5% reopened by feedback,
 * ~20% rated.
 */
function planCase(w, steps, rnd, received, n) {
  const poolIndex = pick(
    rnd,
    POOLS.map((p) => p.weight),
  );
  const pool = POOLS[poolIndex];
  const seq = 1 + ((rnd() * 400_000) | 0);
  const c = newCase(pool.id, received, {
    address: `customer${seq}@example${seq % 50}.org`,
    name: `Customer ${seq}`,
    seq,
    subject: `${SUBJECTS[n % SUBJECTS.length]} (${n})`,
  });
  // Consultants of the pool (8 each: those whose first pool it is), now and then anyone.
  const own = CONSULTANTS.filter((_, i) => i % 5 === poolIndex);
  const consultant = rnd() < 0.9 ? own[(rnd() * own.length) | 0] : CONSULTANTS[(rnd() * 40) | 0];
  const D = pool.ms;
  const ingestDelay = 2000 + rnd() * 20_000;
  const at0 = received + ingestDelay;
  const stalled = rnd() < 0.025; // never finished (3% open at the end with the December tail)
  const onTime = rnd() < 0.86; // consulted and reopened cases are mostly late: ~70% of all closings on time
  const consulted = rnd() < 0.15;
  const closeAt = received + (onTime ? D * between(rnd, 0.15, 0.97) : D * between(rnd, 1.02, 2.5));
  const takeAt = received + (closeAt - received) * between(rnd, 0.03, 0.4);
  const status = rnd() < 0.8 ? 'solved' : 'closed';

  const s = []; // [ms, fn]
  s.push([at0, (at) => w.open(c, at)]);
  const extra = rnd() < 0.3 ? (rnd() < 0.3 ? 2 : 1) : 0;
  for (let i = 0; i < extra; i++) s.push([received + (closeAt - received) * between(rnd, 0.02, 0.9), (at) => w.customerWrites(c, at)]);

  let t = takeAt;
  s.push([t, (at) => w.take(c, consultant, at)]);
  let consultation = null;
  if (consulted) {
    const dept = DEPARTMENTS[rnd() < 0.6 ? 0 : 1];
    const k0 = t + between(rnd, 5, 60) * MIN;
    const r = rnd();
    const answerIn = r < 0.82 ? between(rnd, 0.1, 0.95) : r < 0.95 ? between(rnd, 1.05, 2) : null; // null: never
    s.push([k0, (at) => (consultation = w.consult(c, consultant, dept.id, at))]);
    const due = k0 + dept.ms;
    if (answerIn === null || answerIn > 1) s.push([due + between(rnd, 10, 70) * 1000, (at) => w.consultOverdue(c, consultation, at)]);
    if (answerIn !== null) {
      t = k0 + dept.ms * answerIn;
      s.push([t, (at) => w.deptAnswer(c, consultation, at)]);
    } else {
      t = due + between(rnd, 1, 8) * HOUR;
      if (!stalled) s.push([t, (at) => w.withdraw(c, consultant, consultation, at)]);
    }
  }
  let end = Math.max(closeAt, t + between(rnd, 10, 120) * MIN);
  if (stalled) {
    // Taken, perhaps answered once, then left: still in progress (or waiting for a department).
    if (!consulted && rnd() < 0.5) s.push([t + (end - t) * 0.5, (at) => w.reply(c, consultant, at)]);
    end = t;
  } else if (rnd() < 0.6) {
    s.push([end, (at) => w.reply(c, consultant, at, status)]);
  } else {
    const first = t + (end - t) * between(rnd, 0.2, 0.9);
    s.push([first, (at) => w.reply(c, consultant, at)]);
    if (rnd() < 0.6) s.push([end, (at) => w.reply(c, consultant, at, status)]);
    else s.push([end, (at) => w.statusOnly(c, consultant, at, status)]);
  }
  // The scheduler's overdue notice, when the deadline passes before the case is closed.
  if (c.deadlineMs < end || stalled)
    s.push([c.deadlineMs + between(rnd, 5, 65) * 1000, (at) => c.overdue_notified_at === null && !CLOSING.has(c.status) && w.caseOverdue(c, at)]);
  if (!stalled) {
    if (rnd() < 0.2) {
      const sr = rnd();
      const score = sr < 0.6 ? 'good' : sr < 0.85 ? 'okay' : 'bad';
      s.push([end + between(rnd, 5 * MIN, 3 * DAY), (at) => w.rate(c, score, rnd() < 0.2 ? 'Thanks!' : '', at)]);
    }
    if (rnd() < 0.05) {
      const fb = end + between(rnd, HOUR, 5 * DAY);
      s.push([fb, (at) => w.customerWrites(c, at)]);
      // A reopened case past its deadline gets its overdue notice then (if it had none).
      s.push([
        fb + between(rnd, 5, 65) * 1000,
        (at) => c.overdue_notified_at === null && c.deadlineMs < Date.parse(at) && !CLOSING.has(c.status) && w.caseOverdue(c, at),
      ]);
      const again = fb + between(rnd, 30 * MIN, DAY);
      if (rnd() < 0.4) {
        const other = own.find((x) => x !== consultant) ?? CONSULTANTS[0];
        s.push([again - 10 * MIN, (at) => w.assign(c, SUPERVISORS[poolIndex % 3], other, at)]);
        s.push([again, (at) => w.reply(c, other, at, status)]);
      } else {
        s.push([again, (at) => w.reply(c, consultant, at, status)]);
      }
    }
  }
  s.sort((a, b) => a[0] - b[0]);
  // The steps of one case run in order; the last one writes the case row's final state.
  let i = 0;
  const next = () => {
    if (i >= s.length || s[i][0] >= YEAR_END) {
      w.finish(c);
      return;
    }
    const [ms, fn] = s[i++];
    steps.push(ms, () => {
      fn(iso(ms));
      next();
    });
  };
  next();
}

/**
 * Fills the database: `cases` cases received over 2026, in transactions of `batch` steps. The
 * caller opened it with the app's openDatabase (all migrations applied); generation relaxes
 * durability and foreign-key checks and puts them back at the end.
 */
export function generate(sqlite, { cases = 1_000_000, seed = 2026, batch = 500_000, onProgress } = {}) {
  const rnd = mulberry32(seed);
  sqlite.pragma('foreign_keys = OFF');
  sqlite.pragma('journal_mode = MEMORY');
  sqlite.pragma('synchronous = OFF');
  sqlite.pragma('cache_size = -1000000');
  sqlite.pragma('temp_store = MEMORY');
  // Bulk load: the migrations' own indexes are dropped and built again, with the very SQL they
  // were made with, once the rows are in (a sort per index instead of a B-tree insert per row).
  const indexes = sqlite.prepare(`select name, sql from sqlite_master where type = 'index' and sql is not null`).all();
  for (const ix of indexes) sqlite.exec(`drop index "${ix.name}"`);
  const w = makeWriter(sqlite, seed);
  const when = arrivals(cases, rnd);
  const steps = new Steps();
  let n = 0;
  let done = 0;
  const run = sqlite.transaction((until) => {
    let k = 0;
    while (k < batch) {
      while (steps.size > 0 && steps.peek() <= (n < cases ? when[n] : Infinity)) {
        steps.pop()();
        k++;
      }
      if (n < cases) {
        planCase(w, steps, rnd, when[n], n + 1);
        n++;
        k++;
      } else if (steps.size === 0) break;
      if (k >= until) break;
    }
  });
  while (n < cases || steps.size > 0) {
    run(batch);
    if (onProgress && n - done >= cases / 10) {
      done = n;
      onProgress(n, w.counts);
    }
  }
  sqlite.transaction(() => w.close())();
  const t0 = Date.now();
  for (const ix of indexes) sqlite.exec(ix.sql);
  onProgress?.(n, w.counts, `indexes rebuilt in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  return w.counts;
}
