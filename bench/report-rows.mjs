// bench/report-rows: the rows of the history, one function per thing the application writes:
// changeCase's one `change` row per changed field, setStatus's closing fields, the report rows of
// migration 017 (src/db/report-rows.ts), insertMessage, queueMail's messages and outbox rows (as
// the drainer leaves them once sent), ingest's raw_messages and inbound rows. Why apart from the
// domain actions (bench/report-actions.mjs): these are the shapes; the actions only sequence them.
import { boxAddress, CLOSING, hexOf, INSTANCE_NAME, iso, mulberry32, staffEmail, staffName } from './report-desk.mjs';

export function makeRows(sqlite, seed = 1) {
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

  return {
    st,
    ids,
    uids,
    counts,
    rnd,
    sha,
    ourMessageId,
    tokenMessageId,
    event,
    change,
    setStatus,
    firstResponse,
    raw,
    inboundRow,
    messageIn,
    mail,
    box,
    tag,
    notifyConsultant,
  };
}
